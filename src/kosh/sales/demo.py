"""Sales demo data for `kosh demo-data`: three customers and their orders in the states the
sales desk works with (a draft, one confirmed with its stock reserved, one shipped with
carrier and tracking number).

Everything goes through the sales use cases (reservations, the shipping ledger rows, audit).
A re-run changes nothing: the orders are made only with a demo customer that is new."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import DomainError
from kosh.sales import service as sales_service

CUSTOMERS = (
    ("Ada Fischer", "ada.fischer@example.com", "Fischer Robotics GmbH"),
    ("Bram de Vries", "bram@example.net", "Polder Drones B.V."),
    ("Chiara Rossi", "chiara.rossi@example.org", None),
)
# customer index, (part number, qty, unit price), what happens to the order
ORDERS = (
    (0, (("IC-STM32F103", 20, "4.90"), ("J-USBC-16P", 20, "0.95")), "shipped"),
    (1, (("IC-ESP32-WROOM", 10, "3.80"), ("IC-LM358", 50, "0.32")), "confirmed"),
    (2, (("SW-TACT-6MM", 100, "0.12"),), "draft"),
)


async def shipped_demo_order(session: AsyncSession) -> int | None:
    """The demo order that shipped (for the quality demo's return), if any."""
    customers, _ = await sales_service.list_customers(session, q=CUSTOMERS[0][1], limit=1)
    if not customers:
        return None
    orders, _ = await sales_service.list_orders(
        session, customer_id=customers[0].id, status="shipped", limit=1
    )
    return orders[0].id if orders else None


async def load_sales_demo(session: AsyncSession, *, warehouse_id: int) -> list[str]:
    """Answers the numbers of the orders made (none when the demo customers exist)."""
    customers, _ = await sales_service.list_customers(session, q=CUSTOMERS[0][1], limit=1)
    if customers:
        return []
    ids = []
    for name, email, company in CUSTOMERS:
        customer = await sales_service.create_customer(
            session,
            name=name,
            email=email,
            company=company,
            shipping_address={"line1": "1 Demo Street", "city": "Hamburg", "country": "DE"},
        )
        ids.append(customer.id)
    made = []
    for who, lines, state in ORDERS:
        order = await sales_service.create_order(
            session,
            customer_id=ids[who],
            warehouse_id=warehouse_id,
            lines=[
                sales_service.LineRequest(part_number=number, qty=qty, unit_price=Decimal(price))
                for number, qty, price in lines
            ],
            notes="Demo order (kosh demo-data).",
        )
        order_id, number = order.id, order.number
        made.append(number)
        try:
            if state in ("confirmed", "shipped"):
                await sales_service.confirm(session, order_id=order_id)
            if state == "shipped":
                await sales_service.ship(
                    session, order_id=order_id, carrier="DHL", tracking_number="JJD0001234567"
                )
        except DomainError:  # not enough stock on this run's random receipts: leave it
            continue
    return made
