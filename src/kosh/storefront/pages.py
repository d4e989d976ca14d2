"""Storefront pages: the dashboard (queue, worker, sync back, stores), the review queue and
one staged order with its payload, reasons and the actions that resolve it (map a SKU,
retry, cancel, undo). Changes go through the JSON API (forms.js)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal, Operator
from kosh.core.db import utcnow
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.types import PathId, SearchText, clean_line
from kosh.locations import service as location_service
from kosh.sales import figures as sales_figures
from kosh.sales import pages as sales_pages
from kosh.sales.models import SalesOrder
from kosh.storefront import service as storefront_service
from kosh.storefront import setup
from kosh.storefront import woocommerce as wc
from kosh.storefront.models import STAGED_STATUSES
from kosh.web import nav
from kosh.web.chart import BarChart, LineChart, bar_chart, line_chart
from kosh.web.pages import DASHBOARD_CHARTS, DASHBOARD_TILES, SETUP_STEPS, SetupStep, Tile
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
PAGE_SIZE = 50

nav.register(nav.NavItem("Web orders", "/storefront", "operator"))


async def _order_panel(session: AsyncSession, order: SalesOrder) -> dict[str, Any]:
    """The sales order page's web-store sections: staged versions, updates sent back."""
    if not order.external_store:
        return {}
    return {
        "staged": await storefront_service.staged_for_order(session, order.id),
        "outbox": await storefront_service.outbox_for_order(session, order.id),
    }


sales_pages.add_order_panel(_order_panel)


async def _tiles(session: Any) -> list[Tile]:
    counts = await storefront_service.queue_counts(session)
    if counts is None:  # no store connected: nothing to show
        return []
    return [
        Tile("Web orders pending", str(counts["pending"]), "/storefront"),
        Tile("Web orders in review", str(counts["review"]), "/storefront/review"),
    ]


DASHBOARD_TILES.append(_tiles)


async def setup_steps(session: AsyncSession) -> list[SetupStep]:
    """First run: a web store sending its orders."""
    stores = await storefront_service.list_stores(session)
    return [SetupStep(50, "Connect a shop", "/storefront", bool(stores))]


async def web_order_chart(session: AsyncSession) -> list[BarChart]:
    """Web orders per day over the last week, once a store is connected."""
    if not await storefront_service.list_stores(session):
        return []
    days = await sales_figures.web_orders_per_day(session, days=7)
    return [
        bar_chart(
            "web-orders",
            title="Web orders per day",
            description="Orders that arrived from the web stores on each of the last 7 days (UTC).",
            column="Day",
            rows=[(day.strftime("%a %d %b"), count) for day, count in days],
            empty="No web orders in the last 7 days.",
        )
    ]


if setup_steps not in SETUP_STEPS:
    SETUP_STEPS.append(setup_steps)
if web_order_chart not in DASHBOARD_CHARTS:
    DASHBOARD_CHARTS.append(web_order_chart)


async def web_orders_per_hour_chart(session: AsyncSession) -> LineChart:
    """Web orders in each hour of the last 48 hours, for the storefront page."""
    hours = await sales_figures.web_orders_per_hour(session, hours=48)
    return line_chart(
        "web-orders-hourly",
        title="Web orders per hour",
        description="Orders that arrived from the web stores in each of the last 48 hours (UTC).",
        column="Hour (UTC)",
        value_column="Orders",
        rows=[(hour.strftime("%a %H:00"), count) for hour, count in hours],
        empty="No web orders in the last 48 hours.",
    )


@router.get("/storefront")
async def dashboard(
    request: Request,
    principal: Operator,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    board = await storefront_service.dashboard(session)
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=200)
    oldest_age = (
        (utcnow() - board.oldest_pending_at).total_seconds() if board.oldest_pending_at else None
    )
    return pages.render(
        request,
        "storefront/dashboard.html",
        {
            "board": board,
            "oldest_age": oldest_age,
            "warehouses": warehouses,
            "is_admin": principal.has_role("admin"),
            "is_manager": principal.has_role("manager"),
            "base_url": (settings.public_url or str(request.base_url)).rstrip("/"),
            "chart": await web_orders_per_hour_chart(session),
        },
    )


@router.get("/storefront/stores/{code}")
async def store_setup(
    request: Request,
    code: Annotated[str, Path(max_length=32), AfterValidator(clean_line)],
    principal: Operator,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """What to enter in WooCommerce, test connection, edit / deactivate."""
    store = await storefront_service.get_store_by_code_or_raise(session, code, loc="code")
    return pages.render(
        request,
        "storefront/store_setup.html",
        {
            "store": store,
            "webhook_url": setup.webhook_url(
                settings, store_code=store.code, request_base=str(request.base_url)
            ),
            "public_url_set": bool(settings.public_url),
            "topics": setup.WEBHOOK_TOPICS,
            "api_version": setup.API_VERSION,
            "is_admin": principal.has_role("admin"),
        },
    )


@router.get("/storefront/stores/{code}/sku-map")
async def sku_map(
    request: Request,
    code: Annotated[str, Path(max_length=32), AfterValidator(clean_line)],
    principal: Operator,
    pages: PagesDep,
    session: SessionDep,
    q: SearchText = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Unmapped SKUs seen in orders first, then the mappings (search), map one, import CSV."""
    store = await storefront_service.get_store_by_code_or_raise(session, code, loc="code")
    mapped, total = await setup.search_sku_map(
        session, store_id=store.id, q=q, limit=PAGE_SIZE, offset=offset
    )
    return pages.render(
        request,
        "storefront/sku_map.html",
        {
            "store": store,
            "unmapped": await setup.unmapped_skus(session, store_id=store.id),
            "mapped": mapped,
            "total": total,
            "q": q or "",
            "older": offset + PAGE_SIZE if offset + PAGE_SIZE < total else None,
            "is_manager": principal.has_role("manager"),
        },
    )


@router.get("/storefront/review")
async def review_queue(
    request: Request,
    principal: Operator,
    pages: PagesDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=20), AfterValidator(clean_line)] = "review",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    status = status if status in STAGED_STATUSES else "review"
    rows, total = await storefront_service.list_staged(
        session, status=status, limit=PAGE_SIZE, offset=offset
    )
    return pages.render(
        request,
        "storefront/review.html",
        {
            "rows": rows,
            "total": total,
            "status": status,
            "statuses": STAGED_STATUSES,
            "offset": offset,
            "older": offset + PAGE_SIZE if offset + PAGE_SIZE < total else None,
            "newer": max(offset - PAGE_SIZE, 0) if offset else None,
            "is_manager": principal.has_role("manager"),
        },
    )


@router.get("/storefront/staged/{staged_id}")
async def staged_detail(
    request: Request,
    staged_id: PathId,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
) -> Response:
    row = await storefront_service.get_staged_or_raise(session, staged_id)
    store = await storefront_service.get_store(session, row.store_id)
    try:
        pretty = json.dumps(wc.load_json(row.body), indent=2, ensure_ascii=False)
    except ValueError:  # also a nesting bomb refused at intake: shown as text
        pretty = row.body
    unmapped = sorted(
        {r["sku"] for r in row.reasons or [] if r.get("code") == "unknown_sku" and r.get("sku")}
    )
    return pages.render(
        request,
        "storefront/staged_detail.html",
        {
            "row": row,
            "store": store,
            "pretty": pretty,
            "unmapped": unmapped,
            "is_manager": principal.has_role("manager"),
        },
    )
