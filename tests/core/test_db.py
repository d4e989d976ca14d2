"""The unit of work: commit on success, roll back on error, retry deadlocks as a whole,
side effects only after commit; SQLite writers queue behind BEGIN IMMEDIATE."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.auth.deps import CurrentPrincipal
from kosh.core import audit
from kosh.core.config import Settings
from kosh.core.db import after_commit, is_retryable, transactional
from kosh.core.deps import SessionDep
from kosh.core.errors import ConflictError
from kosh.core.models import AuditEvent, WorkerHeartbeat
from tests.support.platform import app_client


def _retries(use_case: str) -> float:
    return REGISTRY.get_sample_value("kosh_db_retries_total", {"use_case": use_case}) or 0.0


async def _counter(session: AsyncSession, worker_id: str) -> int:
    await session.rollback()  # read a fresh snapshot
    return int(
        await session.scalar(
            select(WorkerHeartbeat.pid).where(WorkerHeartbeat.worker_id == worker_id)
        )
        or 0
    )


async def _add_counters(session: AsyncSession, *names: str) -> None:
    session.add_all([WorkerHeartbeat(worker_id=n, hostname="test", pid=0) for n in names])
    await session.commit()


@transactional
async def _increment(session: AsyncSession, *, worker_id: str) -> int:
    # read, then write: a lost update or a lock upgrade failure would show up here
    # (FOR UPDATE on PostgreSQL; SQLite has none and relies on BEGIN IMMEDIATE)
    row = await session.scalar(
        select(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id).with_for_update()
    )
    assert row is not None
    row.pid += 1
    await session.flush()
    return row.pid


async def test_commits_on_success_and_runs_after_commit_callbacks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    seen: list[int] = []

    @transactional
    async def write(session: AsyncSession) -> int:
        await audit.record(session, action="test.ok", entity_type="t")
        event_id = await session.scalar(select(func.max(AuditEvent.id)))

        async def callback() -> None:
            # the callback sees committed data from another connection
            async with sessions() as other:
                seen.append(
                    await other.scalar(select(AuditEvent.id).where(AuditEvent.id == event_id)) or 0
                )

        after_commit(session, callback)
        return event_id

    async with sessions() as session:
        event_id = await write(session)
    assert seen == [event_id]


async def test_rolls_back_on_error_and_skips_callbacks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    fired: list[str] = []

    @transactional
    async def fail(session: AsyncSession) -> None:
        await audit.record(session, action="test.fail", entity_type="t")
        await session.flush()

        async def callback() -> None:
            fired.append("yes")

        after_commit(session, callback)
        raise ConflictError("no")

    async with sessions() as session:
        with pytest.raises(ConflictError):
            await fail(session)
        assert not session.in_transaction()
    async with sessions() as session:
        assert (
            await session.scalar(select(AuditEvent).where(AuditEvent.action == "test.fail")) is None
        )
    assert fired == []


async def test_a_failing_callback_does_not_undo_the_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    @transactional
    async def write(session: AsyncSession) -> None:
        await audit.record(session, action="test.cb", entity_type="t")

        async def broken() -> None:
            raise RuntimeError("mail server down")

        after_commit(session, broken)

    async with sessions() as session:
        await write(session)
    async with sessions() as session:
        assert await session.scalar(select(AuditEvent).where(AuditEvent.action == "test.cb"))


async def test_non_retryable_errors_are_not_retried(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    calls = Counter[str]()

    @transactional
    async def broken_sql(session: AsyncSession) -> None:
        calls["n"] += 1
        await session.execute(text("SELECT * FROM no_such_table"))

    async with sessions() as session:
        with pytest.raises(DBAPIError) as caught:
            await broken_sql(session)
    assert not is_retryable(caught.value)
    assert calls["n"] == 1


# --- PostgreSQL: deadlocks and serialization failures are retried as a whole -------------


@pytest.fixture
def postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("deadlocks are a PostgreSQL matter (SQLite serialises writers)")


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_deadlock_is_retried_and_both_units_finish(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given two rows and two units of work that lock them in opposite order
    async with sessions() as session:
        await _add_counters(session, "a", "b")
    barrier = asyncio.Barrier(2)
    attempts = Counter[str]()

    @transactional
    async def cross(session: AsyncSession, *, first: str, second: str) -> None:
        attempts[first] += 1
        await session.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
        bump = WorkerHeartbeat.pid + 1
        await session.execute(
            update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == first).values(pid=bump)
        )
        if attempts[first] == 1:
            await barrier.wait()  # both hold their first row: the second update deadlocks
        await session.execute(
            update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == second).values(pid=bump)
        )

    before = _retries("cross")

    # when both run at once
    async def run(first: str, second: str) -> None:
        async with sessions() as session:
            await cross(session, first=first, second=second)

    await asyncio.wait_for(asyncio.gather(run("a", "b"), run("b", "a")), timeout=20)

    # then PostgreSQL killed one, it ran again as a whole, and both changes are complete
    assert _retries("cross") >= before + 1
    assert sum(attempts.values()) >= 3
    async with sessions() as session:
        assert await _counter(session, "a") == 2
        assert await _counter(session, "b") == 2


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_serialization_failure_is_retried(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await _add_counters(session, "s")
    before = _retries("_increment")

    async with sessions() as blocker, sessions() as victim:
        # the victim reads in a REPEATABLE READ snapshot ...
        await victim.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        await victim.scalar(select(WorkerHeartbeat.pid).where(WorkerHeartbeat.worker_id == "s"))
        # ... someone else commits a change to the row ...
        await _increment(blocker, worker_id="s")
        # ... so the victim's update fails with 40001 and is run again in a new transaction
        assert await _increment(victim, worker_id="s") == 2

    assert _retries("_increment") == before + 1


# --- SQLite: BEGIN IMMEDIATE so writers queue instead of failing ------------------------


@pytest.fixture
def sqlite_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")


@pytest.mark.sqlite_only
@pytest.mark.usefixtures("sqlite_only")
async def test_sqlite_write_transactions_begin_immediate(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        await _add_counters(session, "c")
    statements: list[str] = []

    def capture(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with sessions() as session:
            await session.scalar(select(WorkerHeartbeat.pid))  # a read transaction is open
            await _increment(session, worker_id="c")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"]


async def test_thirty_concurrent_writers_all_succeed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await _add_counters(session, "w")
    before = _retries("_increment")

    async def one() -> int:
        async with sessions() as session:
            # like a request: something was read before the unit of work starts
            await session.scalar(
                select(WorkerHeartbeat.pid).where(WorkerHeartbeat.worker_id == "w")
            )
            return await _increment(session, worker_id="w")

    results = await asyncio.gather(*(one() for _ in range(30)))

    assert sorted(results) == list(range(1, 31))  # no lost update, nobody failed
    async with sessions() as session:
        assert await _counter(session, "w") == 30
    assert _retries("_increment") == before


async def test_thirty_concurrent_api_writers_all_succeed(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], make_user, token_for
) -> None:
    async with sessions() as session:
        await _add_counters(session, "api")

    def build(app: FastAPI) -> None:
        async def bump(_: CurrentPrincipal, session: SessionDep) -> dict[str, int]:
            return {"value": await _increment(session, worker_id="api")}

        app.add_api_route("/api/v1/_test/bump", bump, methods=["POST"])

    user = await make_user("operator")
    auth = {"authorization": f"Bearer {await token_for(user)}"}
    async with app_client(settings, build=build) as (_, client):
        responses = await asyncio.gather(
            *(client.post("/api/v1/_test/bump", headers=auth) for _ in range(30))
        )
    assert [r.status_code for r in responses] == [200] * 30, [
        r.text for r in responses if r.status_code != 200
    ]
    assert sorted(r.json()["value"] for r in responses) == list(range(1, 31))
    async with sessions() as session:
        assert await _counter(session, "api") == 30


async def test_retry_metric_is_exposed(client: httpx.AsyncClient) -> None:
    text_body = (await client.get("/metrics")).text
    assert "kosh_db_retries_total" in text_body


async def test_engine_connection_settings(engine: AsyncEngine, settings: Settings) -> None:
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            shown = {
                name: await conn.scalar(text(f"SHOW {name}"))
                for name in ("statement_timeout", "lock_timeout", "application_name")
            }
            assert shown == {
                "statement_timeout": f"{settings.db_statement_timeout_ms // 1000}s",
                "lock_timeout": f"{settings.db_lock_timeout_ms // 1000}s",
                "application_name": "kosh",
            }
            pool = engine.sync_engine.pool
            assert pool.size() == settings.db_pool_size  # type: ignore[attr-defined]
            # no pre-ping round trip per checkout: connections are recycled, and one found
            # dead is retried (tests/stock/test_fast_paths.py)
            assert not engine.sync_engine.pool._pre_ping  # type: ignore[attr-defined]
            assert engine.sync_engine.pool._recycle == settings.db_pool_recycle  # type: ignore[attr-defined]
        else:
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(text("PRAGMA busy_timeout")) == settings.db_busy_timeout_ms
