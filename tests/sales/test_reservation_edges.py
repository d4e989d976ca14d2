"""The reservation primitives at their edges: nothing asked, nothing done; releasing more
than is reserved is a bug that is raised, not hidden."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.sales import reservations
from tests.support.stock import a_site, stock_in


async def test_asking_for_no_parts_reads_and_locks_nothing(session: AsyncSession) -> None:
    # given
    site = await a_site(session, bins=1)
    # when / then
    assert await reservations.lock(session, part_ids=[], warehouse_id=site.warehouse_id) == {}
    assert await reservations.reserved(session, part_ids=[], warehouse_id=site.warehouse_id) == {}
    assert await reservations.on_hand(session, part_ids=[], warehouse_id=site.warehouse_id) == {}
    assert await reservations.add_many(session, warehouse_id=site.warehouse_id, wanted={}) is True


async def test_zero_units_change_nothing(session: AsyncSession) -> None:
    # given: a part with stock, its reservation row locked (created at zero)
    site = await a_site(session, bins=1)
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    held = await reservations.lock(session, part_ids=[site.part_id], warehouse_id=site.warehouse_id)
    # when
    added = await reservations.add(
        session, part_id=site.part_id, warehouse_id=site.warehouse_id, qty=0, limit=5
    )
    await reservations.remove(session, part_id=site.part_id, warehouse_id=site.warehouse_id, qty=0)
    # then
    assert held == {site.part_id: 0}
    assert added is True
    assert await reservations.reserved(
        session, part_ids=[site.part_id], warehouse_id=site.warehouse_id
    ) == {site.part_id: 0}


async def test_releasing_more_than_is_reserved_raises(session: AsyncSession) -> None:
    # given: 2 of 5 reserved
    site = await a_site(session, bins=1)
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    await reservations.lock(session, part_ids=[site.part_id], warehouse_id=site.warehouse_id)
    assert await reservations.add(
        session, part_id=site.part_id, warehouse_id=site.warehouse_id, qty=2, limit=5
    )
    # when / then
    with pytest.raises(RuntimeError, match="below 3"):
        await reservations.remove(
            session, part_id=site.part_id, warehouse_id=site.warehouse_id, qty=3
        )
    assert await reservations.available(
        session, part_ids=[site.part_id], warehouse_id=site.warehouse_id
    ) == {site.part_id: 3}
