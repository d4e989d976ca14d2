"""Shipments of a sales order: each call of `ship` records one (the lines and units that
left, carrier, tracking number, time). Joins the caller's transaction; never commits.

The rows are written once and never edited; what other features need of a shipment (the
web store's sync back, a packing slip) they read through `notice` and `list_for_order`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from kosh.core.db import utcnow
from kosh.core.errors import NotFoundError
from kosh.sales.models import SalesOrder, Shipment, ShipmentLine


@dataclass(frozen=True)
class ShippedUnits:
    order_line_id: int
    part_id: int
    qty: int


async def record(
    session: AsyncSession,
    order: SalesOrder,
    *,
    shipped: Sequence[ShippedUnits],
    carrier: str | None,
    tracking_number: str | None,
) -> Shipment:
    """Insert the shipment `<order number>-S<n>` with its lines (flushed)."""
    count = await session.scalar(
        select(func.count()).select_from(Shipment).where(Shipment.order_id == order.id)
    )
    shipment = Shipment(
        order_id=order.id,
        number=f"{order.number}-S{int(count or 0) + 1}",
        carrier=carrier or None,
        tracking_number=tracking_number or None,
        shipped_at=utcnow(),
        lines=[
            ShipmentLine(order_line_id=unit.order_line_id, part_id=unit.part_id, qty=unit.qty)
            for unit in shipped
        ],
    )
    session.add(shipment)
    await session.flush()
    return shipment


async def list_for_order(session: AsyncSession, order_id: int) -> list[Shipment]:
    """The order's shipments with their lines, oldest first."""
    rows = await session.scalars(
        select(Shipment)
        .where(Shipment.order_id == order_id)
        .options(selectinload(Shipment.lines))
        .order_by(Shipment.id)
    )
    return list(rows)


async def get_or_raise(session: AsyncSession, shipment_id: int) -> Shipment:
    shipment = await session.scalar(
        select(Shipment).where(Shipment.id == shipment_id).options(selectinload(Shipment.lines))
    )
    if shipment is None:
        raise NotFoundError(f"No shipment with id {shipment_id}.", code="shipment_not_found")
    return shipment


@dataclass(frozen=True)
class Tracking:
    carrier: str | None
    tracking_number: str
    shipped_at: datetime


@dataclass(frozen=True)
class ShipmentNotice:
    """What an outside party hears of a shipment (the web store's sync back)."""

    shipment_id: int
    shipment_number: str
    order_id: int
    order_number: str
    external_store: str | None
    external_id: str | None
    complete: bool  # the order has shipped in full
    lines: list[tuple[int, int]]  # (order line number, units)
    carrier: str | None
    tracking_number: str | None
    shipped_at: datetime
    # every tracked shipment of the order so far, oldest first (this one included)
    all_tracking: list[Tracking]


async def notice(session: AsyncSession, shipment_id: int) -> ShipmentNotice | None:
    """The shipment as an outside party hears of it, or None when it is gone."""
    shipment = await session.scalar(
        select(Shipment).where(Shipment.id == shipment_id).options(selectinload(Shipment.lines))
    )
    if shipment is None:
        return None
    order = await session.scalar(
        select(SalesOrder)
        .where(SalesOrder.id == shipment.order_id)
        .options(selectinload(SalesOrder.lines))
    )
    if order is None:  # pragma: no cover - a foreign key keeps it
        return None
    line_no = {line.id: line.line_no for line in order.lines}
    tracked = [
        Tracking(s.carrier, s.tracking_number, s.shipped_at)
        for s in await list_for_order(session, order.id)
        if s.tracking_number and s.id <= shipment.id
    ]
    return ShipmentNotice(
        shipment_id=shipment.id,
        shipment_number=shipment.number,
        order_id=order.id,
        order_number=order.number,
        external_store=order.external_store,
        external_id=order.external_id,
        complete=order.status == "shipped",
        lines=[(line_no[line.order_line_id], line.qty) for line in shipment.lines],
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        shipped_at=shipment.shipped_at,
        all_tracking=tracked,
    )
