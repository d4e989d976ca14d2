"""Two-factor login (TOTP) with the real clock: enrolment, the ±1 step window, no replay,
single-use recovery codes, the login's second step, enforcement for admins, tokens untouched."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.auth import service as auth_service
from kosh.auth import sessions as session_service
from kosh.auth import twofactor
from kosh.auth.models import AuthChallenge, RecoveryCode, TwoFactor, User, UserSession
from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.core.errors import AuthenticationError, ConflictError
from kosh.core.models import AuditEvent
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.platform import app_client

STEP = twofactor.STEP_SECONDS


async def away_from_step_edge() -> None:
    """Codes are made for 'now ± n steps': start well inside a step so the server's clock
    is in the same one when it checks (the test takes far less than the margin)."""
    into = time.time() % STEP
    if into > STEP - 4:
        await asyncio.sleep(STEP - into + 0.2)


def code_at(secret: str, offset_steps: int) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset_steps * STEP)


async def enrolled(sessions: async_sessionmaker[AsyncSession], user: User) -> tuple[str, list[str]]:
    """Enrol `user` through the service (first code: the previous step's), then forget the
    step it spent, so each test chooses its own codes; returns the secret and recovery codes."""
    async with sessions() as session:
        enrolment = await twofactor.begin_enrolment(session, user=user, issuer="KOSH")
    await away_from_step_edge()
    async with sessions() as session:
        codes = await twofactor.confirm_enrolment(
            session, user_id=user.id, code=code_at(enrolment.secret, -1)
        )
        row = await session.get(TwoFactor, user.id)
        assert row is not None
        row.last_step = None  # the enrolment's code spent step now-1; tests start afresh
        await session.commit()
    return enrolment.secret, codes


async def api_login(client: httpx.AsyncClient, user: User, code: str | None) -> httpx.Response:
    body: dict[str, str] = {"username": user.username, "password": PASSWORD}
    if code is not None:
        body["code"] = code
    client.cookies.clear()
    return await client.post("/api/v1/auth/login", json=body)


# --- enrolment -------------------------------------------------------------------------


async def test_enrolment_shows_an_otpauth_uri_and_needs_a_right_first_code(
    sessions: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    # given a user who starts the set-up
    user = await make_user("operator")
    async with sessions() as session:
        enrolment = await twofactor.begin_enrolment(session, user=user, issuer="KOSH")
    assert enrolment.uri.startswith("otpauth://totp/KOSH:")
    assert f"secret={enrolment.secret}" in enrolment.uri

    # when the first code is wrong, then two-factor login stays off
    async with sessions() as session:
        with pytest.raises(AuthenticationError) as wrong:
            await twofactor.confirm_enrolment(session, user_id=user.id, code="000000")
        assert wrong.value.code == "invalid_two_factor_code"
        assert not await twofactor.is_enrolled(session, user.id)

    # when it is right, then it is on with ten recovery codes kept only as hashes
    await away_from_step_edge()
    async with sessions() as session:
        codes = await twofactor.confirm_enrolment(
            session, user_id=user.id, code=code_at(enrolment.secret, 0)
        )
        assert len(codes) == 10
        assert len(set(codes)) == 10
        assert await twofactor.is_enrolled(session, user.id)
        stored = list(await session.scalars(select(RecoveryCode.code_hash)))
        assert len(stored) == 10
        assert not set(codes) & set(stored)
        actions = list(await session.scalars(select(AuditEvent.action)))
        assert "auth.2fa_enable" in actions

        # and setting it up again, or confirming twice, is refused
        with pytest.raises(ConflictError) as again:
            await twofactor.begin_enrolment(session, user=user, issuer="KOSH")
        assert again.value.code == "two_factor_enabled"
        with pytest.raises(ConflictError) as twice:
            await twofactor.confirm_enrolment(session, user_id=user.id, code="123456")
        assert twice.value.code == "two_factor_enabled"


async def test_confirm_without_a_started_set_up_is_refused(
    session: AsyncSession, make_user: MakeUser
) -> None:
    user = await make_user("operator")
    with pytest.raises(ConflictError) as exc:
        await twofactor.confirm_enrolment(session, user_id=user.id, code="123456")
    assert exc.value.code == "two_factor_not_started"


async def test_a_new_set_up_replaces_an_unconfirmed_secret(
    sessions: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    user = await make_user("operator")
    async with sessions() as session:
        first = await twofactor.begin_enrolment(session, user=user, issuer="KOSH")
        second = await twofactor.begin_enrolment(session, user=user, issuer="KOSH")
        assert first.secret != second.secret
        pending = await twofactor.pending_enrolment(session, user=user, issuer="KOSH")
        assert pending is not None
        assert pending.secret == second.secret


# --- the real clock window and replays ---------------------------------------------------


async def test_codes_of_now_and_one_step_either_side_pass_older_and_replays_do_not(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    # given an enrolled user
    user = await make_user("operator")
    secret, _ = await enrolled(sessions, user)
    await away_from_step_edge()

    # a code two steps old is refused, and so is a password without any code
    old = await api_login(client, user, code_at(secret, -2))
    assert old.status_code == 401
    assert old.json()["code"] == "invalid_two_factor_code"
    missing = await api_login(client, user, None)
    assert missing.status_code == 401
    assert missing.json()["code"] == "two_factor_required"

    # the previous step's code passes once; the same code again is a replay
    previous = code_at(secret, -1)
    assert (await api_login(client, user, previous)).status_code == 200
    replay = await api_login(client, user, previous)
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_two_factor_code"

    # now's code passes, then the next step's (a fast clock on the phone)
    assert (await api_login(client, user, code_at(secret, 0))).status_code == 200
    assert (await api_login(client, user, code_at(secret, 1))).status_code == 200
    # once the next step was spent, now's code is older than the last one used
    assert (await api_login(client, user, code_at(secret, 0))).status_code == 401
    # a code three steps ahead is refused too
    assert (await api_login(client, user, code_at(secret, 3))).status_code == 401

    # the sessions opened say how: password and a second factor
    async with sessions() as session:
        methods = set(await session.scalars(select(UserSession.method)))
    assert methods == {"totp"}


@pytest.mark.parametrize("code", ["12ab", "¹²³⁴⁵⁶", "\uff11\uff12\uff13\uff14\uff15\uff16"])
async def test_a_code_that_is_not_six_digits_or_a_recovery_code_is_422(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
    code: str,
) -> None:
    user = await make_user("operator")
    await enrolled(sessions, user)
    response = await api_login(client, user, code)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_recovery_codes_work_once_each(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    user = await make_user("operator")
    _, codes = await enrolled(sessions, user)

    assert (await api_login(client, user, codes[0].upper())).status_code == 200
    again = await api_login(client, user, codes[0])
    assert again.status_code == 401
    async with sessions() as session:
        assert await twofactor.recovery_codes_left(session, user.id) == 9


async def test_api_tokens_are_not_affected(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
    token_for,  # type: ignore[no-untyped-def]
) -> None:
    user = await make_user("admin")
    await enrolled(sessions, user)
    token = await token_for(user, ["read", "write", "admin"])
    response = await client.get("/api/v1/users", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200


# --- turning it off --------------------------------------------------------------------


async def test_disable_needs_a_good_code_and_an_admin_can_reset(
    settings: Settings,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
    admin_headers: dict[str, str],
) -> None:
    user = await make_user("operator")
    _, codes = await enrolled(sessions, user)
    async with sessions() as session:
        with pytest.raises(AuthenticationError):
            await twofactor.disable(session, user_id=user.id, code="000000")
        with pytest.raises(AuthenticationError):
            await twofactor.disable(session, user_id=user.id, code=None)
        await twofactor.disable(session, user_id=user.id, code=codes[1])
        assert not await twofactor.is_enrolled(session, user.id)
        assert await twofactor.recovery_codes_left(session, user.id) == 0
        await twofactor.disable(session, user_id=user.id, code=None)  # off already: no-op
    assert (await api_login(client, user, None)).status_code == 200

    # an admin resets a user who lost their device (the user's page offers it)
    await enrolled(sessions, user)
    admin = await make_user("admin")
    async with app_client(settings) as (_, browser):
        await api_login(browser, admin, None)
        page = await browser.get(f"/admin/users/{user.id}")
        assert f'data-api="/api/v1/users/{user.id}/two-factor/reset"' in page.text
    reset = await client.post(f"/api/v1/users/{user.id}/two-factor/reset", headers=admin_headers)
    assert reset.status_code == 204
    assert (await api_login(client, user, None)).status_code == 200
    async with sessions() as session:
        actions = list(await session.scalars(select(AuditEvent.action)))
    assert "auth.2fa_disable" in actions
    assert "auth.2fa_reset" in actions
    missing = await client.post("/api/v1/users/999999/two-factor/reset", headers=admin_headers)
    assert missing.status_code == 404


# --- the login page's second step ------------------------------------------------------


def _form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def page_password(client: httpx.AsyncClient, user: User) -> httpx.Response:
    client.cookies.clear()
    form = await client.get("/login")
    return await client.post(
        "/login",
        data={
            "username": user.username,
            "password": PASSWORD,
            "csrf_token": _form_token(form.text),
            "next": "/stock",
        },
    )


async def test_login_page_asks_for_the_code_after_the_password(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    # given an enrolled user who enters the right password
    user = await make_user("operator")
    secret, _ = await enrolled(sessions, user)
    asked = await page_password(client, user)

    # then no session yet: the code page
    assert asked.status_code == 200
    assert 'action="/login/code"' in asked.text
    assert "kosh_session" not in client.cookies
    token = _form_token(asked.text)

    # a wrong code stays on the code page and counts an attempt
    wrong = await client.post("/login/code", data={"code": "000000", "csrf_token": token})
    assert wrong.status_code == 401
    assert 'action="/login/code"' in wrong.text
    token = _form_token(wrong.text)
    badly = await client.post("/login/code", data={"code": "x", "csrf_token": token})
    assert badly.status_code == 422
    token = _form_token(badly.text)

    # the right code opens the session and goes where the login was asked to
    await away_from_step_edge()
    done = await client.post("/login/code", data={"code": code_at(secret, 0), "csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == "/stock"
    assert "kosh_session" in client.cookies
    assert (await client.get("/api/v1/auth/me")).status_code == 200

    # the challenge is spent: the same cookie cannot log in again
    async with sessions() as session:
        assert list(await session.scalars(select(AuthChallenge))) == []


async def test_code_page_gives_up_after_five_wrong_codes_and_needs_its_cookies(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    user = await make_user("operator")
    secret, _ = await enrolled(sessions, user)
    asked = await page_password(client, user)
    token = _form_token(asked.text)
    for _ in range(twofactor.CHALLENGE_ATTEMPTS):
        wrong = await client.post("/login/code", data={"code": "000000", "csrf_token": token})
        token = _form_token(wrong.text)
    await away_from_step_edge()
    late = await client.post("/login/code", data={"code": code_at(secret, 0), "csrf_token": token})
    assert late.status_code == 401
    assert 'action="/login"' in late.text  # back to the password
    assert "kosh_session" not in client.cookies

    client.cookies.clear()
    forged = await client.post("/login/code", data={"code": "123456", "csrf_token": "x"})
    assert forged.status_code == 403


async def test_password_login_for_admins_only(settings: Settings, make_user: MakeUser) -> None:
    operator = await make_user("operator")
    admin = await make_user("admin")
    async with app_client(settings, password_login="admins") as (_, client):
        refused = await api_login(client, operator, None)
        assert refused.status_code == 403
        assert refused.json()["code"] == "password_login_disabled"
        assert (await api_login(client, admin, None)).status_code == 200
        page = await page_password(client, operator)
        assert page.status_code == 403
        assert "single sign-on" in page.text


# --- enforcement for admins ------------------------------------------------------------


async def test_admins_without_two_factor_are_sent_to_enrol_when_it_is_required(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    admin = await make_user("admin")
    operator = await make_user("operator")
    async with app_client(settings, totp_required_for_admins=True) as (_, client):
        # an operator is not concerned
        assert (await api_login(client, operator, None)).status_code == 200
        assert (await client.get("/api/v1/parts")).status_code == 200

        # the admin's password session opens only the enrolment and the way out
        login = await api_login(client, admin, None)
        assert login.status_code == 200
        csrf = login.json()["csrf_token"]
        api = await client.get("/api/v1/users")
        assert api.status_code == 403
        assert api.json()["code"] == "two_factor_enrolment_required"
        page = await client.get("/", headers={"accept": "text/html"})
        assert page.status_code == 303
        assert page.headers["location"] == "/account/two-factor"
        shown = await client.get("/account/two-factor")
        assert "must" in shown.text or "need" in shown.text

        # enrolling through the pages opens everything
        setup = await client.post("/account/two-factor/setup", data={"csrf_token": csrf})
        assert setup.status_code == 200
        assert 'src="data:image/svg+xml' in setup.text
        secret = re.search(r'data-testid="two-factor-secret">([A-Z2-7]+)<', setup.text)
        assert secret
        wrong = await client.post(
            "/account/two-factor/confirm", data={"code": "000000", "csrf_token": csrf}
        )
        assert wrong.status_code == 401
        await away_from_step_edge()
        confirmed = await client.post(
            "/account/two-factor/confirm",
            data={"code": code_at(secret.group(1), 0), "csrf_token": csrf},
        )
        assert confirmed.status_code == 200
        assert confirmed.text.count("<li><code>") == 10
        assert (await client.get("/api/v1/users")).status_code == 200

        # and an admin cannot turn it off while it is required
        off = await client.post(
            "/account/two-factor/disable", data={"code": "000000", "csrf_token": csrf}
        )
        assert off.status_code == 409


async def test_account_pages_set_up_and_turn_off(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user("operator")
    csrf = (await api_login(client, user, None)).json()["csrf_token"]
    off = await client.get("/account/two-factor")
    assert "is <strong>off</strong>" in off.text
    setup = await client.post("/account/two-factor/setup", data={"csrf_token": csrf})
    secret = re.search(r'data-testid="two-factor-secret">([A-Z2-7]+)<', setup.text)
    assert secret
    await away_from_step_edge()
    await client.post(
        "/account/two-factor/confirm",
        data={"code": code_at(secret.group(1), -1), "csrf_token": csrf},
    )
    on = await client.get("/account/two-factor")
    assert "is <strong>on</strong>" in on.text
    again = await client.post("/account/two-factor/setup", data={"csrf_token": csrf})
    assert again.status_code == 409
    wrong = await client.post(
        "/account/two-factor/disable", data={"code": "000000", "csrf_token": csrf}
    )
    assert wrong.status_code == 401
    done = await client.post(
        "/account/two-factor/disable",
        data={"code": code_at(secret.group(1), 0), "csrf_token": csrf},
    )
    assert done.status_code == 303
    assert "is <strong>off</strong>" in (await client.get("/account/two-factor")).text


async def test_erasing_a_user_deletes_their_second_factor(
    sessions: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    await make_user("admin")
    user = await make_user("operator")
    await enrolled(sessions, user)
    async with sessions() as session:
        await auth_service.erase_personal_data(session, user.id)
        await session.commit()
        assert await session.get(TwoFactor, user.id) is None
        assert await twofactor.recovery_codes_left(session, user.id) == 0


async def test_retention_deletes_expired_login_challenges(
    sessions: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    user = await make_user("operator")
    async with sessions() as session:
        await twofactor.start_challenge(session, user_id=user.id, next_url="/")
        live = await twofactor.start_challenge(session, user_id=user.id, next_url="/")
        await session.execute(
            update(AuthChallenge)
            .where(AuthChallenge.token_hash != auth_service.digest(live))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
        removed = await session_service.delete_ended_sessions(
            session, now=utcnow(), idle=timedelta(hours=1)
        )
        assert removed == 1
        left = list(await session.scalars(select(AuthChallenge.token_hash)))
        assert left == [auth_service.digest(live)]


async def test_wrong_codes_hit_the_login_throttle(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    user = await make_user("operator")
    await enrolled(sessions, user)
    async with app_client(settings, login_rate_limit="3/minute") as (_, client):
        asked = await page_password(client, user)
        token = _form_token(asked.text)
        statuses = []
        for _ in range(4):
            answer = await client.post("/login/code", data={"code": "000000", "csrf_token": token})
            statuses.append(answer.status_code)
            token = _form_token(answer.text)
        assert statuses == [401, 401, 401, 429]
        assert "retry-after" in answer.headers
