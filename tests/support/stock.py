"""Factories and probes for parts, warehouses, locations and stock. Each test makes its own
data through the real services (they commit; the database is emptied after every test)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.catalog.models import Part
from kosh.catalog.schemas import PartCreate
from kosh.locations import service as location_service
from kosh.locations.models import Location, Warehouse
from kosh.stock import service as stock_service
from kosh.stock.models import Lot, StockBalance, StockTransaction

_serial = itertools.count(1)


async def a_part(session: AsyncSession, number: str | None = None, **fields: object) -> Part:
    data = PartCreate(
        number=number or f"P-{next(_serial):05d}",
        description=str(fields.pop("description", "Test part")),
        **fields,  # type: ignore[arg-type]
    )
    return await part_service.create_part(session, data=data)


async def a_warehouse(session: AsyncSession, code: str | None = None) -> Warehouse:
    code = code or f"W{next(_serial)}"
    return await location_service.create_warehouse(session, code=code, name=f"Warehouse {code}")


async def a_location(
    session: AsyncSession, warehouse: Warehouse, code: str | None = None, kind: str = "storage"
) -> Location:
    return await location_service.create_location(
        session, warehouse_id=warehouse.id, code=code or f"B-{next(_serial)}", kind=kind
    )


@dataclass
class Site:
    """A warehouse with its MFG floor, some storage bins and one part."""

    warehouse: Warehouse
    floor: Location
    bins: list[Location]
    part: Part


async def a_site(session: AsyncSession, *, bins: int = 2) -> Site:
    warehouse = await a_warehouse(session)
    floor = await location_service.mfg_location(session, warehouse.id)
    storage = [await a_location(session, warehouse, code=f"BIN-{i + 1}") for i in range(bins)]
    part = await a_part(session)
    return Site(warehouse=warehouse, floor=floor, bins=storage, part=part)


async def stock_in(
    session: AsyncSession, part: Part, location: Location, qty: int, pcn: str | None = None
) -> Lot:
    receipt = await stock_service.receive(
        session, part_number=part.number, qty=qty, location_id=location.id, pcn=pcn
    )
    return receipt.lot


async def balances(session: AsyncSession, lot_id: int) -> dict[int, int]:
    """location id -> qty for a lot (zero rows included)."""
    rows = await session.execute(
        select(StockBalance.location_id, StockBalance.qty).where(StockBalance.lot_id == lot_id)
    )
    return dict(rows.tuples().all())


async def all_balances(session: AsyncSession) -> dict[tuple[int, int], int]:
    rows = await session.execute(
        select(StockBalance.lot_id, StockBalance.location_id, StockBalance.qty)
    )
    return {(lot, loc): qty for lot, loc, qty in rows.tuples()}


async def ledger(session: AsyncSession, lot_id: int | None = None) -> list[StockTransaction]:
    query = select(StockTransaction).order_by(StockTransaction.id)
    if lot_id is not None:
        query = query.where(StockTransaction.lot_id == lot_id)
    return list(await session.scalars(query))


async def replayed(session: AsyncSession) -> dict[tuple[int, int], int]:
    """(lot, location) -> qty computed from the ledger alone, zero entries dropped."""
    totals: dict[tuple[int, int], int] = {}
    for entry in await ledger(session):
        if entry.to_location_id is not None:
            key = (entry.lot_id, entry.to_location_id)
            totals[key] = totals.get(key, 0) + entry.qty
        if entry.from_location_id is not None:
            key = (entry.lot_id, entry.from_location_id)
            totals[key] = totals.get(key, 0) - entry.qty
    return {k: v for k, v in totals.items() if v}


def non_zero(mapping: dict[tuple[int, int], int]) -> dict[tuple[int, int], int]:
    return {k: v for k, v in mapping.items() if v}
