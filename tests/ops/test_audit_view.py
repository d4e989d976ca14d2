"""The audit page names people and records, links them, and shows what changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User
from kosh.core.models import AuditEvent
from kosh.ops import audit_view
from tests.support.fixtures import LoggedIn, MakeUser
from tests.support.stock import a_part

Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]


def event(**fields: object) -> AuditEvent:
    defaults: dict[str, object] = {
        "at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        "actor_type": "user",
        "actor_id": 2,
        "actor_name": "kim",
        "action": "part.update",
        "entity_type": "part",
        "entity_id": "7",
        "before": None,
        "after": None,
        "request_id": "abcdef0123456789",
    }
    return AuditEvent(**{**defaults, **fields})


def test_an_update_names_the_record_links_both_and_lists_the_changed_fields() -> None:
    row = audit_view.describe(
        event(
            before={"number": "R-1", "description": "old", "active": True, "version": 1},
            after={"number": "R-1", "description": "new", "active": False, "version": 2},
        )
    )

    assert row.actor == "kim"
    assert row.actor_href == "/admin/users/2"
    assert row.entity == "part R-1"
    assert row.entity_href == "/parts/7"
    assert row.action == "part.update"
    assert row.request_id == "abcdef012345"
    assert [(c.name, c.before, c.after) for c in row.changes] == [
        ("description", "old", "new"),
        ("active", "yes", "no"),
    ]


def test_system_actors_tokens_unknown_types_and_deletions() -> None:
    system = audit_view.describe(event(actor_type="system", actor_id=None, actor_name="demo-data"))
    token = audit_view.describe(event(actor_type="token"))
    store = audit_view.describe(
        event(entity_type="storefront_store", entity_id="1", after={"name": "Shop", "x": None})
    )
    deleted = audit_view.describe(event(before={"code": "B-1", "secret": "s"}, after=None))

    assert system.actor_href is None
    assert token.actor == "kim (API token)"
    assert store.entity == "storefront store Shop"
    assert store.entity_href is None
    assert deleted.entity == "part B-1"
    assert deleted.entity_href is None  # nothing left to open
    assert [(c.name, c.before, c.after) for c in deleted.changes] == [("code", "B-1", "—")]


def test_long_values_are_cut() -> None:
    changes = audit_view.changes({"notes": "x" * 500}, {"notes": "y"})

    assert len(changes[0].before) == audit_view.MAX_SHOWN
    assert changes[0].before.endswith("…")


async def test_the_page_shows_names_links_and_changes(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given a part changed through the API by an admin
    admin = await make_user("admin", username="boss")
    part = await a_part(session, "AU-1", description="before")
    who = await login(client, admin)
    changed = await client.patch(
        f"/api/v1/parts/{part.id}",
        json={"version": part.version, "description": "after"},
        headers=who.headers,
    )
    assert changed.status_code == 200, changed.text

    # when the audit page is shown
    html = (await client.get("/admin/audit", headers={"accept": "text/html"})).text

    # then the change names the person and the part, links them, and shows before/after
    assert f'<a href="/admin/users/{admin.id}">boss</a>' in html
    assert f'<a href="/parts/{part.id}">part AU-1</a>' in html
    assert '<td class="before">before</td><td class="after">after</td>' in html


async def test_the_health_page_shows_each_check_for_admins_only(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    # given an admin
    await login(client, await make_user("admin"))

    # when the health page is shown
    response = await client.get("/admin/health", headers={"accept": "text/html"})

    # then every check of /health/detailed has a card with its verdict, in words
    assert response.status_code == 200, response.text[:300]
    assert 'data-check="database"' in response.text
    assert 'data-testid="health-status"' in response.text
    assert "Running for" in response.text


async def test_the_health_page_is_not_for_operators(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    await login(client, await make_user("operator"))

    response = await client.get("/admin/health", headers={"accept": "text/html"})

    assert response.status_code == 403


def test_durations_read_as_people_say_them() -> None:
    from kosh.ops.pages import _duration

    assert _duration(59) == "0 min"
    assert _duration(3 * 3600 + 120) == "3 h 2 min"
    assert _duration(2 * 86400 + 3600) == "2 d 1 h"


def test_only_records_audited_by_id_are_linked() -> None:
    by_name = audit_view.describe(event(entity_type="user", entity_id="admin"))
    document = audit_view.describe(event(entity_type="document", entity_id="TR-000001"))
    lot = audit_view.describe(event(entity_type="lot", entity_id="PCN 1/2"))

    assert by_name.entity_href is None
    assert document.entity == "document TR-000001"
    assert document.entity_href is None
    assert lot.entity_href == "/pcns/PCN%201%2F2"
