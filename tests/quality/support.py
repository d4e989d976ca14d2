"""Factories for quality tests: a shop with storage, quarantine and a machine on a work
centre, built through the real services (each commits; tables are emptied after every
test). They answer plain values, usable after a failed use case rolled back."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.locations import service as location_service
from kosh.shopfloor import service as shopfloor_service
from tests.support.stock import a_location, a_part, a_warehouse, stock_in

_serial = itertools.count(1)
EVERY_DAY_8H = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), 480)


@dataclass(frozen=True)
class Shop:
    warehouse_id: int
    storage_id: int
    storage2_id: int
    quarantine_id: int
    floor_id: int
    part_number: str
    part_id: int
    calendar: str
    department: str
    work_centre: str
    work_centre_id: int
    machine: str
    machine_id: int


async def a_shop(session: AsyncSession) -> Shop:
    n = next(_serial)
    warehouse = await a_warehouse(session)
    storage = await a_location(session, warehouse.id, code=f"S{n}-A")
    storage2 = await a_location(session, warehouse.id, code=f"S{n}-B")
    quarantine = await a_location(session, warehouse.id, code=f"Q{n}", kind="quarantine")
    floor = await location_service.mfg_location(session, warehouse.id)
    part = await a_part(session, f"QP-{n:04d}", unit_cost="2.50")
    department = await shopfloor_service.create_department(session, code=f"QD{n}", name="Maint")
    calendar = await shopfloor_service.create_calendar(
        session, code=f"QCAL{n}", name="Every day", minutes=EVERY_DAY_8H
    )
    centre = await shopfloor_service.create_work_centre(
        session,
        code=f"QWC{n}",
        name="Press",
        department_code=department.code,
        calendar_code=calendar.code,
        machines=[
            shopfloor_service.MachineSpec(asset_number=f"QM{n}-1", status="running"),
            shopfloor_service.MachineSpec(asset_number=f"QM{n}-2", status="idle"),
        ],
    )
    machine = await shopfloor_service.get_machine_by_asset_or_raise(session, f"QM{n}-1")
    return Shop(
        warehouse_id=warehouse.id,
        storage_id=storage.id,
        storage2_id=storage2.id,
        quarantine_id=quarantine.id,
        floor_id=floor.id,
        part_number=part.number,
        part_id=part.id,
        calendar=calendar.code,
        department=department.code,
        work_centre=centre.code,
        work_centre_id=centre.id,
        machine=machine.asset_number,
        machine_id=machine.id,
    )


async def a_lot(session: AsyncSession, shop: Shop, qty: int, location_id: int | None = None) -> str:
    lot = await stock_in(session, shop.part_number, location_id or shop.storage_id, qty)
    return lot.pcn
