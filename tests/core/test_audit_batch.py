"""Audit events of a block written together (`audit.batch`): one INSERT at its end, none on
an error, the outer block writing for a nested one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.models import AuditEvent


@contextmanager
def audit_inserts(session: AsyncSession) -> Iterator[list[int]]:
    """The rows each INSERT INTO audit_events sent, one entry per statement sent (a batch
    of parameter sets, or a multi-row VALUES, is one statement)."""
    seen: list[int] = []

    def count(
        _conn: object,
        _cursor: object,
        statement: str,
        parameters: object,
        _context: object,
        executemany: bool,
    ) -> None:
        if statement.startswith("INSERT INTO audit_events"):
            sets = len(parameters) if executemany and isinstance(parameters, list) else 1
            seen.append(max(sets, statement.count("), (") + 1))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def _actions(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def test_a_batch_writes_its_events_in_order_with_one_insert_when_it_ends(
    session: AsyncSession,
) -> None:
    with audit_inserts(session) as inserts:
        async with audit.batch(session):
            await audit.record(session, action="test.first", entity_type="t", entity_id=1)
            async with audit.batch(session):  # nested: the outer block writes
                await audit.record(session, action="test.second", entity_type="t")
            assert inserts == []  # nothing written inside the block
            await audit.record(session, action="test.third", entity_type="t", after={"n": 3})
        assert inserts == [3]
    await session.commit()

    assert await _actions(session) == ["test.first", "test.second", "test.third"]
    third = await session.scalar(select(AuditEvent).where(AuditEvent.action == "test.third"))
    assert third is not None
    assert third.after == {"n": 3}
    assert third.actor_type == "system"


async def test_an_error_in_a_batch_writes_none_of_its_events(session: AsyncSession) -> None:
    async def failing_step() -> None:
        async with audit.batch(session):
            await audit.record(session, action="test.lost", entity_type="t")
            raise RuntimeError("the step failed")

    with pytest.raises(RuntimeError):
        await failing_step()
    # outside a batch again: written at once
    await audit.record(session, action="test.kept", entity_type="t")
    await session.commit()

    assert await _actions(session) == ["test.kept"]
