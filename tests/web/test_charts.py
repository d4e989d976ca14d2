"""Line charts over time: stock of a part on its page (from the ledger), movements per day
on the dashboard, web orders per hour on the storefront page. Day and hour boundaries are
UTC on both engines."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.sales import figures as sales_figures
from kosh.sales.models import SalesOrder
from kosh.stock import service as stock_service
from kosh.stock import trends as stock_trends
from kosh.stock.models import StockTransaction
from kosh.storefront import service as storefront_service
from kosh.web.chart import line_chart
from tests.support.fixtures import MakeUser
from tests.support.sales import a_customer, an_order
from tests.support.stock import a_location, a_part, a_warehouse
from tests.web.test_no_inline_code import inline_code

Login = Callable[..., Awaitable[Any]]
HTML = {"accept": "text/html"}
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


async def _dated(session: AsyncSession, entry_id: int, at: datetime) -> None:
    await session.execute(
        update(StockTransaction).where(StockTransaction.id == entry_id).values(at=at)
    )
    await session.commit()


def _table_rows(html: str, key: str) -> list[tuple[str, str]]:
    figure = html.split(f'data-testid="chart-{key}"', 1)[1].split("</figure>", 1)[0]
    return re.findall(r'<tr><td>([^<]*)</td><td class="num">([^<]*)</td></tr>', figure)


def test_line_chart_places_points_from_zero_to_the_top_and_draws_steps() -> None:
    rows = [("a", 0), ("b", 10), ("c", 5)]
    steps = line_chart(
        "s", title="T", description="D", column="C", value_column="V", rows=rows, step=True
    )
    # evenly from the left axis (48) to the right edge (352); 0 on the baseline (140),
    # the largest value at the top of the plot (8), half of it half-way
    assert [(p.x, p.y) for p in steps.points] == [(48, 140), (200, 8), (352, 74)]
    assert steps.path == "M48 140 H200 V8 H352 V74"
    assert steps.top_shown == "10"
    assert steps.has_data
    line = line_chart("l", title="T", description="D", column="C", value_column="V", rows=rows)
    assert line.path == "M48 140 L200 8 L352 74"
    empty = line_chart(
        "e", title="T", description="D", column="C", value_column="V", rows=[("a", 0)]
    )
    assert not empty.has_data
    assert (
        line_chart("n", title="T", description="D", column="C", value_column="V", rows=[]).path
        == ""
    )


async def test_on_hand_per_day_follows_the_ledger_with_utc_day_boundaries(
    session: AsyncSession,
) -> None:
    # given a part with an old receipt, a receipt one instant before midnight, a transfer
    # between locations and a consumption at midnight exactly, and another part's receipt
    warehouse = await a_warehouse(session)
    warehouse_id = warehouse.id
    bin_a = (await a_location(session, warehouse_id)).id
    bin_b = (await a_location(session, warehouse_id)).id
    part = await a_part(session, "TR-1")
    part_id = part.id
    await a_part(session, "TR-OTHER")
    old = await stock_service.receive(session, part_number="TR-1", qty=5, location_id=bin_a)
    await _dated(session, old.entry.id, NOW - timedelta(days=100))
    late = await stock_service.receive(session, part_number="TR-1", qty=10, location_id=bin_a)
    pcn = late.lot.pcn
    await _dated(session, late.entry.id, datetime(2026, 3, 7, 23, 59, 59, tzinfo=UTC))
    moved = await stock_service.transfer(
        session, pcn=pcn, qty=4, from_location_id=bin_a, to_location_id=bin_b
    )
    await _dated(session, moved.entry.id, datetime(2026, 3, 8, tzinfo=UTC))
    used = await stock_service.consume(
        session, pcn=pcn, qty=3, location_id=bin_b, reason="test build"
    )
    await _dated(session, used.entry.id, datetime(2026, 3, 9, tzinfo=UTC))
    other = await stock_service.receive(session, part_number="TR-OTHER", qty=99, location_id=bin_a)
    await _dated(session, other.entry.id, datetime(2026, 3, 8, tzinfo=UTC))

    # when read for the five days up to NOW
    days = await stock_trends.on_hand_per_day(session, part_id, days=5, now=NOW)

    # then the end-of-day totals: the old stock, +10 on the 7th, the transfer changes
    # nothing, -3 from the 9th; the other part is not counted
    assert [d.isoformat() for d, _ in days] == [f"2026-03-{d:02d}" for d in range(6, 11)]
    assert [qty for _, qty in days] == [5, 15, 15, 12, 12]

    # and movements per day counts every ledger row in its own UTC day
    moves = await stock_trends.movements_per_day(session, days=5, now=NOW)
    assert [count for _, count in moves] == [0, 1, 2, 1, 0]


async def test_part_page_shows_stock_over_time_and_an_empty_state(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    await login(client, await make_user("viewer"))
    warehouse = await a_warehouse(session)
    bin_id = (await a_location(session, warehouse.id)).id
    empty_id = (await a_part(session, "CH-EMPTY")).id
    part_id = (await a_part(session, "CH-1")).id
    receipt = await stock_service.receive(session, part_number="CH-1", qty=7, location_id=bin_id)
    await _dated(session, receipt.entry.id, datetime.now(UTC) - timedelta(days=2))
    await stock_service.receive(session, part_number="CH-1", qty=3, location_id=bin_id)

    page = (await client.get(f"/parts/{part_id}", headers=HTML)).text

    assert 'aria-labelledby="chart-part-stock-svg-title chart-part-stock-desc"' in page
    rows = _table_rows(page, "part-stock")
    assert len(rows) == 90
    today = datetime.now(UTC)
    assert rows[-1] == (today.strftime("%d %b"), "10")
    assert rows[-2] == ((today - timedelta(days=1)).strftime("%d %b"), "7")
    assert rows[-3] == ((today - timedelta(days=2)).strftime("%d %b"), "7")
    assert rows[-4] == ((today - timedelta(days=3)).strftime("%d %b"), "0")
    assert "highest 10." in page
    assert re.search(r'<path class="chart-line" d="M48 140 H[\d.]+ V140 ', page)
    assert inline_code(page) == []

    empty = (await client.get(f"/parts/{empty_id}", headers=HTML)).text
    figure = empty.split('data-testid="chart-part-stock"', 1)[1].split("</figure>", 1)[0]
    assert "No stock in the last 90 days." in figure
    assert "<svg" not in figure


async def test_dashboard_charts_movements_per_day_once_there_are_any(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    await login(client, await make_user("viewer"))
    assert 'data-testid="chart-movements"' not in (await client.get("/", headers=HTML)).text

    warehouse = await a_warehouse(session)
    bin_id = (await a_location(session, warehouse.id)).id
    await a_part(session, "MV-1")
    for qty in (1, 2):
        await stock_service.receive(session, part_number="MV-1", qty=qty, location_id=bin_id)
    old = await stock_service.receive(session, part_number="MV-1", qty=3, location_id=bin_id)
    await _dated(session, old.entry.id, datetime.now(UTC) - timedelta(days=29))
    gone = await stock_service.receive(session, part_number="MV-1", qty=4, location_id=bin_id)
    await _dated(session, gone.entry.id, datetime.now(UTC) - timedelta(days=31))

    page = (await client.get("/", headers=HTML)).text

    assert 'aria-labelledby="chart-movements-svg-title chart-movements-desc"' in page
    rows = _table_rows(page, "movements")
    today = datetime.now(UTC)
    assert len(rows) == 30
    assert rows[-1] == (today.strftime("%d %b"), "2")
    assert rows[0] == ((today - timedelta(days=29)).strftime("%d %b"), "1")
    assert sum(int(count) for _, count in rows) == 3
    assert inline_code(page) == []


async def test_web_orders_per_hour_counts_web_orders_in_their_utc_hour(
    session: AsyncSession,
) -> None:
    warehouse = await a_warehouse(session)
    await a_part(session, "WH-1")
    customer = await a_customer(session)
    placed = [
        (NOW.replace(minute=59, second=59), "s"),  # the end of the current hour
        (NOW, "s"),
        (NOW - timedelta(seconds=1), "s"),
        (NOW - timedelta(hours=1), "s"),
        (NOW - timedelta(hours=47), "s"),
        (NOW - timedelta(hours=48), "s"),
        (NOW, None),
    ]
    for n, (at, store) in enumerate(placed):
        order_id = await an_order(
            session, customer_id=customer.id, warehouse_id=warehouse.id, lines=[("WH-1", 1)]
        )
        order = await session.get(SalesOrder, order_id)
        assert order is not None
        order.external_store = store
        order.external_id = str(n) if store else None
        order.created_at = at
    await session.commit()

    hours = await sales_figures.web_orders_per_hour(
        session, hours=48, now=NOW + timedelta(minutes=30)
    )

    assert len(hours) == 48
    assert hours[0][0] == NOW - timedelta(hours=47)
    assert hours[-1][0] == NOW
    counts = dict(hours)
    assert counts[NOW] == 2  # 12:00:00 and 12:59:59, the manual order left out
    assert counts[NOW - timedelta(hours=1)] == 2  # 11:00:00 and 11:59:59
    assert counts[NOW - timedelta(hours=47)] == 1
    assert sum(counts.values()) == 5  # 48 hours back is outside the window


async def test_storefront_page_shows_web_orders_per_hour_and_an_empty_state(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    make_user: MakeUser,
    login: Login,
) -> None:
    await login(client, await make_user("operator"))
    empty = (await client.get("/storefront", headers=HTML)).text
    figure = empty.split('data-testid="chart-web-orders-hourly"', 1)[1].split("</figure>", 1)[0]
    assert "No web orders in the last 48 hours." in figure

    warehouse = await a_warehouse(session)
    await a_part(session, "WS-1")
    await storefront_service.create_store(
        session,
        settings=settings,
        code="shop",
        kind="woocommerce",
        base_url="https://shop.example.com",
        webhook_secret="s" * 32,
        warehouse_id=warehouse.id,
    )
    customer = await a_customer(session)
    for n in range(3):
        order_id = await an_order(
            session, customer_id=customer.id, warehouse_id=warehouse.id, lines=[("WS-1", 1)]
        )
        order = await session.get(SalesOrder, order_id)
        assert order is not None
        order.external_store, order.external_id = "shop", str(n)
    await session.commit()

    page = (await client.get("/storefront", headers=HTML)).text

    rows = _table_rows(page, "web-orders-hourly")
    assert len(rows) == 48
    this_hour = datetime.now(UTC)
    # the hour the orders arrived in is the last row (the one before if the hour has just turned)
    assert rows[-1] == (this_hour.strftime("%a %H:00"), "3") or rows[-2] == (
        (this_hour - timedelta(hours=1)).strftime("%a %H:00"),
        "3",
    )
    assert sum(int(count) for _, count in rows) == 3
    assert "highest 3." in page
    assert inline_code(page) == []
