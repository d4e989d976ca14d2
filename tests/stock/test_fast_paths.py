"""The stock verbs' fast paths keep every guarantee: the Idempotency-Key claimed inside the
use case's own transaction (one commit per request, a replay answers the first answer, a
concurrent duplicate gets 409 or that answer, never a second movement), FIFO locking only
the lots it takes (and extending when a concurrent pick emptied one), a dead pooled
connection retried, and token look-ups in one statement."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core.models import AuditEvent, IdempotencyKey
from kosh.stock import service as stock_service
from kosh.stock.models import StockBalance, StockTransaction
from tests.support.platform import client_for
from tests.support.stock import Site, a_site, balances, stock_in

Headers = dict[str, str]


@dataclass
class Seen:
    """What the app's engine did: the statements of each committed transaction, those
    of each connection use that ended without a COMMIT (rolled back, or statements that
    committed on their own: no transaction was open), and how many statements read the
    token tables."""

    committed: list[list[str]] = field(default_factory=list)
    uncommitted: list[list[str]] = field(default_factory=list)
    auth_reads: int = 0

    def writing(self, *tables: str) -> list[list[str]]:
        return _writing(self.committed, tables)

    def writing_uncommitted(self, *tables: str) -> list[list[str]]:
        return _writing(self.uncommitted, tables)


def _writing(ended: list[list[str]], tables: tuple[str, ...]) -> list[list[str]]:
    return [t for t in ended if any(f" {table} " in f" {s} " for s in t for table in tables)]


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[Seen]:
    seen = Seen()
    open_transactions: dict[int, list[str]] = {}

    def on_statement(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        open_transactions.setdefault(id(conn), []).append(" ".join(statement.split()))
        if "FROM api_tokens" in statement:
            seen.auth_reads += 1

    def on_commit(conn: Any) -> None:
        seen.committed.append(open_transactions.pop(id(conn), []))

    def on_rollback(conn: Any) -> None:
        seen.uncommitted.append(open_transactions.pop(id(conn), []))

    sync = engine.sync_engine
    listeners = [
        ("before_cursor_execute", on_statement),
        ("commit", on_commit),
        ("rollback", on_rollback),
    ]
    for name, fn in listeners:
        event.listen(sync, name, fn)
    try:
        yield seen
    finally:
        for name, fn in listeners:
            event.remove(sync, name, fn)


@pytest.fixture
def postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent transactions are PostgreSQL's (SQLite serialises)")


@pytest.fixture
async def site(session: AsyncSession) -> Site:
    site = await a_site(session, bins=3)
    return site


async def _ledger_count(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(StockTransaction).where(StockTransaction.kind == "pick")
    )
    return int(count or 0)


def _pick(site: Site, qty: int = 1) -> dict[str, Any]:
    return {
        "part_number": site.part_number,
        "qty": qty,
        "warehouse_id": site.warehouse_id,
        "reference": "JOB-1",
    }


async def test_a_pick_with_a_key_commits_once_and_replays_the_first_answer(
    app: Any,
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
) -> None:
    # given stock on a bin
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    headers = {**operator_headers, "idempotency-key": "pick-once"}
    await client.get("/api/v1/parts", headers=operator_headers)  # token touched: no write later

    # when the same pick is sent twice
    with counted(app.state.engine) as seen:
        first = await client.post("/api/v1/stock/pick", json=_pick(site, 3), headers=headers)
    second = await client.post("/api/v1/stock/pick", json=_pick(site, 3), headers=headers)

    # then the first ran in one transaction: claim, movement, audit and answer, one commit
    assert first.status_code == 200, first.text
    writes = seen.writing("idempotency_keys", "stock_transactions", "audit_events")
    assert len(writes) == 1
    kinds = {s.split(" (")[0].split(" SET ")[0] for s in writes[0] if not s.startswith("SELECT")}
    assert "INSERT INTO idempotency_keys" in kinds
    # the ledger row: its own INSERT, or (PostgreSQL) part of the statement moving the stock
    assert any("INSERT INTO stock_transactions" in s for s in writes[0])
    # the audit row: its own INSERT, or (PostgreSQL) part of the statement storing the answer
    assert any("INSERT INTO audit_events" in s for s in writes[0])
    assert any("UPDATE idempotency_keys" in s for s in writes[0])
    if session.get_bind().dialect.name == "postgresql":
        assert [s for s in writes[0] if "UPDATE idempotency_keys" in s] == [
            s for s in writes[0] if "INSERT INTO audit_events" in s
        ]
    assert seen.auth_reads == 1  # token and user in one statement
    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await _ledger_count(session) == 1
    assert sum((await balances(session, first.json()["lines"][0]["lot_id"])).values()) == 10
    row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "pick-once"))
    assert row is not None
    assert (row.state, row.response_status) == ("done", 200)
    picked = await session.scalars(select(AuditEvent).where(AuditEvent.action == "stock.pick"))
    assert [event.after["qty"] for event in picked] == [3]


async def test_a_refused_pick_is_stored_and_replayed_even_after_stock_arrives(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession, site: Site
) -> None:
    # given too little stock
    await stock_in(session, site.part_number, site.bin_ids[0], 2)
    headers = {**operator_headers, "idempotency-key": "pick-too-many"}

    # when a pick of 5 is refused, stock arrives, and the pick is sent again
    refused = await client.post("/api/v1/stock/pick", json=_pick(site, 5), headers=headers)
    await stock_in(session, site.part_number, site.bin_ids[1], 10)
    again = await client.post("/api/v1/stock/pick", json=_pick(site, 5), headers=headers)
    other_body = await client.post("/api/v1/stock/pick", json=_pick(site, 4), headers=headers)

    # then the replay is the first answer (409) and nothing moved; another body is 422
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_stock"
    assert again.status_code == 409
    assert again.json() == refused.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency_key_reused"
    assert await _ledger_count(session) == 0


async def test_each_stock_verb_replays_without_moving_twice(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession, site: Site
) -> None:
    # given a lot picked once (so restock knows where it goes back to)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 20)
    await client.post("/api/v1/stock/pick", json=_pick(site, 5), headers=operator_headers)
    requests = [
        ("/api/v1/stock/restock", {"pcn": lot.pcn, "qty": 2}),
        (
            "/api/v1/stock/transfer",
            {
                "pcn": lot.pcn,
                "qty": 3,
                "from_location_id": site.bin_ids[0],
                "to_location_id": site.bin_ids[1],
            },
        ),
        (
            "/api/v1/stock/consume",
            {"pcn": lot.pcn, "qty": 1, "location_id": site.floor_id, "reason": "used"},
        ),
        (
            "/api/v1/stock/receive",
            {"part_number": site.part_number, "qty": 4, "location_id": site.bin_ids[2]},
        ),
    ]
    for i, (path, body) in enumerate(requests):
        headers = {**operator_headers, "idempotency-key": f"verb-{i}"}
        # when each is sent twice
        first = await client.post(path, json=body, headers=headers)
        second = await client.post(path, json=body, headers=headers)
        # then the second is the first's answer
        assert first.status_code in (200, 201), (path, first.text)
        assert second.json() == first.json(), path
        assert second.headers["idempotent-replayed"] == "true"
    kinds = Counter(
        await session.scalars(select(StockTransaction.kind).order_by(StockTransaction.id))
    )
    assert kinds == Counter({"receive": 2, "pick": 1, "restock": 1, "transfer": 1, "consume": 1})


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_concurrent_duplicates_move_stock_once(
    app: Any, operator_headers: Headers, session: AsyncSession, site: Site
) -> None:
    # given stock, and eight clients sending the same pick with one key at once
    await stock_in(session, site.part_number, site.bin_ids[0], 100)
    headers = {**operator_headers, "idempotency-key": "scanner-double-press"}
    clients = [client_for(app) for _ in range(8)]
    try:
        answers = await asyncio.gather(
            *(c.post("/api/v1/stock/pick", json=_pick(site, 7), headers=headers) for c in clients)
        )
    finally:
        for c in clients:
            await c.aclose()

    # then one movement; every answer is that pick's answer or 409 in progress
    winners = [a for a in answers if a.status_code == 200]
    losers = [a for a in answers if a.status_code != 200]
    assert winners
    assert all(w.json() == winners[0].json() for w in winners)
    assert all(a.status_code == 409 for a in losers)
    assert all(a.json()["code"] == "idempotency_in_progress" for a in losers)
    assert await _ledger_count(session) == 1
    floor = await session.scalar(
        select(func.sum(StockBalance.qty)).where(StockBalance.location_id == site.floor_id)
    )
    assert floor == 7


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_fifo_locks_only_the_lots_it_takes(
    sessions: async_sessionmaker[AsyncSession], session: AsyncSession, site: Site
) -> None:
    # given an old lot that covers the pick and a newer lot someone else holds locked
    old = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    new = await stock_in(session, site.part_number, site.bin_ids[1], 10)
    async with sessions() as other:
        await other.execute(text("SET LOCAL lock_timeout = '5s'"))
        await other.execute(text("SELECT id FROM lots WHERE id = :id FOR UPDATE"), {"id": new.id})

        # when a pick that the old lot covers runs (it would wait 5 s for the newer lot)
        async with sessions() as picker:
            # SET LOCAL: the pick runs in this transaction; the pooled connection keeps nothing
            await picker.execute(text("SET LOCAL lock_timeout = '500ms'"))
            result = await stock_service.pick(
                picker,
                part_number=site.part_number,
                qty=4,
                warehouse_id=site.warehouse_id,
                reference="JOB-2",
            )
        await other.rollback()

    # then it took from the old lot without touching the locked one
    assert [(line.lot_id, line.qty) for line in result.lines] == [(old.id, 4)]


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_fifo_extends_when_a_concurrent_pick_emptied_its_lot(
    sessions: async_sessionmaker[AsyncSession], session: AsyncSession, site: Site
) -> None:
    # given two lots, and another transaction that holds the old one and empties it
    old = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    new = await stock_in(session, site.part_number, site.bin_ids[1], 10)
    async with sessions() as other:
        await other.execute(text("SELECT id FROM lots WHERE id = :id FOR UPDATE"), {"id": old.id})
        await other.execute(update(StockBalance).where(StockBalance.lot_id == old.id).values(qty=0))

        # when a pick of 3 starts (it chooses the old lot and waits for its lock)
        async def pick() -> stock_service.Pick:
            async with sessions() as picker:
                return await stock_service.pick(
                    picker,
                    part_number=site.part_number,
                    qty=3,
                    warehouse_id=site.warehouse_id,
                    reference="JOB-3",
                )

        task = asyncio.create_task(pick())
        await asyncio.sleep(0.3)
        assert not task.done()
        await other.commit()
        result = await task

    # then, finding the old lot empty, it extended to the next lot
    assert [(line.lot_id, line.qty) for line in result.lines] == [(new.id, 3)]
    assert await balances(session, new.id) == {site.bin_ids[1]: 7, site.floor_id: 3}


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_a_dead_pooled_connection_is_retried_not_a_500(
    app: Any,
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
) -> None:
    # given stock, and the server-side end of every idle connection in the app's pool killed
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    assert (await client.get("/api/v1/parts", headers=operator_headers)).status_code == 200
    engine: AsyncEngine = app.state.engine
    idle = [await engine.connect() for _ in range(max(1, engine.pool.checkedin()))]
    pids = [await c.scalar(text("SELECT pg_backend_pid()")) for c in idle]
    for c in idle:
        await c.close()
    await session.execute(
        text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"),
        {"pids": pids},
    )
    await session.commit()
    await asyncio.sleep(0.2)

    # when the next requests check out those dead connections (no pre-ping)
    read = await client.get("/api/v1/parts", headers=operator_headers)
    picked = await client.post(
        "/api/v1/stock/pick",
        json=_pick(site, 1),
        headers={**operator_headers, "idempotency-key": "after-restart"},
    )

    # then they are answered normally
    assert read.status_code == 200, read.text
    assert picked.status_code == 200, picked.text
    assert await _ledger_count(session) == 1
