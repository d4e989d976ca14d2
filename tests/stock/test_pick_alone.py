"""A scanner's pick with an Idempotency-Key, of a part this process knows, is one statement
that commits on its own (PostgreSQL): it claims the key, takes the stock, writes the audit
event and inserts the key with its answer. Whenever it cannot be that alone (the key is
someone's, committed, in flight, committed in between, or expired; a subscriber would
act; the part was renumbered; its connection died), nothing of it stays and the use
case's transaction answers as it always has: one movement per key, never two."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kosh.alerts.models import Alert
from kosh.catalog.models import Part
from kosh.core.claims import lock_key
from kosh.core.db import utcnow
from kosh.core.idempotency import caller_scope
from kosh.core.models import AuditEvent, IdempotencyKey
from kosh.stock import api as stock_api
from kosh.stock import pick_answer
from kosh.stock.models import Lot, StockTransaction
from tests.stock.test_fast_paths import counted
from tests.support.platform import client_for, reusable_app
from tests.support.stock import Site, a_part, a_site, balances, stock_in

Headers = dict[str, str]
PICK = "/api/v1/stock/pick"

pytestmark = pytest.mark.usefixtures("postgres_only")


@pytest.fixture
def postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a statement committing on its own is PostgreSQL's (SQLite takes the path)")


@pytest.fixture
async def site(session: AsyncSession) -> Site:
    return await a_site(session, bins=2)


@pytest.fixture
async def lot_id(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession, site: Site
) -> int:
    """50 of the site's part on its first bin, one of them picked already: this process
    knows the part."""
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 50)
    warm = await client.post(PICK, json=_pick(site, 1), headers=operator_headers)
    assert warm.status_code == 200, warm.text
    return lot.id


def _pick(site: Site, qty: int, reference: str = "JOB-ALONE") -> dict[str, Any]:
    return {
        "part_number": site.part_number,
        "qty": qty,
        "warehouse_id": site.warehouse_id,
        "reference": reference,
    }


def _picks(path: str) -> float:
    return REGISTRY.get_sample_value("kosh_stock_picks_total", {"path": path}) or 0.0


async def _picks_in_ledger(session: AsyncSession) -> int:
    await session.rollback()
    count = await session.scalar(
        select(func.count()).select_from(StockTransaction).where(StockTransaction.kind == "pick")
    )
    return int(count or 0)


async def _pick_events(session: AsyncSession) -> int:
    await session.rollback()
    count = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "stock.pick")
    )
    return int(count or 0)


def _key_row(headers: Headers, key: str, body: bytes, **values: Any) -> dict[str, Any]:
    """The row the middleware would keep for `body` sent to PICK with `key`."""
    owner = caller_scope(
        {"type": "http", "headers": [(b"authorization", headers["authorization"].encode())]}
    )
    fingerprint = hashlib.sha256(b"\0".join([b"POST", PICK.encode(), b"", body])).hexdigest()
    now = utcnow()
    row = {"scope": owner, "key": key, "request_hash": fingerprint, "created_at": now}
    return row | {"expires_at": now + timedelta(hours=1)} | values


async def _waiting_on_a_lock(engine: AsyncEngine, count: int = 1) -> None:
    """Until `count` backends of this database wait for a lock (10 s at most)."""
    for _ in range(200):
        async with engine.connect() as probe:
            waiting = await probe.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no statement waited for the lock")


async def test_a_known_parts_pick_is_one_statement_that_commits_and_replays(
    app: Any,
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
    lot_id: int,
) -> None:
    alone_before = _picks("alone")
    headers = {**operator_headers, "idempotency-key": "alone-1"}

    # when a scanner picks 4 of the known part with a key, and sends it again
    with counted(app.state.engine) as seen:
        first = await client.post(PICK, json=_pick(site, 4), headers=headers)
    again = await client.post(PICK, json=_pick(site, 4), headers=headers)

    # then one statement, no transaction: the token read, then the pick that committed
    assert first.status_code == 200, first.text
    assert seen.writing("stock_transactions") == []
    [statements] = seen.writing_uncommitted("stock_transactions")
    assert [s.split(" ")[0] for s in statements] == ["SELECT", "WITH"]
    assert "FROM api_tokens" in statements[0]
    assert "INSERT INTO idempotency_keys" in statements[1]
    assert _picks("alone") == alone_before + 1
    # and the replay is that answer, the stock moved once, with its event
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert await balances(session, lot_id) == {site.bin_ids[0]: 45, site.floor_id: 5}
    assert (await _picks_in_ledger(session), await _pick_events(session)) == (2, 2)
    row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "alone-1"))
    assert row is not None
    assert (row.state, row.response_status) == ("done", 200)
    assert json.loads(row.response_body or b"") == first.json()


async def test_a_duplicate_committed_after_the_statements_snapshot_is_the_answer(
    app: Any,
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    engine: AsyncEngine,
    site: Site,
    lot_id: int,
) -> None:
    # given another transaction that has inserted the key with its answer, not committed
    body = json.dumps(_pick(site, 3)).encode()
    theirs = b'{"picked":"by the other request"}'
    row = _key_row(
        operator_headers,
        "alone-race",
        body,
        state="done",
        response_status=200,
        response_headers=[["content-type", "application/json"]],
        response_body=theirs,
    )
    transaction_before = _picks("transaction")
    async with engine.connect() as other:
        await other.execute(insert(IdempotencyKey), row)

        # when the scanner's pick with that key runs (its snapshot cannot see the row, its
        # insert of the key waits on the unique index), and then the other one commits
        headers = {**operator_headers, "idempotency-key": "alone-race"}
        headers["content-type"] = "application/json"
        sent = asyncio.create_task(client.post(PICK, content=body, headers=headers))
        await _waiting_on_a_lock(engine)
        await other.commit()
        answer = await sent

    # then the pick's statement failed whole, and the other's answer is the answer
    assert (answer.status_code, answer.content) == (200, theirs), answer.text
    assert answer.headers["idempotent-replayed"] == "true"
    assert _picks("transaction") == transaction_before + 1
    assert await balances(session, lot_id) == {site.bin_ids[0]: 49, site.floor_id: 1}
    assert (await _picks_in_ledger(session), await _pick_events(session)) == (1, 1)


async def test_a_key_in_flight_is_409_and_moves_nothing_until_it_ends(
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    engine: AsyncEngine,
    site: Site,
    lot_id: int,
) -> None:
    # given a request holding the key in its transaction (its advisory lock)
    body = json.dumps(_pick(site, 2)).encode()
    owner = _key_row(operator_headers, "alone-held", body)["scope"]
    held = lock_key(owner, "alone-held")
    headers = {**operator_headers, "idempotency-key": "alone-held"}
    headers["content-type"] = "application/json"
    async with engine.connect() as other:
        await other.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": held})

        # when the scanner sends the pick with that key
        busy = await client.post(PICK, content=body, headers=headers)
        await other.rollback()
    after = await client.post(PICK, content=body, headers=headers)

    # then it is 409 in progress with nothing moved, and runs once the key is free
    assert (busy.status_code, busy.json()["code"]) == (409, "idempotency_in_progress")
    assert after.status_code == 200, after.text
    assert await balances(session, lot_id) == {site.bin_ids[0]: 47, site.floor_id: 3}
    assert await _picks_in_ledger(session) == 2


async def test_an_expired_key_is_used_again(
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
    lot_id: int,
) -> None:
    # given the key's answer from long ago, expired
    body = json.dumps(_pick(site, 2)).encode()
    old = _key_row(
        operator_headers,
        "alone-expired",
        body,
        state="done",
        response_status=200,
        response_headers=[["content-type", "application/json"]],
        response_body=b'{"old":true}',
        expires_at=utcnow() - timedelta(minutes=1),
    )
    await session.execute(insert(IdempotencyKey), old)
    await session.commit()

    # when the scanner sends a pick with that key
    headers = {**operator_headers, "idempotency-key": "alone-expired"}
    headers["content-type"] = "application/json"
    answer = await client.post(PICK, content=body, headers=headers)

    # then it is a new pick, not the old answer
    assert answer.status_code == 200, answer.text
    assert "idempotent-replayed" not in answer.headers
    assert answer.json()["qty"] == 2
    assert await balances(session, lot_id) == {site.bin_ids[0]: 47, site.floor_id: 3}


async def _low_stock_alerts(session: AsyncSession, part_id: int) -> list[str]:
    await session.rollback()
    states = await session.scalars(
        select(Alert.state).where(Alert.part_id == part_id, Alert.kind == "low_stock")
    )
    return list(states)


async def test_a_pick_a_subscriber_acts_on_takes_the_transaction(
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
    lot_id: int,
) -> None:
    # given the known part with a reorder point of 10 and 49 in stock
    await session.execute(update(Part).where(Part.id == site.part_id).values(reorder_point=10))
    await session.commit()
    transaction_before = _picks("transaction")

    # when a scanner picks 40 with a key
    headers = {**operator_headers, "idempotency-key": "alone-alert"}
    answer = await client.post(PICK, json=_pick(site, 40), headers=headers)

    # then the alerts' subscriber ran in the pick's transaction: the alert is open
    assert answer.status_code == 200, answer.text
    assert _picks("transaction") == transaction_before + 1
    assert await _low_stock_alerts(session, site.part_id) == ["open"]


async def test_a_renumbered_part_is_not_picked_alone_on_the_old_parts_answers(
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
    lot_id: int,
) -> None:
    # given the known part renumbered, and its number given to another part at its
    # reorder point (the process still has the number as the first part's)
    other = await a_part(session)
    await stock_in(session, other.number, site.bin_ids[1], 12)
    number = site.part_number
    await session.execute(update(Part).where(Part.id == site.part_id).values(number="RENUMBERED"))
    await session.execute(
        update(Part).where(Part.id == other.id).values(number=number, reorder_point=10)
    )
    await session.commit()

    # when a scanner picks 3 by that number with a key
    headers = {**operator_headers, "idempotency-key": "alone-renumbered"}
    answer = await client.post(PICK, json=_pick(site, 3), headers=headers)

    # then the other part was picked, and its alert raised
    assert answer.status_code == 200, answer.text
    assert answer.json()["part_id"] == other.id
    assert await _low_stock_alerts(session, other.id) == ["open"]


async def test_a_pick_whose_route_failed_after_its_commit_is_replayed_not_run_again(
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
    lot_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a route that fails after the pick committed (its answer cannot be built)
    def broken(**_: Any) -> Any:
        raise RuntimeError("the answer could not be built")

    monkeypatch.setattr(stock_api, "PickResult", broken)
    headers = {**operator_headers, "idempotency-key": "alone-broken"}
    failed = await client.post(PICK, json=_pick(site, 5), headers=headers)
    monkeypatch.undo()

    # when the scanner sends it again
    again = await client.post(PICK, json=_pick(site, 5), headers=headers)

    # then the first got a 500, the retry the pick's own answer, and the stock moved once
    assert failed.status_code == 500
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["qty"] == 5
    assert await balances(session, lot_id) == {site.bin_ids[0]: 44, site.floor_id: 6}
    assert await _picks_in_ledger(session) == 2


async def test_a_connection_killed_in_the_statement_picks_once_on_a_fresh_one(
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    engine: AsyncEngine,
    site: Site,
    lot_id: int,
) -> None:
    # given the lot locked by another transaction, so the pick's statement will wait
    headers = {**operator_headers, "idempotency-key": "alone-killed"}
    async with engine.connect() as other:
        await other.execute(select(Lot.id).where(Lot.id == lot_id).with_for_update())

        # when the pick's connection is killed while its statement waits, then the lot freed
        sent = asyncio.create_task(client.post(PICK, json=_pick(site, 2), headers=headers))
        await _waiting_on_a_lock(engine)
        async with engine.connect() as killer:
            await killer.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        await _waiting_on_a_lock(engine)  # the use case's transaction, on a fresh connection
        await other.rollback()
        answer = await sent

    # then the pick is answered, moved once
    assert answer.status_code == 200, answer.text
    assert await balances(session, lot_id) == {site.bin_ids[0]: 47, site.floor_id: 3}
    assert (await _picks_in_ledger(session), await _pick_events(session)) == (2, 2)


async def test_concurrent_picks_and_duplicates_of_one_lot_lose_nothing(
    app: Any, operator_headers: Headers, session: AsyncSession, site: Site, lot_id: int
) -> None:
    # given 49 units; 30 scanners pick 1 each with their own key, and 6 press twice
    keys = [f"alone-many-{n}" for n in range(30)] + [f"alone-many-{n}" for n in range(6)]
    clients = [client_for(app) for _ in keys]
    try:
        answers = await asyncio.gather(
            *(
                c.post(
                    PICK, json=_pick(site, 1), headers={**operator_headers, "idempotency-key": k}
                )
                for c, k in zip(clients, keys, strict=True)
            )
        )
    finally:
        for c in clients:
            await c.aclose()

    # then each key moved one unit once: of a key pressed twice, one is answered and the
    # other replays that answer or is 409 while it is in flight
    assert all(a.status_code in (200, 409) for a in answers)
    by_key: dict[str, list[httpx.Response]] = {}
    for key, answer in zip(keys, answers, strict=True):
        by_key.setdefault(key, []).append(answer)
    for pressed in by_key.values():
        done = {a.content for a in pressed if a.status_code == 200}
        assert len(done) == 1
    assert await _picks_in_ledger(session) == 31
    assert await balances(session, lot_id) == {site.bin_ids[0]: 19, site.floor_id: 31}


async def test_a_pick_that_waits_too_long_for_its_lot_is_503_and_can_be_sent_again(
    settings: Any, operator_headers: Headers, session: AsyncSession, engine: AsyncEngine
) -> None:
    # given a server that waits 300 ms for a lock, a part it knows, and its lot locked
    settings.db_lock_timeout_ms = 300
    site = await a_site(session, bins=1)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    async with reusable_app(settings) as app, client_for(app) as client:
        warm = await client.post(PICK, json=_pick(site, 1), headers=operator_headers)
        assert warm.status_code == 200, warm.text
        headers = {**operator_headers, "idempotency-key": "alone-busy"}
        async with engine.connect() as other:
            await other.execute(select(Lot.id).where(Lot.id == lot.id).with_for_update())

            # when a scanner picks while the lot stays locked, and again once it is free
            busy = await client.post(PICK, json=_pick(site, 2), headers=headers)
            await other.rollback()
        again = await client.post(PICK, json=_pick(site, 2), headers=headers)

    # then the first is 503 with nothing moved or kept, the second the pick
    assert busy.status_code == 503, busy.text
    assert again.status_code == 200, again.text
    assert "idempotent-replayed" not in again.headers
    assert await balances(session, lot.id) == {site.bin_ids[0]: 7, site.floor_id: 3}


async def test_picks_of_one_part_wait_their_turn_in_arrival_order(
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    engine: AsyncEngine,
    site: Site,
    lot_id: int,
) -> None:
    # given the part's queue held (as a pick in progress holds it)
    async with engine.connect() as other:
        await other.execute(
            text("SELECT pg_advisory_xact_lock(:queue, :part)"),
            {"queue": pick_answer.PART_QUEUE, "part": site.part_id},
        )

        # when three scanners pick one after the other meanwhile
        sent = []
        for n in range(3):
            headers = {**operator_headers, "idempotency-key": f"alone-turn-{n}"}
            pick = client.post(PICK, json=_pick(site, 1, f"TURN-{n}"), headers=headers)
            sent.append(asyncio.create_task(pick))
            await _waiting_on_a_lock(engine, n + 1)
        assert not any(task.done() for task in sent)
        await other.rollback()
        answers = await asyncio.gather(*sent)

    # then they waited, and took their turns in the order they came
    assert [a.status_code for a in answers] == [200, 200, 200]
    await session.rollback()
    references = await session.scalars(
        select(StockTransaction.reference)
        .where(StockTransaction.reference.like("TURN-%"))
        .order_by(StockTransaction.id)
    )
    assert list(references) == ["TURN-0", "TURN-1", "TURN-2"]
