"""Part pages: the searchable, paged list and a part's detail (on hand by location,
floor quantity, total, lots, recent history). Anyone logged in reads; operators and
above also get the forms and links that change things."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.catalog import queries as part_queries
from kosh.catalog import service as part_service
from kosh.catalog.models import Part
from kosh.core.deps import SessionDep
from kosh.core.types import PathId, SearchText
from kosh.locations import service as location_service
from kosh.purchasing import queries as purchasing_queries
from kosh.sales import service as sales_service
from kosh.stock import queries as stock_queries
from kosh.stock import trends as stock_trends
from kosh.web import nav
from kosh.web.chart import LineChart, line_chart
from kosh.web.pages import SETUP_STEPS, SetupStep
from kosh.web.sorting import SortParam, parse_sort
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
PAGE_SIZE = 50
RECENT_HISTORY = 20

nav.register(nav.NavItem("Parts", "/parts", "viewer"))


@router.get("/parts")
async def part_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    q: SearchText = None,
    inactive: bool = False,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    sort: SortParam = None,
) -> Response:
    q = (q or "").strip() or None
    filters = {"q": q, "inactive": "true" if inactive else None}
    order = parse_sort(sort, keys=part_queries.PART_SORTS, default="number", params=filters)
    parts, total = await part_queries.search_parts(
        session,
        q=q,
        active=None if inactive else True,
        sort=order.key,
        descending=order.descending,
        limit=PAGE_SIZE,
        offset=offset,
    )

    def page_query(at: int) -> str:
        params = {**filters, **order.query(), "offset": at or None}
        return urlencode({k: v for k, v in params.items() if v})

    stock = await _stock_columns(session, parts)

    return pages.render(
        request,
        "catalog/part_list.html",
        {
            "parts": parts,
            "sort": order,
            "stock": stock,
            "total": total,
            "q": q or "",
            "inactive": inactive,
            "first": offset + 1 if parts else 0,
            "last": offset + len(parts),
            "older": page_query(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
            "newer": page_query(max(offset - PAGE_SIZE, 0)) if offset else None,
            "export_query": urlencode({k: v for k, v in {"q": q}.items() if v}),
            "can_edit": principal.has_role("operator"),
        },
    )


@router.get("/parts/{part_id}")
async def part_detail(
    request: Request,
    part_id: PathId,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
) -> Response:
    part = await part_service.get_part_or_raise(session, part_id)
    stock = await stock_queries.part_stock(session, part)
    availability = await _availability(session, part.id, stock)
    entries, total = await stock_queries.history(session, part_id=part.id, limit=RECENT_HISTORY)
    chart = await _stock_chart(session, part)
    return pages.render(
        request,
        "catalog/part_detail.html",
        {
            "part": part,
            "stock": stock,
            "availability": availability,
            "entries": entries,
            "history_total": total,
            "can_move": principal.has_role("operator"),
            "chart": chart,
        },
    )


STOCK_CHART_DAYS = 90


async def _stock_chart(session: AsyncSession, part: Part) -> LineChart:
    """On hand at the end of each day over the last 90 days, from the ledger."""
    days = await stock_trends.on_hand_per_day(session, part.id, days=STOCK_CHART_DAYS)
    return line_chart(
        "part-stock",
        title="Stock over the last 90 days",
        description=f"Units of {part.number} on hand at the end of each day (UTC), all locations.",
        column="Day",
        value_column=f"On hand ({part.unit})",
        rows=[(day.strftime("%d %b"), qty) for day, qty in days],
        step=True,
        empty="No stock in the last 90 days.",
    )


async def _stock_columns(
    session: AsyncSession, parts: list[Part]
) -> dict[int, dict[str, int | bool]]:
    """Per listed part: on hand and available over the active warehouses (the sales
    availability query), on order (open purchase order lines), and `low` when available
    is below its reorder point."""
    ids = [p.id for p in parts]
    totals = await sales_service.totals(session, part_ids=ids)
    on_order = dict.fromkeys(ids, 0)
    for line in await purchasing_queries.incoming(session, part_ids=ids):
        on_order[line.part_id] += line.qty
    return {
        p.id: {
            "on_hand": totals[p.id][0],
            "available": totals[p.id][1],
            "on_order": on_order[p.id],
            "low": p.reorder_point > 0 and totals[p.id][1] < p.reorder_point,
        }
        for p in parts
    }


async def _availability(
    session: AsyncSession, part_id: int, stock: stock_queries.PartStock
) -> list[dict[str, object]]:
    """Per warehouse holding the part or expecting it: in storage, reserved by sales
    orders, available, and on order (placed purchase orders)."""
    warehouses = {b.warehouse_id: b.warehouse_code for b in stock.by_location}
    incoming = await purchasing_queries.incoming(session, part_ids=[part_id])
    for line in incoming:
        if line.warehouse_id not in warehouses:
            warehouse = await location_service.get_warehouse_or_raise(session, line.warehouse_id)
            warehouses[warehouse.id] = warehouse.code
    rows: list[dict[str, object]] = []
    for warehouse_id, code in sorted(warehouses.items(), key=lambda item: item[1]):
        held = await sales_service.on_hand(session, part_ids=[part_id], warehouse_id=warehouse_id)
        taken = await sales_service.reserved(session, part_ids=[part_id], warehouse_id=warehouse_id)
        rows.append(
            {
                "warehouse_code": code,
                "on_hand": held[part_id],
                "reserved": taken[part_id],
                "available": held[part_id] - taken[part_id],
                "on_order": sum(i.qty for i in incoming if i.warehouse_id == warehouse_id),
                "orders": [i for i in incoming if i.warehouse_id == warehouse_id],
            }
        )
    return rows


async def setup_steps(session: AsyncSession) -> list[SetupStep]:
    """First run: parts, typed one by one or brought in with the opening stock import."""
    parts = await part_queries.count_parts(session, active=None)
    return [SetupStep(30, "Add parts or import opening stock", "/parts", parts > 0)]


if setup_steps not in SETUP_STEPS:
    SETUP_STEPS.append(setup_steps)
