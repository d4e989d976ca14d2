"""JSON routes for stock: receive, pick, restock, transfer, adjust, consume; PCN lookup;
stock of a part; ledger history of a PCN, a part or a location; verify.

Operators and above move stock, managers and above adjust counts, admins run verify,
anyone logged in reads. Every POST honours `Idempotency-Key` (platform middleware).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AfterValidator

from kosh.auth.deps import Admin, CurrentPrincipal, Manager, Operator
from kosh.catalog import service as part_service
from kosh.core import idempotency
from kosh.core.deps import SessionDep
from kosh.core.pagination import COUNT_CAP, PageDep, next_url_capped
from kosh.core.types import PathId, clean_query
from kosh.locations import service as location_service
from kosh.stock import queries as stock_queries
from kosh.stock import service as stock_service
from kosh.stock import verify as stock_verify
from kosh.stock.pcn import PCN_PATTERN
from kosh.stock.queries import BalanceLine
from kosh.stock.schemas import (
    AdjustRequest,
    AdjustResult,
    BalanceRead,
    ConsumeRequest,
    DriftRead,
    LedgerEntryRead,
    LedgerPage,
    LotLineRead,
    MovementKind,
    MovementResult,
    PartStockRead,
    PcnRead,
    PickLineRead,
    PickRequest,
    PickResult,
    ReceiveRequest,
    ReceiveResult,
    RestockRequest,
    TransferRequest,
    VerifyRead,
)
from kosh.stock.service import Movement

router = APIRouter(prefix="/api/v1", tags=["stock"])
# Each of these routes runs one use case that claims the Idempotency-Key in its own
# transaction: one commit per request (kosh.core.idempotency).
idempotency.claimed_in_use_case(
    *(
        f"/api/v1/stock/{verb}"
        for verb in ("receive", "pick", "restock", "transfer", "adjust", "consume")
    )
)

PcnPath = Annotated[str, Path(max_length=64, pattern=PCN_PATTERN)]


def _movement(movement: Movement) -> MovementResult:
    return MovementResult(
        pcn=movement.lot.pcn,
        lot_id=movement.lot.id,
        qty=movement.qty,
        kind=movement.entry.kind,
        from_location_id=movement.from_location_id,
        to_location_id=movement.to_location_id,
        from_location_code=movement.from_location_code,
        to_location_code=movement.to_location_code,
        transaction_id=movement.entry.id,
    )


def _balances(lines: list[BalanceLine]) -> list[BalanceRead]:
    return [
        BalanceRead(
            location_id=b.location_id,
            location_code=b.location_code,
            warehouse_id=b.warehouse_id,
            warehouse_code=b.warehouse_code,
            kind=b.kind,
            qty=b.qty,
        )
        for b in lines
    ]


# --- operations -----------------------------------------------------------------------


@router.post("/stock/receive", response_model=ReceiveResult, status_code=201)
async def receive(body: ReceiveRequest, _: Operator, session: SessionDep) -> ReceiveResult:
    receipt = await stock_service.receive(session, **body.model_dump())
    return ReceiveResult(
        pcn=receipt.lot.pcn,
        lot_id=receipt.lot.id,
        part_id=receipt.part.id,
        part_number=receipt.part.number,
        qty=receipt.entry.qty,
        location_id=receipt.location.id,
        location_code=receipt.location.code,
        transaction_id=receipt.entry.id,
    )


@router.post("/stock/pick", response_model=PickResult)
async def pick(body: PickRequest, _: Operator, session: SessionDep) -> PickResult:
    result = await stock_service.pick(session, **body.model_dump())
    return PickResult(
        part_id=result.part_id,
        part_number=result.part_number,
        qty=result.qty,
        warehouse_id=result.warehouse_id,
        to_location_id=result.to_location_id,
        to_location_code=result.to_location_code,
        reference=result.reference,
        lines=[
            PickLineRead(
                pcn=line.pcn,
                lot_id=line.lot_id,
                qty=line.qty,
                from_location_id=line.from_location_id,
                from_location_code=line.from_location_code,
            )
            for line in result.lines
        ],
    )


@router.post("/stock/restock", response_model=MovementResult)
async def restock(body: RestockRequest, _: Operator, session: SessionDep) -> MovementResult:
    return _movement(await stock_service.restock(session, **body.model_dump()))


@router.post("/stock/transfer", response_model=MovementResult)
async def transfer(body: TransferRequest, _: Operator, session: SessionDep) -> MovementResult:
    return _movement(await stock_service.transfer(session, **body.model_dump()))


@router.post("/stock/adjust", response_model=AdjustResult)
async def adjust(body: AdjustRequest, _: Manager, session: SessionDep) -> AdjustResult:
    result = await stock_service.adjust_count(session, **body.model_dump())
    return AdjustResult(
        pcn=result.lot.pcn,
        lot_id=result.lot.id,
        location_id=result.location_id,
        location_code=result.location_code,
        previous_qty=result.previous_qty,
        counted_qty=result.counted_qty,
        difference=result.difference,
        transaction_id=result.entry.id if result.entry is not None else None,
    )


@router.post("/stock/consume", response_model=MovementResult)
async def consume(body: ConsumeRequest, _: Operator, session: SessionDep) -> MovementResult:
    return _movement(await stock_service.consume(session, **body.model_dump()))


@router.post("/stock/verify", response_model=VerifyRead, tags=["operations"])
async def verify(_: Admin, session: SessionDep) -> VerifyRead:
    """Replay the ledger against the balances now (what `kosh verify` does)."""
    report = await stock_verify.verify(session)
    return VerifyRead(
        ok=report.ok,
        ledger_rows=report.ledger_rows,
        balance_rows=report.balance_rows,
        drift_count=report.drift_count,
        differences=[
            DriftRead(
                lot_id=d.lot_id,
                location_id=d.location_id,
                ledger_qty=d.ledger_qty,
                balance_qty=d.balance_qty,
            )
            for d in report.differences
        ],
        started_at=report.started_at,
        finished_at=report.finished_at,
        duration_ms=report.duration_ms,
    )


# --- reads ----------------------------------------------------------------------------


@router.get("/pcns/{pcn}", response_model=PcnRead)
async def get_pcn(pcn: PcnPath, _: CurrentPrincipal, session: SessionDep) -> PcnRead:
    lot = await stock_service.get_lot_by_pcn_or_raise(session, pcn)
    detail = await stock_queries.lot_detail(session, lot)
    return PcnRead(
        pcn=lot.pcn,
        lot_id=lot.id,
        part_id=detail.part.id,
        part_number=detail.part.number,
        part_description=detail.part.description,
        unit=detail.part.unit,
        received_at=lot.received_at,
        date_code=lot.date_code,
        lot_code=lot.lot_code,
        country_of_origin=lot.country_of_origin,
        supplier=lot.supplier,
        reference=lot.reference,
        created_by=lot.created_by,
        balances=_balances(detail.balances),
        total_qty=detail.total_qty,
    )


@router.get("/parts/{part_id}/stock", response_model=PartStockRead, tags=["parts"])
async def part_stock(part_id: PathId, _: CurrentPrincipal, session: SessionDep) -> PartStockRead:
    part = await part_service.get_part_or_raise(session, part_id)
    stock = await stock_queries.part_stock(session, part)
    return PartStockRead(
        part_id=part.id,
        part_number=part.number,
        unit=part.unit,
        by_location=_balances(stock.by_location),
        lots=[
            LotLineRead(
                pcn=line.pcn,
                lot_id=line.lot_id,
                location_id=line.location_id,
                location_code=line.location_code,
                qty=line.qty,
            )
            for line in stock.lots
        ],
        storage_qty=stock.storage_qty,
        floor_qty=stock.floor_qty,
        total_qty=stock.total_qty,
    )


class HistoryFilters:
    """Query filters shared by the three history routes."""

    def __init__(
        self,
        kind: MovementKind | None = None,
        since: Annotated[datetime | None, Query(description="from this time (UTC)")] = None,
        until: Annotated[datetime | None, Query(description="before this time (UTC)")] = None,
        reference: Annotated[str | None, Query(max_length=100), AfterValidator(clean_query)] = None,
    ) -> None:
        self.kind = kind
        self.since = since
        self.until = until
        self.reference = reference


HistoryDep = Annotated[HistoryFilters, Depends()]


async def _history_page(
    request: Request,
    session: SessionDep,
    page: PageDep,
    filters: HistoryFilters,
    **owner: int,
) -> LedgerPage:
    entries, total = await stock_queries.history(
        session,
        kind=filters.kind,
        since=filters.since,
        until=filters.until,
        reference=filters.reference,
        limit=page.limit,
        offset=page.offset,
        **owner,
    )
    return LedgerPage(
        items=[LedgerEntryRead.model_validate(e) for e in entries],
        total=total,
        total_capped=total >= COUNT_CAP,
        next=next_url_capped(request, page, total, len(entries)),
    )


@router.get("/pcns/{pcn}/history", response_model=LedgerPage)
async def pcn_history(
    pcn: PcnPath,
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    filters: HistoryDep,
) -> LedgerPage:
    lot = await stock_service.get_lot_by_pcn_or_raise(session, pcn)
    return await _history_page(request, session, page, filters, lot_id=lot.id)


@router.get("/parts/{part_id}/history", response_model=LedgerPage, tags=["parts"])
async def part_history(
    part_id: PathId,
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    filters: HistoryDep,
) -> LedgerPage:
    part = await part_service.get_part_or_raise(session, part_id)
    return await _history_page(request, session, page, filters, part_id=part.id)


@router.get("/locations/{location_id}/history", response_model=LedgerPage, tags=["locations"])
async def location_history(
    location_id: PathId,
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    filters: HistoryDep,
) -> LedgerPage:
    location = await location_service.get_location_or_raise(session, location_id)
    return await _history_page(request, session, page, filters, location_id=location.id)
