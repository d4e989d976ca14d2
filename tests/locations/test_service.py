"""Warehouse and location rules: MFG with every warehouse, codes unique per warehouse."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import transactional
from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from kosh.core.models import AuditEvent
from kosh.locations import service as location_service
from kosh.locations.models import Location, Warehouse
from tests.support.stock import a_location, a_warehouse


async def test_warehouse_comes_with_its_mfg_floor(session: AsyncSession) -> None:
    # when
    warehouse = await location_service.create_warehouse(session, code="MAIN", name="Main")
    # then
    floor = await location_service.mfg_location(session, warehouse.id)
    assert (floor.code, floor.kind, floor.warehouse_id) == ("MFG", "mfg_floor", warehouse.id)
    actions = set(await session.scalars(select(AuditEvent.action)))
    assert {"warehouse.create", "location.create"} <= actions


async def test_warehouse_code_is_unique(session: AsyncSession) -> None:
    await a_warehouse(session, "W1")
    with pytest.raises(ConflictError) as caught:
        await location_service.create_warehouse(session, code="W1", name="again")
    assert caught.value.code == "warehouse_code_taken"
    assert len(list(await session.scalars(select(Warehouse)))) == 1
    assert len(list(await session.scalars(select(Location)))) == 1


async def test_location_code_unique_within_a_warehouse_only(session: AsyncSession) -> None:
    # given two warehouses
    first = await a_warehouse(session)
    second = await a_warehouse(session)
    await a_location(session, first, "A-01")
    # when the same code is used in the other warehouse, it is fine
    other = await a_location(session, second, "A-01")
    assert other.warehouse_id == second.id
    # when it is used twice in one warehouse, it is a conflict
    first_id = first.id
    with pytest.raises(ConflictError) as caught:
        await a_location(session, first_id, "A-01")
    assert caught.value.code == "location_code_taken"
    with pytest.raises(ConflictError):
        await a_location(session, first_id, "MFG", kind="storage")


async def test_location_rules(session: AsyncSession) -> None:
    warehouse_id = (await a_warehouse(session)).id
    with pytest.raises(NotFoundError):
        await location_service.create_location(
            session, warehouse_id=999_999, code="X", kind="storage"
        )
    with pytest.raises(ValidationError):
        await location_service.create_location(
            session, warehouse_id=warehouse_id, code="X", kind="attic"
        )
    warehouse = await location_service.get_warehouse_or_raise(session, warehouse_id)
    warehouse.active = False
    await session.commit()
    with pytest.raises(RuleViolationError):
        await location_service.create_location(
            session, warehouse_id=warehouse_id, code="X", kind="storage"
        )


async def test_lookup_helpers(session: AsyncSession) -> None:
    # given
    warehouse = await a_warehouse(session)
    first = await a_location(session, warehouse, "S-1")
    second = await a_location(session, warehouse, "S-2")
    first.active = False
    await session.commit()
    # then
    assert await location_service.location_of_kind(session, warehouse.id, "storage") == second
    assert await location_service.location_of_kind(session, warehouse.id, "shipping") is None
    assert await location_service.get_location_or_raise(session, first.id) == first
    with pytest.raises(NotFoundError):
        await location_service.get_location_or_raise(session, 999_999)
    with pytest.raises(NotFoundError):
        await location_service.get_warehouse_or_raise(session, 999_999)
    with pytest.raises(RuleViolationError):
        await location_service.usable_location(session, first.id)
    other = await a_warehouse(session)
    with pytest.raises(RuleViolationError):
        await location_service.usable_location(session, second.id, warehouse_id=other.id)
    with pytest.raises(RuleViolationError):
        await location_service.usable_location(session, second.id, kinds=("mfg_floor",))
    assert await location_service.usable_location(session, second.id, kinds=("storage",)) == second


async def test_ensure_location_creates_once_inside_the_callers_transaction(
    session: AsyncSession,
) -> None:
    warehouse = await a_warehouse(session)
    warehouse_id = warehouse.id

    @transactional
    async def ship_twice(session: AsyncSession) -> tuple[Location, Location]:
        dock = await location_service.ensure_location(session, warehouse.id, "SHIP", "shipping")
        again = await location_service.ensure_location(session, warehouse.id, "SHIP", "shipping")
        return dock, again

    # when
    dock, again = await ship_twice(session)
    # then
    assert dock.id == again.id
    assert dock.kind == "shipping"
    # a location of another kind under that code is refused
    with pytest.raises(RuleViolationError):
        await location_service.ensure_location(session, warehouse_id, "SHIP", "receiving")
    await session.rollback()

    @transactional
    async def ensure_then_fail(session: AsyncSession) -> None:
        await location_service.ensure_location(session, warehouse_id, "RCV", "receiving")
        raise NotFoundError("later step failed")

    with pytest.raises(NotFoundError):
        await ensure_then_fail(session)
    assert await location_service.find_location(session, warehouse_id, "RCV") is None


async def test_lists(session: AsyncSession) -> None:
    first = await a_warehouse(session, "B-WH")
    second = await a_warehouse(session, "A-WH")
    await a_location(session, first, "R-1", kind="receiving")
    await a_location(session, first, "S-1")
    await a_location(session, second, "S-1")
    warehouses, total = await location_service.list_warehouses(session)
    assert [w.code for w in warehouses] == ["A-WH", "B-WH"]
    assert total == 2
    storage, count = await location_service.list_locations(
        session, warehouse_id=first.id, kind="storage"
    )
    assert [loc.code for loc in storage] == ["S-1"]
    assert count == 1
    prefixed, _ = await location_service.list_locations(session, q="s-")
    assert len(prefixed) == 2
    floors = await location_service.mfg_location_ids(session, [first.id, second.id])
    assert set(floors) == {first.id, second.id}
