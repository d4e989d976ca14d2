"""A scanner's pick with an Idempotency-Key writes its audit event and its answer in the
statement that takes the stock (PostgreSQL; SQLite takes the usual path). Whatever path it
took, the replay is the first answer byte for byte, the audit event is the one the full
path writes, and a refusal after the take (over-kit) leaves neither behind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.models import AuditEvent, IdempotencyKey
from kosh.stock import pick_answer
from tests.production.test_jobs import a_job, a_plant
from tests.production.test_kitting import line_ids
from tests.stock.test_fast_paths import counted
from tests.stock.test_floor_pick import _picks_in_ledger
from tests.support.stock import Site, a_part, a_site, balances, stock_in

Headers = dict[str, str]


@pytest.fixture
async def site(session: AsyncSession) -> Site:
    return await a_site(session, bins=2)


def _written_ahead(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "kosh_idempotency_answers_written_ahead_total", {"outcome": outcome}
        )
        or 0.0
    )


async def _pick_events(session: AsyncSession) -> list[AuditEvent]:
    await session.rollback()
    found = await session.scalars(
        select(AuditEvent).where(AuditEvent.action == "stock.pick").order_by(AuditEvent.id)
    )
    return list(found)


async def _warm_up(client: httpx.AsyncClient, headers: Headers, body: dict[str, Any]) -> None:
    """A first pick, so this process knows the part and the next one is a scanner's."""
    first = await client.post("/api/v1/stock/pick", json={**body, "qty": 1}, headers=headers)
    assert first.status_code == 200, first.text


@pytest.mark.parametrize(
    ("number", "reference", "known"),
    [
        ("RES-AHEAD", "JOB-1", True),
        ('R "10k" \\ ü', ' JOB "7" \\ ✓ 東京 😀 / \u2028 end ', True),
        ('R "10k" \\ ü', ' JOB "7" \\ ✓ 東京 😀 / \u2028 end ', False),
    ],
)
async def test_the_pick_answers_from_its_statement_and_replays_that_answer(
    app: Any,
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
    number: str,
    reference: str,
    known: bool,
) -> None:
    # given a part (its number and the reference with quotes, backslashes, tabs, non-ASCII)
    # that this process has picked before (its pick is then one statement on its own) or not
    part_id = (await a_part(session, number)).id
    lot = await stock_in(session, number, site.bin_ids[0], 20)
    pcn = lot.pcn
    body = {"part_number": number, "qty": 3, "warehouse_id": site.warehouse_id}
    body["reference"] = reference
    picked_before = 0
    if known:
        await _warm_up(client, operator_headers, body)
        picked_before = 1
    kept_before = _written_ahead("kept")

    # when a scanner picks 3 with a key, and sends it again
    headers = {**operator_headers, "idempotency-key": f"ahead-{len(number)}"}
    with counted(app.state.engine) as seen:
        first = await client.post("/api/v1/stock/pick", json=body, headers=headers)
    again = await client.post("/api/v1/stock/pick", json=body, headers=headers)

    # then the replay is the first answer, and the answer is the pick's
    assert first.status_code == 200, first.text
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert first.json()["reference"] == reference.strip()
    assert first.json()["part_number"] == number
    assert [line["qty"] for line in first.json()["lines"]] == [3]
    left = 17 - picked_before
    assert await balances(session, lot.id) == {site.bin_ids[0]: left, site.floor_id: 20 - left}
    # and its audit event is the full path's, with who and which request
    *_, event = await _pick_events(session)
    assert (event.entity_type, event.entity_id) == ("part", str(part_id))
    assert (event.actor_name, event.request_id) == ("operator1", first.headers["x-request-id"])
    assert event.after == {
        "part_number": number,
        "qty": 3,
        "warehouse_id": site.warehouse_id,
        "reference": reference.strip(),
        "lines": [{"pcn": pcn, "qty": 3, "from_location_id": site.bin_ids[0]}],
    }
    if session.get_bind().dialect.name == "postgresql":
        # the answer was the route's own, and nothing was sent between the take and COMMIT:
        # a known part's pick is the statement alone (the key, the take, the event, the
        # answer; committed as it ended), another's the claim and then that statement
        committed = seen.writing("stock_transactions")
        alone = seen.writing_uncommitted("stock_transactions")
        [pick] = alone if known else committed
        assert (len(committed), len(alone)) == ((0, 1) if known else (1, 0))
        own = [s for s in pick if "FROM api_tokens" not in s]
        if known:
            [take] = own
            assert take.startswith("WITH")
            assert "INSERT INTO idempotency_keys" in take
        else:  # (and the probes of what it noted, asked after: the part was not known)
            assert [s.split(" ")[0] for s in own] == ["INSERT", "WITH", "SELECT"]
            take = own[1]
            assert "UPDATE idempotency_keys" in take
            assert "AS probe_0" in own[2]
        assert "INSERT INTO audit_events" in take
        assert _written_ahead("kept") == kept_before + 1


async def test_an_answer_the_route_did_not_send_is_rewritten_with_the_one_it_did(
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a statement whose idea of the answer is not what the route sends
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 20)
    body = {"part_number": site.part_number, "qty": 2, "warehouse_id": site.warehouse_id}
    body["reference"] = "JOB-2"
    await _warm_up(client, operator_headers, body)
    monkeypatch.setattr(pick_answer, "HEADERS", [["content-type", "text/plain"]])
    rewritten_before = _written_ahead("rewritten")

    # when the scanner picks with a key, and sends it again
    headers = {**operator_headers, "idempotency-key": "ahead-mismatch"}
    first = await client.post("/api/v1/stock/pick", json=body, headers=headers)
    again = await client.post("/api/v1/stock/pick", json=body, headers=headers)

    # then the key keeps what the caller got, and the stock moved once
    assert first.status_code == 200, first.text
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["content-type"] == "application/json"
    await session.rollback()
    row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "ahead-mismatch"))
    assert row is not None
    assert row.response_headers == [["content-type", "application/json"]]
    assert await balances(session, lot.id) == {site.bin_ids[0]: 17, site.floor_id: 3}
    assert len(await _pick_events(session)) == 2
    if session.get_bind().dialect.name == "postgresql":
        assert _written_ahead("rewritten") == rewritten_before + 1


async def test_a_pick_refused_after_its_take_leaves_no_answer_event_or_movement(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession
) -> None:
    # given a job that has all the resistors it needs, and a process that knows the part
    plant = await a_plant(session, cap_stock=10)
    job_id = await a_job(session, plant, "J-AHEAD", 25)
    resistors, _ = await line_ids(session, job_id)
    kit = await client.post(
        f"/api/v1/jobs/{job_id}/lines/{resistors}/kit", json={}, headers=operator_headers
    )
    assert kit.status_code == 200, kit.text
    body = {"part_number": "RES-10K", "qty": 1, "warehouse_id": plant.warehouse_id}
    await _warm_up(client, operator_headers, {**body, "reference": "OTHER", "qty": 1})
    events_before = len(await _pick_events(session))  # a fresh snapshot
    picks_before = await _picks_in_ledger(session)

    # when a scanner picks one more for the job with a key, and sends it again
    headers = {**operator_headers, "idempotency-key": "ahead-over-kit"}
    over = {**body, "reference": "J-AHEAD"}
    first = await client.post("/api/v1/stock/pick", json=over, headers=headers)
    again = await client.post("/api/v1/stock/pick", json=over, headers=headers)

    # then production refused it after the take, and the refusal is the key's answer
    assert (first.status_code, first.json()["code"]) == (409, "over_kit"), first.text
    assert (again.status_code, again.content) == (409, first.content)
    assert len(await _pick_events(session)) == events_before
    assert await _picks_in_ledger(session) == picks_before
