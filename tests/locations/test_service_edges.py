"""Location look-ups when the data is not as KOSH made it (a warehouse whose MFG floor was
removed by hand, an unknown location) and the race guard of on-demand locations."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, NotFoundError
from kosh.locations import service as location_service
from kosh.locations.models import Location
from tests.support.stock import a_location, a_warehouse


async def test_a_warehouse_without_its_mfg_floor_is_a_clear_404(session: AsyncSession) -> None:
    # given a warehouse whose MFG location was deleted behind KOSH's back
    warehouse = await a_warehouse(session)
    bin_ = await a_location(session, warehouse, "A-01")
    await session.execute(
        delete(Location).where(Location.warehouse_id == warehouse.id, Location.code == "MFG")
    )
    await session.commit()
    # then every look-up that needs the floor says so
    with pytest.raises(NotFoundError) as floor:
        await location_service.mfg_location(session, warehouse.id)
    assert floor.value.code == "mfg_location_missing"
    with pytest.raises(NotFoundError) as pair:
        await location_service.warehouse_and_floor(session, warehouse.id)
    assert pair.value.code == "mfg_location_missing"
    with pytest.raises(NotFoundError) as restock:
        await location_service.usable_location_and_floor(session, bin_.id)
    assert restock.value.code == "mfg_location_missing"


async def test_an_unknown_location_is_a_404_naming_the_field(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError) as caught:
        await location_service.usable_location_and_floor(session, 999_999, loc="to_location_id")
    assert caught.value.code == "location_not_found"
    assert caught.value.errors[0]["loc"] == ["to_location_id"]


async def test_an_on_demand_location_made_meanwhile_is_reused(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given DOCK exists, but the first look-up ran before another node committed it
    warehouse = await a_warehouse(session)
    dock = await a_location(session, warehouse, "DOCK", kind="shipping")
    real_find = location_service.find_location
    calls = 0

    async def late_find(session: AsyncSession, warehouse_id: int, code: str) -> Location | None:
        nonlocal calls
        calls += 1
        return None if calls == 1 else await real_find(session, warehouse_id, code)

    monkeypatch.setattr(location_service, "find_location", late_find)
    # when it is ensured, then the insert's conflict is answered with the existing one
    found = await location_service.ensure_location(session, warehouse.id, "DOCK", "shipping")
    assert found.id == dock.id
    count = select(func.count()).select_from(Location).where(Location.code == "DOCK")
    assert await session.scalar(count) == 1


async def test_an_on_demand_location_that_cannot_be_made_or_found_is_a_409(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = await a_warehouse(session)
    await a_location(session, warehouse, "DOCK", kind="shipping")

    async def never_found(*_: object) -> None:
        return None

    monkeypatch.setattr(location_service, "find_location", never_found)
    with pytest.raises(ConflictError) as caught:
        await location_service.ensure_location(session, warehouse.id, "DOCK", "shipping")
    assert caught.value.code == "location_code_taken"
