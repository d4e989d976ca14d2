"""In-transaction events: subscribers run before the commit, inside the transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit, events
from kosh.core.db import transactional
from kosh.core.errors import ConflictError
from kosh.core.models import AuditEvent


def test_wiring_registers_every_stock_rule() -> None:
    import kosh.wiring

    subscribed = [s for subs in events._subscribers.values() for s in subs]
    for subscriber in kosh.wiring.SUBSCRIBERS:
        assert subscriber in subscribed


async def test_a_refusing_subscriber_rolls_the_whole_use_case_back(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[int]] = []

    async def refuse(_session: AsyncSession, ids: list[int]) -> None:
        seen.append(ids)
        raise ConflictError("no", code="refused")

    monkeypatch.setitem(events._subscribers, "test.event", [refuse])

    @transactional
    async def use_case(session: AsyncSession) -> None:
        await audit.record(session, action="test.write", entity_type="test")
        events.note(session, "test.event", [3, 1])
        events.note(session, "test.event", [1])

    with pytest.raises(ConflictError):
        await use_case(session)

    assert seen == [[1, 3]]
    count = await session.scalar(select(func.count()).select_from(AuditEvent))
    assert count == 0
