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
from kosh.stock.models import StockBalance, StockTransaction

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
    session: AsyncSession,
    warehouse: Warehouse | int,
    code: str | None = None,
    kind: str = "storage",
) -> Location:
    """A location; pass the warehouse id after a failed use case (a rollback expires
    loaded objects, and reading an expired attribute would need IO)."""
    warehouse_id = warehouse if isinstance(warehouse, int) else warehouse.id
    return await location_service.create_location(
        session, warehouse_id=warehouse_id, code=code or f"B-{next(_serial)}", kind=kind
    )


@dataclass(frozen=True)
class Site:
    """A warehouse with its MFG floor, some storage bins and one part, as plain values
    (a failed use case rolls back and expires loaded objects; plain values stay usable)."""

    warehouse_id: int
    floor_id: int
    bin_ids: list[int]
    part_id: int
    part_number: str


@dataclass(frozen=True)
class LotRef:
    id: int
    pcn: str


async def a_site(session: AsyncSession, *, bins: int = 2) -> Site:
    warehouse = await a_warehouse(session)
    floor = await location_service.mfg_location(session, warehouse.id)
    storage = [await a_location(session, warehouse, code=f"BIN-{i + 1}") for i in range(bins)]
    part = await a_part(session)
    return Site(
        warehouse_id=warehouse.id,
        floor_id=floor.id,
        bin_ids=[b.id for b in storage],
        part_id=part.id,
        part_number=part.number,
    )


async def stock_in(
    session: AsyncSession, part_number: str, location_id: int, qty: int, pcn: str | None = None
) -> LotRef:
    receipt = await stock_service.receive(
        session, part_number=part_number, qty=qty, location_id=location_id, pcn=pcn
    )
    return LotRef(id=receipt.lot.id, pcn=receipt.lot.pcn)


async def balances(session: AsyncSession, lot_id: int) -> dict[int, int]:
    """location id -> qty for a lot (zero rows included)."""
    rows = await session.execute(
        select(StockBalance.location_id, StockBalance.qty).where(StockBalance.lot_id == lot_id)
    )
    return dict(rows.all())


async def all_balances(session: AsyncSession) -> dict[tuple[int, int], int]:
    rows = await session.execute(
        select(StockBalance.lot_id, StockBalance.location_id, StockBalance.qty)
    )
    return {(lot, loc): qty for lot, loc, qty in rows}


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
