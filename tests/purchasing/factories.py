"""Factories and probes for suppliers, supplier parts and purchase orders (through the
real services, which commit; the database is emptied after every test)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.purchasing import service as purchasing_service
from kosh.purchasing.models import PurchaseOrder, PurchaseOrderLine, PurchaseReceipt
from kosh.purchasing.schemas import OrderLineIn, PriceBreak, SupplierCreate, SupplierPartCreate
from kosh.stock.models import StockTransaction
from tests.support.stock import Site, a_location, a_site

_serial = itertools.count(1)


@dataclass(frozen=True)
class Buying:
    """A site with a supplier offering its part (SKU, MPN, pack size), as plain values."""

    site: Site
    supplier_code: str
    sku: str
    mpn: str
    supplier_part_id: int
    receiving_id: int


async def a_supplier(session: AsyncSession, code: str | None = None, **fields: object) -> str:
    code = code or f"SUP{next(_serial)}"
    data = SupplierCreate(code=code, name=f"Supplier {code}", **fields)  # type: ignore[arg-type]
    await purchasing_service.create_supplier(session, data=data)
    return code


async def an_offer(
    session: AsyncSession,
    *,
    supplier_code: str,
    part_number: str,
    sku: str | None = None,
    pack_size: int = 1,
    min_order_qty: int = 1,
    prices: list[tuple[int, str]] | None = None,
    preferred: bool = False,
    mpn: str | None = None,
) -> int:
    data = SupplierPartCreate(
        supplier_code=supplier_code,
        part_number=part_number,
        sku=sku or f"SKU-{next(_serial)}",
        mpn=mpn,
        pack_size=pack_size,
        min_order_qty=min_order_qty,
        preferred=preferred,
        prices=[PriceBreak(min_qty=q, unit_price=Decimal(p)) for q, p in (prices or [(1, "0.10")])],
    )
    sp = await purchasing_service.create_supplier_part(session, data=data)
    return sp.id


async def buying(session: AsyncSession, *, pack_size: int = 1) -> Buying:
    site = await a_site(session)
    receiving = await a_location(session, site.warehouse_id, code="GOODS-IN", kind="receiving")
    code = await a_supplier(session)
    n = next(_serial)
    sku, mpn = f"296-{n}-1-ND", f"LM358DR-{n}"
    sp_id = await an_offer(
        session,
        supplier_code=code,
        part_number=site.part_number,
        sku=sku,
        mpn=mpn,
        pack_size=pack_size,
        prices=[(1, "0.50"), (100, "0.40"), (1000, "0.30")],
        preferred=True,
    )
    return Buying(
        site=site,
        supplier_code=code,
        sku=sku,
        mpn=mpn,
        supplier_part_id=sp_id,
        receiving_id=receiving.id,
    )


async def a_po(
    session: AsyncSession,
    b: Buying,
    qty: int = 100,
    *,
    place: bool = True,
    expected: object = None,
) -> tuple[int, str, int]:
    """A purchase order of `qty` of the site's part; answers (order id, number, line id)."""
    order = await purchasing_service.create_order(
        session,
        supplier_code=b.supplier_code,
        warehouse_id=b.site.warehouse_id,
        lines=[OrderLineIn(supplier_sku=b.sku, qty=qty, expected_date=expected)],  # type: ignore[arg-type]
    )
    if place:
        order = await purchasing_service.place(session, order_id=order.id)
    return order.id, order.number, order.lines[0].id


async def line_state(session: AsyncSession, line_id: int) -> PurchaseOrderLine:
    line = await session.get(PurchaseOrderLine, line_id, populate_existing=True)
    assert line is not None
    return line


async def order_status(session: AsyncSession, order_id: int) -> str:
    status = await session.scalar(
        select(PurchaseOrder.status)
        .where(PurchaseOrder.id == order_id)
        .execution_options(populate_existing=True)
    )
    return str(status)


async def ledger_units(session: AsyncSession, reference: str) -> int:
    """Receipts minus reversals in the ledger for a PO (by its number as reference)."""
    rows = await session.execute(
        select(StockTransaction.kind, func.sum(StockTransaction.qty))
        .where(StockTransaction.reference == reference)
        .group_by(StockTransaction.kind)
    )
    sums = dict(rows.all())
    return int(sums.get("receive", 0)) - int(sums.get("receipt_reversal", 0))


async def receipt_units(session: AsyncSession, order_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(PurchaseReceipt.qty), 0)).where(
            PurchaseReceipt.order_id == order_id, PurchaseReceipt.reversed_at.is_(None)
        )
    )
    return int(total or 0)


Headers = dict[str, str]


@dataclass
class World:
    warehouse_id: int
    bin_id: int
    goods_in_id: int
    part_id: int
    order_id: int
    number: str
    line_id: int


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()
