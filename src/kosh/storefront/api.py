"""JSON routes: webhook intake, stores, SKU mapping, the review queue and the outbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import AfterValidator
from starlette.responses import JSONResponse, Response

from kosh.auth.deps import Admin, CurrentPrincipal, Manager
from kosh.core.deps import LimiterDep, SessionDep, SettingsDep
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import PathId, RequiredQueryId, clean_query
from kosh.storefront import health as storefront_health
from kosh.storefront import intake, outbox, reconcile, setup
from kosh.storefront import service as storefront_service
from kosh.storefront import woocommerce as wc
from kosh.storefront.models import StagedOrder
from kosh.storefront.schemas import (
    STORE_CODE_PATTERN,
    BulkRetry,
    BulkRetryResult,
    ConnectionReportRead,
    OutboxRead,
    SkuMapCreate,
    SkuMapImport,
    SkuMapImported,
    SkuMapPage,
    SkuMapRead,
    StagedCancel,
    StagedDetail,
    StagedPage,
    StagedRead,
    StagedStatus,
    StagedUndo,
    StockRuleRead,
    StockRuleSet,
    StockSyncFull,
    StoreCreate,
    StoreRead,
    StoreUpdate,
    WebhookAck,
)

StoreCodePath = Annotated[str, Path(max_length=32, pattern=STORE_CODE_PATTERN)]
router = APIRouter(prefix="/api/v1/storefront", tags=["storefront"])
storefront_health.register()


def _cache(request: Request) -> intake.StoreCache:
    cache = getattr(request.app.state, "storefront_stores", None)
    if cache is None:
        cache = request.app.state.storefront_stores = intake.StoreCache()
    return cache


def _stager(request: Request) -> intake.Stager:
    stager = getattr(request.app.state, "storefront_stager", None)
    if stager is None:
        stager = request.app.state.storefront_stager = intake.Stager(request.app.state.sessions)
    return stager


@router.post(
    "/woocommerce/{code}/webhook",
    response_model=WebhookAck,
    responses={
        401: {"description": "bad signature"},
        400: {"description": "not an order"},
        404: {"description": "no such store"},
        429: {"description": "too many deliveries (per store, or per IP to unknown stores)"},
    },
)
async def webhook(
    code: StoreCodePath,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> Response:
    """WooCommerce delivers order webhooks here (the URL to paste into WooCommerce). The
    creation ping gets exactly 200; deliveries are stored before the answer."""
    await intake.refuse_unknown_store(
        session,
        cache=_cache(request),
        limiter=limiter,
        settings=settings,
        store_code=code,
        client_ip=request.client.host if request.client else "unknown",
    )
    await limiter.check_or_raise(settings.storefront_webhook_rate_limit, "webhook", code)
    body = await request.body()
    outcome = await intake.receive_webhook(
        session,
        settings=settings,
        cache=_cache(request),
        store_code=code,
        body=body,
        headers=request.headers,
        stager=_stager(request),
    )
    if outcome.result == "ping":
        return JSONResponse({"status": "ok"}, status_code=200)
    return JSONResponse({"status": outcome.result, "id": outcome.staged_id}, status_code=200)


# --- stores ---------------------------------------------------------------------------


@router.post("/stores", response_model=StoreRead, status_code=201)
async def create_store(
    body: StoreCreate, request: Request, _: Admin, session: SessionDep, settings: SettingsDep
) -> StoreRead:
    store = await storefront_service.create_store(session, settings=settings, **body.model_dump())
    _cache(request).forget(store.code)
    return StoreRead(**storefront_service.store_view(store))


@router.get("/stores", response_model=list[StoreRead])
async def list_stores(_: CurrentPrincipal, session: SessionDep) -> list[StoreRead]:
    return [
        StoreRead(**storefront_service.store_view(s))
        for s in await storefront_service.list_stores(session)
    ]


@router.patch("/stores/{code}", response_model=StoreRead)
async def update_store(
    code: StoreCodePath,
    body: StoreUpdate,
    request: Request,
    _: Admin,
    session: SessionDep,
    settings: SettingsDep,
) -> StoreRead:
    store = await storefront_service.update_store(
        session, settings=settings, code=code, **body.model_dump(exclude_unset=True)
    )
    _cache(request).forget(code)
    return StoreRead(**storefront_service.store_view(store))


@router.get("/stores/{code}/stock-sync", response_model=StockSyncFull)
async def stock_sync(
    code: StoreCodePath, _: CurrentPrincipal, session: SessionDep
) -> StockSyncFull:
    """The store's stock push: on or off, what waits, the last error, the last push, and
    the reconcile (waiting; when the last ran and the drift it found and fixed)."""
    store = await storefront_service.get_store_by_code_or_raise(session, code, loc="code")
    return StockSyncFull(**await reconcile.stock_sync(session, store=store))


@router.post("/stores/{code}/test", response_model=ConnectionReportRead)
async def check_connection(
    code: StoreCodePath, _: Admin, session: SessionDep, settings: SettingsDep
) -> ConnectionReportRead:
    """Call the shop's REST API with the stored keys and say what works (changes nothing)."""
    store = await storefront_service.get_store_by_code_or_raise(session, code, loc="code")
    report = await setup.check_connection(settings, store)
    return ConnectionReportRead.model_validate(report)


@router.post("/stores/{code}/sku-map/import", response_model=SkuMapImported)
async def import_sku_map(
    code: StoreCodePath, body: SkuMapImport, _: Manager, session: SessionDep
) -> SkuMapImported:
    """Map many SKUs from CSV (`sku,part_number`); all rows or none (422 per bad row)."""
    store = await storefront_service.get_store_by_code_or_raise(session, code, loc="code")
    return SkuMapImported(**await setup.import_sku_map(session, store=store, text=body.csv))


@router.put("/stores/{code}/stock-rules", response_model=StockRuleRead)
async def set_stock_rule(
    code: StoreCodePath, body: StockRuleSet, _: Manager, session: SessionDep
) -> StockRuleRead:
    """A part's own safety buffer for this store, or its exclusion from the stock push."""
    rule = await storefront_service.set_stock_rule(session, store_code=code, **body.model_dump())
    return StockRuleRead.model_validate(rule)


@router.get("/stores/{code}/stock-rules", response_model=list[StockRuleRead])
async def list_stock_rules(
    code: StoreCodePath, _: CurrentPrincipal, session: SessionDep
) -> list[StockRuleRead]:
    rules = await storefront_service.list_stock_rules(session, store_code=code)
    return [StockRuleRead.model_validate(rule) for rule in rules]


@router.post("/stores/{code}/reconcile", response_model=StockSyncFull, status_code=202)
async def request_reconcile(code: StoreCodePath, _: Manager, session: SessionDep) -> StockSyncFull:
    """Compare the shop's stock with KOSH and fix drift now (the worker does it)."""
    store = await storefront_service.request_reconcile(session, code=code)
    return StockSyncFull(**await reconcile.stock_sync(session, store=store))


# --- SKU mapping ----------------------------------------------------------------------


@router.post("/sku-map", response_model=SkuMapRead, status_code=201)
async def map_sku(body: SkuMapCreate, _: Manager, session: SessionDep) -> SkuMapRead:
    mapping = await storefront_service.map_sku(session, **body.model_dump())
    return SkuMapRead(
        id=mapping.id,
        store_code=body.store_code,
        sku=mapping.sku,
        part_id=mapping.part_id,
        part_number=body.part_number,
    )


@router.get("/sku-map", response_model=SkuMapPage)
async def list_sku_map(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    store_code: Annotated[str | None, Query(max_length=32), AfterValidator(clean_query)] = None,
) -> SkuMapPage:
    rows, total = await storefront_service.list_sku_map(
        session, store_code=store_code, limit=page.limit, offset=page.offset
    )
    return SkuMapPage(
        items=[SkuMapRead(**row.__dict__) for row in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.delete("/sku-map/{mapping_id}", status_code=204)
async def unmap_sku(mapping_id: PathId, _: Manager, session: SessionDep) -> None:
    await storefront_service.unmap_sku(session, mapping_id=mapping_id)


# --- the review queue -----------------------------------------------------------------


def _staged_read(row: StagedOrder, store_code: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "store_code": store_code,
        "external_id": row.external_id,
        "external_status": row.external_status,
        "source": row.source,
        "topic": row.topic,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_error": row.last_error,
        "reasons": row.reasons or [],
        "sales_order_id": row.sales_order_id,
        "source_modified_at": row.source_modified_at,
        "received_at": row.received_at,
        "processed_at": row.processed_at,
    }


@router.get("/staged", response_model=StagedPage)
async def list_staged(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    status: StagedStatus | None = None,
    store_code: Annotated[str | None, Query(max_length=32), AfterValidator(clean_query)] = None,
    external_id: Annotated[str | None, Query(max_length=64), AfterValidator(clean_query)] = None,
) -> StagedPage:
    rows, total = await storefront_service.list_staged(
        session,
        status=status,
        store_code=store_code,
        external_id=external_id,
        limit=page.limit,
        offset=page.offset,
    )
    return StagedPage(
        items=[StagedRead(**_staged_read(row, code)) for row, code in rows],
        total=total,
        next=next_url(request, page, total),
    )


async def _detail(session: SessionDep, row: StagedOrder) -> StagedDetail:
    store = await storefront_service.get_store(session, row.store_id)
    try:
        payload: Any = wc.load_json(row.body)
    except ValueError:  # also a nesting bomb refused at intake: shown as text
        payload = row.body
    return StagedDetail(
        **_staged_read(row, store.code if store else "?"),
        delivery_id=row.delivery_id,
        headers=row.headers or {},
        payload=payload,
    )


@router.get("/staged/{staged_id}", response_model=StagedDetail)
async def get_staged(staged_id: PathId, _: CurrentPrincipal, session: SessionDep) -> StagedDetail:
    return await _detail(session, await storefront_service.get_staged_or_raise(session, staged_id))


@router.post("/staged/retry", response_model=BulkRetryResult)
async def retry_many(body: BulkRetry, _: Manager, session: SessionDep) -> BulkRetryResult:
    count = await storefront_service.retry_many(session, staged_ids=body.ids, status=body.status)
    return BulkRetryResult(retried=count)


@router.post("/staged/{staged_id}/retry", response_model=StagedDetail)
async def retry(staged_id: PathId, _: Manager, session: SessionDep) -> StagedDetail:
    return await _detail(
        session, await storefront_service.retry_staged(session, staged_id=staged_id)
    )


@router.post("/staged/{staged_id}/cancel", response_model=StagedDetail)
async def cancel(
    staged_id: PathId,
    _: Manager,
    session: SessionDep,
    body: Annotated[StagedCancel | None, Body()] = None,
) -> StagedDetail:
    row = await storefront_service.cancel_staged(
        session, staged_id=staged_id, reason=(body or StagedCancel()).reason
    )
    return await _detail(session, row)


@router.post("/staged/{staged_id}/undo", response_model=StagedDetail)
async def undo(
    staged_id: PathId,
    _: Manager,
    session: SessionDep,
    body: Annotated[StagedUndo | None, Body()] = None,
) -> StagedDetail:
    body = body or StagedUndo()
    row = await storefront_service.undo_staged(
        session,
        staged_id=staged_id,
        reprocess=body.reprocess,
        notify_store=body.notify_store,
        reason=body.reason,
    )
    return await _detail(session, row)


# --- the outbox -----------------------------------------------------------------------


@router.get("/outbox", response_model=list[OutboxRead])
async def list_outbox(
    _: CurrentPrincipal,
    session: SessionDep,
    sales_order_id: RequiredQueryId,
) -> list[OutboxRead]:
    events = await storefront_service.outbox_for_order(session, sales_order_id)
    return [OutboxRead(**outbox.event_view(e)) for e in events]


@router.post("/outbox/{event_id}/retry", response_model=OutboxRead)
async def retry_outbox(event_id: PathId, _: Manager, session: SessionDep) -> OutboxRead:
    return OutboxRead(**outbox.event_view(await outbox.retry(session, event_id=event_id)))
