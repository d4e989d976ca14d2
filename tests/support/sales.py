"""Factories and probes for customers, sales orders and reservations (they commit through
the real services; the database is emptied after every test)."""

from __future__ import annotations

import itertools
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.sales import service as sales_service
from kosh.sales.models import Customer, SalesOrder, SalesOrderLine, StockReservation
from kosh.stock.models import StockTransaction

_serial = itertools.count(1)


async def a_customer(session: AsyncSession, **fields: object) -> Customer:
    n = next(_serial)
    return await sales_service.create_customer(
        session,
        name=str(fields.pop("name", f"Customer {n}")),
        email=fields.pop("email", f"customer{n}@example.com"),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


async def an_order(
    session: AsyncSession,
    *,
    customer_id: int,
    warehouse_id: int,
    lines: list[tuple[str, int]],
    price: Decimal = Decimal("10.00"),
    confirm: bool = False,
    backorder: bool = False,
) -> int:
    order = await sales_service.create_order(
        session,
        customer_id=customer_id,
        warehouse_id=warehouse_id,
        lines=[
            sales_service.LineRequest(part_number=number, qty=qty, unit_price=price)
            for number, qty in lines
        ],
        confirm=confirm,
        backorder=backorder,
    )
    return order.id


async def order_state(session: AsyncSession, order_id: int) -> SalesOrder:
    """The order and its lines read in a fresh transaction, detached (a snapshot that later
    reads and rollbacks leave alone)."""
    await session.rollback()
    session.expunge_all()
    order = await sales_service.get_order(session, order_id)
    session.expunge_all()
    await session.rollback()
    return order


async def reserved_total(session: AsyncSession, part_id: int, warehouse_id: int) -> int:
    found = await session.scalar(
        select(StockReservation.qty_reserved).where(
            StockReservation.part_id == part_id, StockReservation.warehouse_id == warehouse_id
        )
    )
    return int(found or 0)


async def line_reservations(session: AsyncSession, part_id: int) -> int:
    found = await session.scalar(
        select(func.coalesce(func.sum(SalesOrderLine.qty_reserved), 0)).where(
            SalesOrderLine.part_id == part_id
        )
    )
    return int(found or 0)


async def ship_ledger(session: AsyncSession, reference: str) -> list[StockTransaction]:
    return list(
        await session.scalars(
            select(StockTransaction)
            .where(StockTransaction.reference == reference, StockTransaction.kind == "ship")
            .order_by(StockTransaction.id)
        )
    )
