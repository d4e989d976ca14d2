"""The dashboard: the first-run checklist (each step ticked by the data it asks for, gone
once all are done) and its charts (server-rendered SVG with a title, a description and a
table of the same figures)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts import service as alert_service
from kosh.bom.models import Bom, BomLine
from kosh.core.config import Settings
from kosh.production import service as job_service
from kosh.sales import figures as sales_figures
from kosh.sales.models import SalesOrder
from kosh.stock import service as stock_service
from kosh.storefront import service as storefront_service
from kosh.web.chart import bar_chart
from tests.support.fixtures import MakeUser
from tests.support.sales import a_customer, an_order
from tests.support.stock import a_location, a_part, a_warehouse
from tests.web.test_no_inline_code import inline_code

Login = Callable[..., Awaitable[Any]]
HTML = {"accept": "text/html"}


def steps(html: str) -> list[tuple[str, str]]:
    """(state, label) of each checklist step."""
    return re.findall(
        r'<li class="(done|todo)" data-testid="setup-step">.*?<a href="[^"]+">([^<]+)</a>',
        html,
        flags=re.S,
    )


async def test_an_empty_install_says_what_to_do_first(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given an empty installation
    await login(client, await make_user("admin"))

    # when the dashboard is opened
    page = await client.get("/", headers=HTML)

    # then every step is to do, in order, each a link
    assert page.status_code == 200
    assert steps(page.text) == [
        ("todo", "Create a warehouse"),
        ("todo", "Add its bins"),
        ("todo", "Add parts or import opening stock"),
        ("todo", "Import a BOM"),
        ("todo", "Connect a shop"),
    ]
    for href in ("/warehouses", "/locations", "/parts", "/boms/import", "/storefront"):
        assert f'href="{href}"' in page.text
    assert "0 of 5 done." in page.text
    assert inline_code(page.text) == []
    assert 'data-testid="chart-' not in page.text  # nothing to chart yet


async def test_steps_tick_as_the_data_arrives_and_the_list_goes_when_all_are_done(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    make_user: MakeUser,
    login: Login,
) -> None:
    await login(client, await make_user("viewer"))
    # given a warehouse (its MFG floor is no bin) and a part
    warehouse = await a_warehouse(session)
    warehouse_id = warehouse.id
    await a_part(session, "ASM-1")
    page = await client.get("/", headers=HTML)
    assert steps(page.text) == [
        ("done", "Create a warehouse"),
        ("todo", "Add its bins"),
        ("done", "Add parts or import opening stock"),
        ("todo", "Import a BOM"),
        ("todo", "Connect a shop"),
    ]
    assert "2 of 5 done." in page.text

    # when the bins, a BOM and a shop follow
    await a_location(session, warehouse_id, code="A-01")
    assembly = await a_part(session, "ASM-2")
    session.add(Bom(assembly_part_id=assembly.id, revision="A", status="draft", created_by="t"))
    await session.commit()
    await storefront_service.create_store(
        session,
        settings=settings,
        code="shop",
        kind="woocommerce",
        base_url="https://shop.example.com",
        webhook_secret="s" * 32,
        warehouse_id=warehouse_id,
    )

    # then the checklist is gone
    page = await client.get("/", headers=HTML)
    assert page.status_code == 200
    assert 'data-testid="setup-steps"' not in page.text


async def test_charts_show_low_stock_jobs_and_web_orders_with_a_table_fallback(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    make_user: MakeUser,
    login: Login,
) -> None:
    await login(client, await make_user("viewer"))
    # given two watched parts, one below its reorder point, a planned job and a web order
    warehouse = await a_warehouse(session)
    warehouse_id = warehouse.id
    bin_ = await a_location(session, warehouse_id)
    bin_id = bin_.id
    await a_part(session, "LOW-1", reorder_point=10)
    await a_part(session, "OK-1", reorder_point=1)
    await stock_service.receive(session, part_number="OK-1", qty=5, location_id=bin_id)
    await alert_service.evaluate_alerts(session)
    assembly = await a_part(session, "ASM-9")
    part = await a_part(session, "RES-9")
    bom = Bom(assembly_part_id=assembly.id, revision="A", status="active", created_by="t")
    session.add(bom)
    await session.flush()
    session.add(BomLine(bom_id=bom.id, line_no=1, part_id=part.id, qty=1, refdes="R1"))
    await session.commit()
    await job_service.create_job(
        session, number="J-1", assembly_part_number="ASM-9", qty=1, warehouse_id=warehouse_id
    )
    await storefront_service.create_store(
        session,
        settings=settings,
        code="shop",
        kind="woocommerce",
        base_url="https://shop.example.com",
        webhook_secret="s" * 32,
        warehouse_id=warehouse_id,
    )
    customer = await a_customer(session)
    order_id = await an_order(
        session, customer_id=customer.id, warehouse_id=warehouse_id, lines=[("OK-1", 1)]
    )
    order = await session.get(SalesOrder, order_id)
    assert order is not None
    order.external_store, order.external_id = "shop", "1001"
    await session.commit()

    # when the dashboard is opened
    page = (await client.get("/", headers=HTML)).text

    # then three charts, each an SVG image named by its title and description, with a table
    for key in ("low-stock", "jobs", "web-orders"):
        assert f'data-testid="chart-{key}"' in page
        assert f'aria-labelledby="chart-{key}-svg-title chart-{key}-desc"' in page
    assert "Low stock: 1." in page
    assert "Enough: 1." in page
    assert "planned: 1." in page
    assert '<a href="/jobs?status=planned">planned</a>' in page
    today = datetime.now(UTC).strftime("%a %d %b")
    assert f"{today}: 1." in page
    assert inline_code(page) == []


async def test_web_orders_per_day_counts_only_web_orders_in_their_utc_day(
    session: AsyncSession,
) -> None:
    # given web orders today and two days ago, one nine days ago, and a manual order
    warehouse = await a_warehouse(session)
    warehouse_id = warehouse.id
    await a_part(session, "W-1")
    customer = await a_customer(session)
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    for n, (days_back, store) in enumerate([(0, "s"), (0, "s"), (2, "s"), (9, "s"), (0, None)]):
        order_id = await an_order(
            session, customer_id=customer.id, warehouse_id=warehouse_id, lines=[("W-1", 1)]
        )
        order = await session.get(SalesOrder, order_id)
        assert order is not None
        order.external_store = store
        order.external_id = str(n) if store else None
        order.created_at = now - timedelta(days=days_back, hours=1)
    await session.commit()

    # when counted for the week up to `now`
    days = await sales_figures.web_orders_per_day(session, days=7, now=now)

    # then oldest first, today last, empty days 0, the old and the manual order left out
    assert [d.isoformat() for d, _ in days] == [f"2026-03-{d:02d}" for d in range(4, 11)]
    assert [count for _, count in days] == [0, 0, 0, 0, 1, 0, 2]


def test_bar_chart_scales_to_the_largest_value() -> None:
    chart = bar_chart(
        "t", title="T", description="D", column="C", rows=[("a", 10), ("b", 5), ("c", 0), ("d", 1)]
    )
    widths = [bar.width for bar in chart.bars]
    assert widths[0] == 360 - 110 - 56
    assert widths[1] == widths[0] // 2
    assert widths[2] == 0  # nothing drawn for zero
    assert widths[3] >= 2  # a small value stays visible
    assert chart.has_data
    assert chart.height == 4 * 26
    assert not bar_chart("e", title="E", description="D", column="C", rows=[("a", 0)]).has_data
