"""Core statements sent straight to the driver (`kosh.core.direct`): the same rows, types
and errors as `session.execute`, inside the session's transaction, seen by statement
listeners; on SQLite they go through the session. Against the real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, event, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core import direct
from kosh.core.config import Settings
from kosh.core.db import create_engine, create_session_factory, is_disconnect
from kosh.core.models import WorkerHeartbeat
from tests.conftest import _empty_tables

_BEAT = WorkerHeartbeat.__table__
_BY_IDS = (
    select(_BEAT.c.worker_id, _BEAT.c.pid, _BEAT.c.started_at, _BEAT.c.info)
    .where(_BEAT.c.pid.in_(bindparam("pids", expanding=True)))
    .order_by(_BEAT.c.pid)
)
_INSERT = insert(_BEAT).values(
    worker_id=bindparam("worker"),
    hostname="test",
    pid=bindparam("pid"),
    started_at=bindparam("at"),
    last_seen_at=bindparam("at"),
    info=bindparam("info"),
)
_AT = datetime(2031, 5, 1, 12, 30, tzinfo=UTC)


async def _beats(session: AsyncSession, count: int) -> None:
    for n in range(count):
        await direct.rows(
            session, _INSERT, {"worker": f"w{n}", "pid": n, "at": _AT, "info": {"n": n}}
        )


async def test_rows_match_the_sessions_rows_with_types_and_in_lists(
    session: AsyncSession,
) -> None:
    # given: five rows written through the direct path (datetimes and JSON bound by type)
    await _beats(session, 5)
    # when: the same statement is read both ways, with IN lists of several lengths
    for pids in ([3], [0, 4, 2], [], list(range(5)), [1, 3]):
        ours = await direct.rows(session, _BY_IDS, {"pids": pids})
        theirs = (await session.execute(_BY_IDS, {"pids": pids})).all()
        # then: the same values, converted by the column types, by position and by name
        assert [tuple(row) for row in ours] == [tuple(row) for row in theirs]
        assert [row.pid for row in ours] == sorted(pids)
    [row] = await direct.rows(session, _BY_IDS, {"pids": [2]})
    assert (row.worker_id, row.started_at, row.info) == ("w2", _AT, {"n": 2})
    assert await direct.scalar(session, select(func.count()).select_from(_BEAT)) == 5
    assert await direct.first(session, _BY_IDS, {"pids": [42]}) is None


def test_any_in_list_selects_what_the_session_selects(
    base_settings: Settings, engine: AsyncEngine
) -> None:
    # Hypothesis calls the property synchronously: it gets its own loop and engine.
    with asyncio.Runner() as runner:
        own_engine = create_engine(base_settings)
        own_sessions = create_session_factory(own_engine)

        async def seed() -> None:
            async with own_sessions() as session:
                await _beats(session, 6)
                await session.commit()

        async def compare(pids: list[int]) -> None:
            async with own_sessions() as session:
                ours = await direct.rows(session, _BY_IDS, {"pids": pids})
                theirs = (await session.execute(_BY_IDS, {"pids": pids})).all()
            assert [tuple(row) for row in ours] == [tuple(row) for row in theirs]
            assert [row.pid for row in ours] == sorted({p for p in pids if 0 <= p < 6})

        @settings(max_examples=40, deadline=None)
        @given(pids=st.lists(st.integers(min_value=-3, max_value=8), max_size=12))
        def prop(pids: list[int]) -> None:
            runner.run(compare(pids))

        runner.run(seed())
        try:
            prop()
        finally:
            runner.run(_empty_tables(own_engine))
            runner.run(own_engine.dispose())


async def test_writes_join_the_sessions_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given: a direct write as a session's first statement, then one through the session
    async with sessions() as first:
        await direct.rows(first, _INSERT, {"worker": "a", "pid": 1, "at": _AT, "info": None})
        await first.execute(update(WorkerHeartbeat).values(hostname="changed"))
        # then: another session sees nothing before the commit
        async with sessions() as other:
            assert await other.scalar(select(func.count()).select_from(_BEAT)) == 0
        # when: it rolls back
        await first.rollback()
    # then: both writes are gone
    async with sessions() as other:
        assert await other.scalar(select(func.count()).select_from(_BEAT)) == 0
    # and: committed, they are there
    async with sessions() as first:
        await direct.rows(first, _INSERT, {"worker": "b", "pid": 2, "at": _AT, "info": None})
        await first.commit()
        # a new transaction of the same session uses its own connection state again
        assert await direct.scalar(first, select(_BEAT.c.worker_id)) == "b"
        await first.commit()


async def test_an_error_is_sqlalchemys_and_the_session_goes_on(session: AsyncSession) -> None:
    # given: a row
    await _beats(session, 1)
    await session.commit()
    # when: the same key is inserted again through the direct path
    with pytest.raises(IntegrityError):
        await direct.rows(session, _INSERT, {"worker": "w0", "pid": 9, "at": _AT, "info": None})
    # then: the session rolls back and works, the first row unchanged
    await session.rollback()
    assert await direct.scalar(session, select(_BEAT.c.pid)) == 0


async def test_statement_listeners_see_direct_statements(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", listen)
    try:
        await direct.rows(session, _BY_IDS, {"pids": [1, 2]})
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listen)
    assert any("FROM worker_heartbeats" in statement for statement in seen)


@pytest.mark.postgres
async def test_a_dead_connection_is_invalidated_for_the_retry(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the direct path is PostgreSQL's")
    async with sessions() as doomed:
        # given: a transaction whose server process is then killed
        pid = await direct.scalar(doomed, text("SELECT pg_backend_pid()"))
        async with sessions() as killer:
            await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await killer.commit()
        # when: its next statement goes the direct way
        with pytest.raises(DBAPIError) as caught:
            await direct.rows(doomed, _BY_IDS, {"pids": [1]})
        # then: it is a disconnect (what the unit of work retries), and after the rollback
        # the session works on a fresh connection
        assert is_disconnect(caught.value)
        await doomed.rollback()
        assert await direct.scalar(doomed, text("SELECT pg_backend_pid()")) != pid


async def test_sqlite_goes_through_the_session(engine: AsyncEngine, session: AsyncSession) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's fall-back")
    await _beats(session, 2)
    rows = await direct.rows(session, _BY_IDS, {"pids": [1]})
    assert type(rows[0]).__module__.startswith("sqlalchemy")
    assert rows[0].worker_id == "w1"
