"""JSON routes for suppliers, supplier parts, purchase orders, goods in, on-order and
reorder suggestions. Operators and above create and receive; managers allow an
over-receipt and reverse receipts; anyone logged in reads. Every POST honours
`Idempotency-Key` (platform middleware), so a scanner's retry never books a bag twice.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import StreamingResponse

from kosh.auth.deps import CurrentPrincipal, Manager, Operator
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.errors import PermissionDeniedError
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import CleanText, PathId, QueryId, QueryIdList, RequiredQueryId, SearchText
from kosh.purchasing import csvfile, metrics, orders, receiving, reorder, suppliers
from kosh.purchasing import health as purchasing_health
from kosh.purchasing import queries as purchasing_queries
from kosh.purchasing import service as purchasing_service
from kosh.purchasing.models import PurchaseOrder, SupplierPart
from kosh.purchasing.receiving import Bag
from kosh.purchasing.reorder_schemas import (
    PlannedJob,
    ReorderRuleIn,
    ReorderRuleRead,
    SuggestionOrderRequest,
    SuggestionOrderResult,
    SuggestionPage,
    SuggestionRead,
)
from kosh.purchasing.schemas import (
    DecodeRequest,
    ImportResult,
    LabelRead,
    LinesAdd,
    OnOrderRead,
    OrderCreate,
    OrderLineIn,
    OrderPage,
    OrderRead,
    OrderSummary,
    OrderUpdate,
    PriceBreak,
    ReceiptRead,
    ReceiveRequest,
    ReceiveResult,
    ReverseRequest,
    Status,
    SupplierCreate,
    SupplierPage,
    SupplierPartCreate,
    SupplierPartPage,
    SupplierPartRead,
    SupplierPartUpdate,
    SupplierRead,
    SupplierUpdate,
    Transition,
)

router = APIRouter(prefix="/api/v1", tags=["purchasing"])
purchasing_health.register()
_EMPTY = Transition()


def offer_read(offer: suppliers.Offer) -> SupplierPartRead:
    sp: SupplierPart = offer.supplier_part
    return SupplierPartRead(
        id=sp.id,
        supplier_id=sp.supplier_id,
        supplier_code=offer.supplier.code,
        part_id=sp.part_id,
        part_number=offer.part.number,
        sku=sp.sku,
        manufacturer=sp.manufacturer,
        mpn=sp.mpn,
        pack_size=sp.pack_size,
        pack_unit=sp.pack_unit,
        min_order_qty=sp.min_order_qty,
        lead_time_days=sp.lead_time_days,
        preferred=sp.preferred,
        active=sp.active,
        currency=offer.supplier.currency,
        prices=[PriceBreak(min_qty=p.min_qty, unit_price=p.unit_price) for p in sp.prices],
        version=sp.version,
    )


def order_read(order: PurchaseOrder) -> OrderRead:
    return OrderRead.model_validate(order)


# --- suppliers ------------------------------------------------------------------------


@router.post("/suppliers", response_model=SupplierRead, status_code=201)
async def create_supplier(body: SupplierCreate, _: Operator, session: SessionDep) -> SupplierRead:
    supplier = await purchasing_service.create_supplier(session, data=body)
    return SupplierRead.model_validate(supplier)


@router.get("/suppliers", response_model=SupplierPage)
async def list_suppliers(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    q: SearchText = None,
    active: bool | None = None,
) -> SupplierPage:
    rows, total = await suppliers.search_suppliers(
        session, q=q, active=active, limit=page.limit, offset=page.offset
    )
    return SupplierPage(
        items=[SupplierRead.model_validate(s) for s in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/suppliers/{supplier_id}", response_model=SupplierRead)
async def get_supplier(
    supplier_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> SupplierRead:
    return SupplierRead.model_validate(await suppliers.get_supplier_or_raise(session, supplier_id))


@router.patch("/suppliers/{supplier_id}", response_model=SupplierRead)
async def update_supplier(
    supplier_id: PathId, body: SupplierUpdate, _: Operator, session: SessionDep
) -> SupplierRead:
    supplier = await purchasing_service.update_supplier(session, supplier_id, data=body)
    return SupplierRead.model_validate(supplier)


# --- supplier parts -------------------------------------------------------------------


@router.post("/supplier-parts", response_model=SupplierPartRead, status_code=201)
async def create_supplier_part(
    body: SupplierPartCreate, _: Operator, session: SessionDep
) -> SupplierPartRead:
    sp = await purchasing_service.create_supplier_part(session, data=body)
    return offer_read(await suppliers.load_offer(session, sp.id))


@router.get("/supplier-parts", response_model=SupplierPartPage)
async def list_supplier_parts(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    q: SearchText = None,
    supplier_id: QueryId = None,
    part_id: QueryId = None,
) -> SupplierPartPage:
    offers, total = await suppliers.search_offers(
        session,
        q=q,
        supplier_id=supplier_id,
        part_id=part_id,
        limit=page.limit,
        offset=page.offset,
    )
    return SupplierPartPage(
        items=[offer_read(o) for o in offers], total=total, next=next_url(request, page, total)
    )


@router.get("/supplier-parts.csv", response_class=StreamingResponse)
async def export_supplier_parts(
    _: CurrentPrincipal, session: SessionDep, q: SearchText = None, supplier_id: QueryId = None
) -> StreamingResponse:
    """Every matching supplier part as CSV (the import's columns)."""
    lines = [csvfile.header_line()]
    offset = 0
    while True:
        offers, total = await suppliers.search_offers(
            session, q=q, supplier_id=supplier_id, limit=500, offset=offset
        )
        lines += [csvfile.row_line(csvfile.export_row(o)) for o in offers]
        offset += len(offers)
        if not offers or offset >= total:
            break
    return StreamingResponse(
        iter(lines),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="supplier-parts.csv"'},
    )


class CsvImport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csv: Annotated[CleanText, Field(min_length=1, max_length=1_000_000)]


@router.post("/supplier-parts/import", response_model=ImportResult)
async def import_supplier_parts(body: CsvImport, _: Operator, session: SessionDep) -> ImportResult:
    """Create or update supplier parts from CSV text, all rows or none (422 naming rows)."""
    rows = csvfile.parse(body.csv)
    created, updated = await purchasing_service.import_supplier_parts(session, rows=rows)
    return ImportResult(created=created, updated=updated)


@router.get("/supplier-parts/{supplier_part_id}", response_model=SupplierPartRead)
async def get_supplier_part(
    supplier_part_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> SupplierPartRead:
    return offer_read(await suppliers.load_offer(session, supplier_part_id))


@router.patch("/supplier-parts/{supplier_part_id}", response_model=SupplierPartRead)
async def update_supplier_part(
    supplier_part_id: PathId, body: SupplierPartUpdate, _: Operator, session: SessionDep
) -> SupplierPartRead:
    sp = await purchasing_service.update_supplier_part(session, supplier_part_id, data=body)
    return offer_read(await suppliers.load_offer(session, sp.id))


# --- purchase orders ------------------------------------------------------------------


@router.post("/purchase-orders", response_model=OrderRead, status_code=201)
async def create_order(
    body: OrderCreate, _: Operator, session: SessionDep, settings: SettingsDep
) -> OrderRead:
    order = await purchasing_service.create_order(
        session,
        supplier_code=body.supplier_code,
        warehouse_id=body.warehouse_id,
        lines=body.lines,
        currency=body.currency,
        expected_date=body.expected_date,
        notes=body.notes,
        prefix=settings.purchasing_po_prefix,
    )
    return order_read(order)


@router.get("/purchase-orders", response_model=OrderPage)
async def list_orders(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    status: Status | None = None,
    supplier_id: QueryId = None,
    warehouse_id: QueryId = None,
    q: SearchText = None,
) -> OrderPage:
    rows, total = await orders.search_orders(
        session,
        status=status,
        supplier_id=supplier_id,
        warehouse_id=warehouse_id,
        q=q,
        limit=page.limit,
        offset=page.offset,
    )
    return OrderPage(
        items=[OrderSummary.model_validate(o) for o in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/purchase-orders/{order_id}", response_model=OrderRead)
async def get_order(order_id: PathId, _: CurrentPrincipal, session: SessionDep) -> OrderRead:
    return order_read(await orders.load_order(session, order_id))


@router.patch("/purchase-orders/{order_id}", response_model=OrderRead)
async def update_order(
    order_id: PathId, body: OrderUpdate, _: Operator, session: SessionDep
) -> OrderRead:
    changes = body.model_dump(exclude_unset=True, exclude={"version", "lines"})
    order = await purchasing_service.update_order(
        session, order_id, version=body.version, changes=changes, lines=body.lines
    )
    return order_read(order)


@router.post("/purchase-orders/{order_id}/lines", response_model=OrderRead, status_code=201)
async def add_line(order_id: PathId, body: LinesAdd, _: Operator, session: SessionDep) -> OrderRead:
    line = OrderLineIn.model_validate(body.model_dump(exclude={"version"}))
    order = await purchasing_service.add_lines(
        session, order_id, version=body.version, lines=[line]
    )
    return order_read(order)


@router.post("/purchase-orders/{order_id}/place", response_model=OrderRead)
async def place(
    order_id: PathId, _: Operator, session: SessionDep, body: Transition | None = _EMPTY
) -> OrderRead:
    body = body or Transition()
    order = await purchasing_service.place(
        session, order_id=order_id, version=body.version, reason=body.reason
    )
    return order_read(order)


@router.post("/purchase-orders/{order_id}/cancel", response_model=OrderRead)
async def cancel(
    order_id: PathId, _: Operator, session: SessionDep, body: Transition | None = _EMPTY
) -> OrderRead:
    body = body or Transition()
    order = await purchasing_service.cancel(
        session, order_id=order_id, version=body.version, reason=body.reason
    )
    return order_read(order)


@router.post("/purchase-orders/{order_id}/close-short", response_model=OrderRead)
async def close_short(
    order_id: PathId, _: Operator, session: SessionDep, body: Transition | None = _EMPTY
) -> OrderRead:
    body = body or Transition()
    order = await purchasing_service.close_short(
        session, order_id=order_id, version=body.version, reason=body.reason
    )
    return order_read(order)


# --- goods in -------------------------------------------------------------------------


@router.post("/purchase-orders/{order_id}/receive", response_model=ReceiveResult)
async def receive(
    order_id: PathId,
    body: ReceiveRequest,
    principal: Operator,
    session: SessionDep,
    settings: SettingsDep,
) -> ReceiveResult:
    """Receive one bag (line_id / barcode / qty) or several (`lines`), all or none."""
    if body.allow_over_receipt and not principal.has_role("manager"):
        raise PermissionDeniedError(
            "Only a manager can allow receiving more than ordered.",
            code="role_required",
            details={"required_role": "manager"},
        )
    parts = body.lines if body.lines is not None else [body]
    bags = [
        Bag(
            line_id=p.line_id,
            barcode=p.barcode,
            qty=p.qty,
            lot_code=p.lot_code,
            date_code=p.date_code,
            country=p.country,
        )
        for p in parts
    ]
    try:
        order, booked = await purchasing_service.receive(
            session,
            order_id=order_id,
            location_id=body.location_id,
            bags=bags,
            tolerance=settings.purchasing_over_receipt_tolerance,
            allow_over_receipt=body.allow_over_receipt,
        )
    except Exception as exc:
        metrics.REFUSED.labels(code=getattr(exc, "code", "error")).inc()
        raise
    receipts = [ReceiptRead.model_validate(b.receipt) for b in booked]
    return ReceiveResult(pcn=receipts[0].pcn, receipts=receipts, order=order_read(order))


@router.get("/purchase-orders/{order_id}/receipts", response_model=list[ReceiptRead])
async def list_receipts(
    order_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> list[ReceiptRead]:
    order = await orders.load_order(session, order_id)
    return [
        ReceiptRead.model_validate(r)
        for r in await purchasing_queries.receipts_of(session, order.id)
    ]


@router.post(
    "/purchase-orders/{order_id}/receipts/{receipt_id}/reverse", response_model=ReceiptRead
)
async def reverse_receipt(
    order_id: PathId, receipt_id: PathId, body: ReverseRequest, _: Manager, session: SessionDep
) -> ReceiptRead:
    _order, receipt = await purchasing_service.reverse_receipt(
        session, order_id=order_id, receipt_id=receipt_id, reason=body.reason
    )
    return ReceiptRead.model_validate(receipt)


@router.post("/purchasing/decode", response_model=LabelRead)
async def decode(body: DecodeRequest, _: CurrentPrincipal, session: SessionDep) -> LabelRead:
    """Read a distributor label (nothing is booked): what it says and, with `order_id`,
    which line of that order it matches. 422 barcode_unreadable / barcode_* otherwise."""
    return await receiving.preview(session, body.barcode, order_id=body.order_id)


# --- on order, reorder ----------------------------------------------------------------


@router.get("/purchasing/on-order", response_model=list[OnOrderRead])
async def on_order(
    _: CurrentPrincipal,
    session: SessionDep,
    warehouse_id: RequiredQueryId,
    part_id: QueryIdList,
) -> list[OnOrderRead]:
    """Units on placed purchase orders per part, with the orders and their dates."""
    ids = part_id
    totals = await purchasing_queries.on_order(session, part_ids=ids, warehouse_id=warehouse_id)
    lines = await purchasing_queries.incoming(session, part_ids=ids, warehouse_id=warehouse_id)
    return [
        OnOrderRead(
            part_id=pid,
            warehouse_id=warehouse_id,
            on_order=totals[pid],
            orders=[
                {
                    "order_id": i.order_id,
                    "number": i.order_number,
                    "supplier_code": i.supplier_code,
                    "qty": i.qty,
                    "expected_date": i.expected_date.isoformat() if i.expected_date else None,
                }
                for i in lines
                if i.part_id == pid
            ],
        )
        for pid in sorted(totals)
    ]


@router.put("/reorder-rules", response_model=ReorderRuleRead)
async def set_reorder_rule(
    body: ReorderRuleIn, _: Operator, session: SessionDep
) -> ReorderRuleRead:
    """Create or replace the rule of a part in a warehouse (min, max, order multiple,
    lead time)."""
    rule = await purchasing_service.set_reorder_rule(session, **body.model_dump())
    return ReorderRuleRead.model_validate(rule)


@router.get("/purchasing/suggestions", response_model=SuggestionPage)
async def suggestions(
    _: CurrentPrincipal,
    session: SessionDep,
    warehouse_id: RequiredQueryId,
) -> SuggestionPage:
    """What to order: parts whose available + on order is below their minimum."""
    found = await reorder.suggestions(session, warehouse_id=warehouse_id)
    return SuggestionPage(
        warehouse_id=warehouse_id, items=[SuggestionRead(**s.as_dict()) for s in found]
    )


@router.post("/purchasing/suggestions/orders", response_model=SuggestionOrderResult)
async def order_suggestions(
    body: SuggestionOrderRequest, _: Operator, session: SessionDep, settings: SettingsDep
) -> SuggestionOrderResult:
    """Turn the suggestions (or the chosen parts') into draft POs, one per supplier, and
    planned production jobs for the assemblies suggested as builds."""
    made = await purchasing_service.order_suggestions(
        session,
        warehouse_id=body.warehouse_id,
        part_ids=body.part_ids,
        prefix=settings.purchasing_po_prefix,
    )
    return SuggestionOrderResult(
        orders=[OrderSummary.model_validate(o) for o in made.orders],
        jobs=[PlannedJob.model_validate(j) for j in made.jobs],
    )
