"""`kosh demo-data` fills purchasing too: suppliers, offers with price breaks, reorder
rules and a placed order partly received, through the use cases; a re-run adds nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.purchasing import demo as purchasing_demo
from kosh.purchasing import reorder
from kosh.purchasing.models import (
    PurchaseOrder,
    PurchaseReceipt,
    ReorderRule,
    Supplier,
    SupplierPart,
    SupplierPrice,
)
from kosh.stock import demo
from kosh.stock import verify as stock_verify
from kosh.stock.models import Lot, StockTransaction


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def counts(session: AsyncSession) -> tuple[int, ...]:
    return tuple(
        [
            await count(session, model)
            for model in (
                Supplier,
                SupplierPart,
                SupplierPrice,
                ReorderRule,
                PurchaseOrder,
                PurchaseReceipt,
                StockTransaction,
            )
        ]
    )


async def test_demo_site_gets_suppliers_offers_rules_and_a_part_received_order(
    session: AsyncSession,
) -> None:
    # when: the demo site is loaded as `kosh demo-data` does
    result = await purchasing_demo.with_purchasing(session, await demo.load_demo_site(session))
    # then: three suppliers, ten offers with their breaks, five rules
    assert result.created
    assert "Purchasing: 3 suppliers and 10 offers added, 5 reorder rules" in result.message
    assert (await count(session, Supplier), await count(session, SupplierPart)) == (3, 10)
    assert await count(session, SupplierPrice) == sum(len(o.prices) for o in purchasing_demo.OFFERS)
    assert await count(session, ReorderRule) == len(purchasing_demo.RULES)
    # and: one placed DigiKey order, partly received: a typed bag and a scanned label
    order = await session.scalar(select(PurchaseOrder))
    assert order is not None
    assert order.status == "partially_received"
    assert order.number in result.message
    receipts = list(await session.scalars(select(PurchaseReceipt).order_by(PurchaseReceipt.id)))
    assert [(r.qty, r.label_format) for r in receipts] == [(500, None), (50, "ecia")]
    lot = await session.get(Lot, receipts[1].lot_id)
    assert lot is not None
    assert (lot.lot_code, lot.country_of_origin, lot.date_code) == ("GQ2K9 93", "CN", "2544")
    # and: the ledger still replays to the balances, and the suggestions page has rows
    assert await stock_verify.replay_differences(session) == []
    found = await reorder.suggestions(session, warehouse_id=order.warehouse_id)
    assert {"IC-ESP32-WROOM", "IC-AMS1117-33"} <= {s.part_number for s in found}
    assert {s.supplier_code for s in found} >= {"MOUSER", "LCSC"}


async def test_demo_data_twice_adds_no_purchasing_rows(session: AsyncSession) -> None:
    # given: a loaded demo
    await purchasing_demo.with_purchasing(session, await demo.load_demo_site(session))
    before = await counts(session)
    # when: run again (the stock part refuses, purchasing finds everything there)
    again = await purchasing_demo.with_purchasing(session, await demo.load_demo_site(session))
    # then: nothing new
    assert not again.created
    assert "0 suppliers and 0 offers added" in again.message
    assert await counts(session) == before


async def test_purchasing_demo_without_the_demo_site_does_nothing(session: AsyncSession) -> None:
    assert await purchasing_demo.load_purchasing_demo(session) == (
        "no purchasing demo (no warehouse MAIN)"
    )
    assert await count(session, Supplier) == 0
