"""Audit events deferred to the statement that ends the transaction (`audit.defer`): the
idempotency middleware writes a request's events with its stored answer. An event recorded
in a savepoint is written at once (it rolls back with it); a rollback drops the deferral."""

from __future__ import annotations

import pytest
from sqlalchemy import literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import utcnow
from kosh.core.models import AuditEvent, IdempotencyKey
from tests.core.test_audit_batch import audit_inserts

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_session(session: AsyncSession) -> AsyncSession:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("a data-modifying CTE is PostgreSQL's (SQLite defers nothing)")
    return session


async def _actions(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def test_deferred_events_wait_for_the_statement_that_writes_them(
    postgres_session: AsyncSession,
) -> None:
    session = postgres_session
    key = IdempotencyKey(
        scope="test", key="k", request_hash="h", state="running", expires_at=utcnow()
    )
    session.add(key)
    await session.flush()
    audit.defer(session)
    with audit_inserts(session) as inserts:
        await audit.record(session, action="test.first", entity_type="t", after={"n": 1})
        async with audit.batch(session):  # a batch inside a deferral defers too
            await audit.record(session, action="test.second", entity_type="t")
        assert inserts == []
        rows = audit.take_deferred(session)
        assert [row["action"] for row in rows] == ["test.first", "test.second"]
        statement, params = audit.written_with(
            update(IdempotencyKey).where(IdempotencyKey.id == key.id).values(state="done"), rows
        )
        await session.execute(statement, params)
    assert inserts == []  # no INSERT of their own: they rode on the UPDATE
    await session.commit()

    assert await _actions(session) == ["test.first", "test.second"]
    first = await session.scalar(select(AuditEvent).where(AuditEvent.action == "test.first"))
    assert first is not None
    assert first.after == {"n": 1}
    state = await session.scalar(select(IdempotencyKey.state).where(IdempotencyKey.id == key.id))
    assert state == "done"
    # taken: the deferral has ended, the next event is written at once
    await audit.record(session, action="test.after", entity_type="t")
    assert audit.take_deferred(session) == []


async def test_an_event_in_a_savepoint_is_written_at_once_and_rolls_back_with_it(
    postgres_session: AsyncSession,
) -> None:
    session = postgres_session
    await session.execute(select(literal(1)))
    audit.defer(session)

    async def step_in_a_savepoint() -> None:
        async with session.begin_nested():
            await audit.record(session, action="test.undone", entity_type="t")
            raise RuntimeError("the savepoint's step failed")

    with pytest.raises(RuntimeError):
        await step_in_a_savepoint()
    await audit.record(session, action="test.kept", entity_type="t")
    rows = audit.take_deferred(session)
    assert [row["action"] for row in rows] == ["test.kept"]
    statement, params = audit.written_with(select(literal(1)), rows)
    await session.execute(statement, params)
    await session.commit()

    assert await _actions(session) == ["test.kept"]


async def test_a_rollback_ends_the_deferral(postgres_session: AsyncSession) -> None:
    session = postgres_session
    await session.execute(select(literal(1)))
    audit.defer(session)
    await audit.record(session, action="test.rolled_back", entity_type="t")
    await session.rollback()

    # the next transaction writes its events at once, and nothing is left to take
    await audit.record(session, action="test.next", entity_type="t")
    assert audit.take_deferred(session) == []
    await session.commit()

    assert await _actions(session) == ["test.next"]
