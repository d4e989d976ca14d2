"""Purchasing demo data for `kosh demo-data`: suppliers (DigiKey, Mouser, LCSC), their
offers of some demo parts with packs, minimum orders and price breaks, reorder rules in
warehouse MAIN, and one placed purchase order partly received (one bag typed, one scanned
from a DigiKey label), so goods-in, on order and the suggestions page are not empty.

Everything goes through the purchasing use cases (audited, ledger rows through the stock
feature). A re-run changes nothing: suppliers are made only when their code is new, offers
are imported by (supplier, SKU) (an existing one is left as it is), rules are put again
with the same values, and the order is made only when no demo order exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.locations import service as location_service
from kosh.purchasing import service as purchasing_service
from kosh.purchasing import suppliers
from kosh.purchasing.barcode import encode_ecia
from kosh.purchasing.models import PurchaseOrder
from kosh.purchasing.receiving import Bag
from kosh.purchasing.schemas import OrderLineIn, PriceBreak, SupplierCreate, SupplierPartCreate
from kosh.stock.demo import DemoResult

WAREHOUSE = "MAIN"
ORDER_NOTES = "Demo order (kosh demo-data)."

SUPPLIERS = (
    SupplierCreate(
        code="DIGIKEY",
        name="DigiKey",
        contact="Sales desk",
        email="sales@example.com",
        currency="USD",
        lead_time_days=3,
    ),
    SupplierCreate(code="MOUSER", name="Mouser Electronics", currency="EUR", lead_time_days=4),
    SupplierCreate(code="LCSC", name="LCSC Electronics", currency="USD", lead_time_days=10),
)


@dataclass(frozen=True)
class DemoOffer:
    supplier: str
    part_number: str
    sku: str
    pack: int
    prices: tuple[tuple[int, str], ...]
    preferred: bool = False
    min_order: int = 1


OFFERS = (
    DemoOffer(
        "DIGIKEY",
        "IC-LM358",
        "296-1395-1-ND",
        1,
        ((1, "0.4500"), (100, "0.3120"), (2500, "0.1980")),
        True,
    ),
    DemoOffer("MOUSER", "IC-LM358", "595-LM358DR", 1, ((1, "0.4300"), (100, "0.3300"))),
    DemoOffer("DIGIKEY", "IC-NE555", "296-6501-1-ND", 1, ((1, "0.5200"), (100, "0.3500")), True),
    DemoOffer(
        "DIGIKEY",
        "IC-STM32F103",
        "497-6063-ND",
        1,
        ((1, "4.6100"), (10, "4.1500"), (100, "3.5600")),
        True,
    ),
    DemoOffer(
        "MOUSER", "IC-ESP32-WROOM", "356-ESP32WRM32EN4", 1, ((1, "3.9000"), (10, "3.6000")), True
    ),
    DemoOffer("LCSC", "R-0402-10K", "C25744", 10000, ((10000, "0.0009"),), True, 10000),
    DemoOffer("LCSC", "C-0402-100N", "C1525", 10000, ((10000, "0.0011"),), True, 10000),
    DemoOffer("MOUSER", "C-0402-100N", "81-GRM155R71C104KA8D", 10000, ((10000, "0.0030"),)),
    DemoOffer("LCSC", "IC-AMS1117-33", "C6186", 50, ((50, "0.0850"), (500, "0.0710")), True, 50),
    DemoOffer(
        "DIGIKEY", "J-USBC-16P", "2073-USB4085-GF-ACT-ND", 1, ((1, "0.9800"), (50, "0.7900")), True
    ),
)

# part -> (min, max) in MAIN; the ESP32 modules and the LDOs are always short (the demo
# site holds at most 600 and 15,000 of them), so the suggestions page has rows
RULES = {
    "IC-LM358": (500, 2500),
    "IC-STM32F103": (100, 250),
    "IC-ESP32-WROOM": (1000, 2000),
    "R-0402-10K": (5000, 20000),
    "IC-AMS1117-33": (20000, 40000),
}


async def _warehouse_id(session: AsyncSession) -> int | None:
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=200)
    return next((w.id for w in warehouses if w.code == WAREHOUSE), None)


async def with_purchasing(session: AsyncSession, site: DemoResult) -> DemoResult:
    """The demo site's result, after adding the purchasing demo to it (on every run)."""
    said = await load_purchasing_demo(session)
    return DemoResult(site.created, f"{site.message} {said[:1].upper()}{said[1:]}.")


async def load_purchasing_demo(session: AsyncSession) -> str:
    """Add the purchasing demo to the demo site; answers one sentence saying what it did
    (nothing without warehouse MAIN or its parts; nothing new on a re-run)."""
    warehouse_id = await _warehouse_id(session)
    if warehouse_id is None:
        return "no purchasing demo (no warehouse MAIN)"
    known = [o for o in OFFERS if await part_service.get_part_by_number(session, o.part_number)]
    if not known:
        return "no purchasing demo (the demo parts are missing)"
    made = 0
    for data in SUPPLIERS:
        if await suppliers.get_supplier_by_code(session, data.code) is None:
            await purchasing_service.create_supplier(session, data=data)
            made += 1
    new_offers = []
    for offer in known:
        supplier = await suppliers.get_supplier_by_code_or_raise(session, offer.supplier)
        if await suppliers.find_offer(session, supplier_id=supplier.id, sku=offer.sku) is None:
            new_offers.append(_offer(offer))
    if new_offers:
        await purchasing_service.import_supplier_parts(session, rows=new_offers)
    offered = {o.part_number for o in known}
    for number, (low, high) in RULES.items():
        if number in offered:
            await purchasing_service.set_reorder_rule(
                session, part_number=number, warehouse_id=warehouse_id, min_qty=low, max_qty=high
            )
    order_number = await _demo_order(session, warehouse_id, offered)
    return (
        f"purchasing: {made} suppliers and {len(new_offers)} offers added, "
        f"{len(RULES)} reorder rules, demo order {order_number or 'skipped'}"
    )


def _offer(offer: DemoOffer) -> SupplierPartCreate:
    return SupplierPartCreate(
        supplier_code=offer.supplier,
        part_number=offer.part_number,
        sku=offer.sku,
        pack_size=offer.pack,
        min_order_qty=offer.min_order,
        preferred=offer.preferred,
        prices=[PriceBreak(min_qty=q, unit_price=Decimal(p)) for q, p in offer.prices],
    )


async def _demo_order(session: AsyncSession, warehouse_id: int, offered: set[str]) -> str | None:
    """A DigiKey order of three lines, placed; the op-amps arrive in full (typed), the
    MCUs half (scanned from the distributor's label), the connectors not yet."""
    existing = await session.scalar(
        select(PurchaseOrder.number).where(PurchaseOrder.notes == ORDER_NOTES)
    )
    if existing is not None:
        return str(existing)
    wanted = ("IC-LM358", "IC-STM32F103", "J-USBC-16P")
    if not set(wanted) <= offered:
        return None
    goods_in = await location_service.location_of_kind(session, warehouse_id, "receiving")
    if goods_in is None:
        return None
    order = await purchasing_service.create_order(
        session,
        supplier_code="DIGIKEY",
        warehouse_id=warehouse_id,
        lines=[
            OrderLineIn(part_number="IC-LM358", qty=500),
            OrderLineIn(part_number="IC-STM32F103", qty=100),
            OrderLineIn(part_number="J-USBC-16P", qty=200),
        ],
        notes=ORDER_NOTES,
    )
    order = await purchasing_service.place(session, order_id=order.id)
    first, second = order.lines[0].id, order.lines[1].id
    label = encode_ecia(
        [
            ("P", "497-6063-ND"),
            ("1P", "STM32F103C8T6"),
            ("K", order.number),
            ("1T", "GQ2K9 93"),
            ("10D", "2544"),
            ("4L", "CN"),
            ("Q", "50"),
        ]
    )
    await purchasing_service.receive(
        session,
        order_id=order.id,
        location_id=goods_in.id,
        bags=[
            Bag(line_id=first, qty=500, lot_code="3215847", date_code="2538", country="PH"),
            Bag(line_id=second, barcode=label),
        ],
    )
    return order.number
