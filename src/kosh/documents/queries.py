"""Read-only document selects shared by the service, the API and the pages, and the one
lock helper of the feature (the document row, taken before any lot: see service.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from kosh.core.types import like_escape
from kosh.documents import errors
from kosh.documents.models import (
    Document,
    DocumentLine,
    DocumentMovement,
    StocktakeLine,
    StocktakeLocation,
)


async def load_document(
    session: AsyncSession, document_id: int, *, for_update: bool = False
) -> Document:
    """The document with its lines; NotFoundError (404 document_not_found) otherwise.

    With `for_update` the document row is locked (PostgreSQL), so every change of one
    document (a line, a count, the posting) queues behind the one before. It is the first
    lock a document use case takes; lots follow in id order (kosh.stock.movements)."""
    query = (
        select(Document)
        .where(Document.id == document_id)
        .options(selectinload(Document.lines))
        .execution_options(populate_existing=True)
    )
    if for_update:
        query = query.with_for_update(of=Document)
    document = await session.scalar(query)
    if document is None:
        raise errors.document_not_found(document_id)
    return document


async def load_header(session: AsyncSession, document_id: int) -> Document:
    """The document without its lines (reading `lines` raises: page them with
    `lines_page`); NotFoundError (404 document_not_found) otherwise. For reading only."""
    document = await session.scalar(
        select(Document).where(Document.id == document_id).execution_options(populate_existing=True)
    )
    if document is None:
        raise errors.document_not_found(document_id)
    return document


async def lines_page(
    session: AsyncSession, document_id: int, *, limit: int = 50, offset: int = 0
) -> tuple[list[DocumentLine], int]:
    """A page of a document's lines in line order, and how many it has."""
    total = await session.scalar(
        select(func.count()).where(DocumentLine.document_id == document_id)
    )
    rows = await session.scalars(
        select(DocumentLine)
        .where(DocumentLine.document_id == document_id)
        .order_by(DocumentLine.line_no)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def movements_page(
    session: AsyncSession, document_id: int, *, limit: int = 50, offset: int = 0
) -> tuple[list[DocumentMovement], int]:
    """A page of the ledger rows a posting wrote, in the order it wrote them."""
    total = await session.scalar(
        select(func.count()).where(DocumentMovement.document_id == document_id)
    )
    rows = await session.scalars(
        select(DocumentMovement)
        .where(DocumentMovement.document_id == document_id)
        .order_by(DocumentMovement.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def list_documents(
    session: AsyncSession,
    *,
    type: str | None = None,
    status: str | None = None,
    warehouse_id: int | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Document], int]:
    """Documents newest first (lines not loaded), filtered by type, status, warehouse and
    a number prefix; and how many match."""
    query = select(Document)
    if type:
        query = query.where(Document.type == type)
    if status:
        query = query.where(Document.status == status)
    if warehouse_id is not None:
        query = query.where(Document.warehouse_id == warehouse_id)
    if q:
        query = query.where(Document.number.ilike(f"{like_escape(q)}%", escape="\\"))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Document.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def line_counts(session: AsyncSession, document_ids: list[int]) -> dict[int, int]:
    """Lines per document (stocktakes: their PCN lines), for lists."""
    if not document_ids:
        return {}
    counts = dict.fromkeys(document_ids, 0)
    for model in (DocumentLine, StocktakeLine):
        rows = await session.execute(
            select(model.document_id, func.count())
            .where(model.document_id.in_(document_ids))
            .group_by(model.document_id)
        )
        for document_id, count in rows:
            counts[document_id] += int(count)
    return counts


async def movements_of(session: AsyncSession, document_id: int) -> list[DocumentMovement]:
    """The ledger rows a posting wrote, in the order it wrote them."""
    rows = await session.scalars(
        select(DocumentMovement)
        .where(DocumentMovement.document_id == document_id)
        .order_by(DocumentMovement.id)
    )
    return list(rows)


async def reversal_of(session: AsyncSession, document_id: int) -> Document | None:
    """The document that reverses this one, if any."""
    result = await session.scalar(select(Document).where(Document.reverses_id == document_id))
    return result


async def stocktake_lines(session: AsyncSession, document_id: int) -> list[StocktakeLine]:
    rows = await session.scalars(
        select(StocktakeLine)
        .where(StocktakeLine.document_id == document_id)
        .order_by(StocktakeLine.location_id, StocktakeLine.pcn)
    )
    return list(rows)


async def stocktake_line(
    session: AsyncSession, document_id: int, *, lot_id: int, location_id: int
) -> StocktakeLine | None:
    """The stocktake's line of a PCN at a location, if it has one."""
    result = await session.scalar(
        select(StocktakeLine).where(
            StocktakeLine.document_id == document_id,
            StocktakeLine.lot_id == lot_id,
            StocktakeLine.location_id == location_id,
        )
    )
    return result


async def stocktake_location(
    session: AsyncSession, document_id: int, location_id: int
) -> StocktakeLocation | None:
    """The location's row in the stocktake's scope, if it is in it."""
    result = await session.scalar(
        select(StocktakeLocation).where(
            StocktakeLocation.document_id == document_id,
            StocktakeLocation.location_id == location_id,
        )
    )
    return result


async def stocktake_locations(session: AsyncSession, document_id: int) -> list[StocktakeLocation]:
    rows = await session.scalars(
        select(StocktakeLocation)
        .where(StocktakeLocation.document_id == document_id)
        .order_by(StocktakeLocation.code)
    )
    return list(rows)


async def last_counted(session: AsyncSession, location_ids: list[int]) -> dict[int, datetime]:
    """When each location was last counted by a posted stocktake (absent: never)."""
    answer: dict[int, datetime] = {}
    for start in range(0, len(location_ids), 500):
        rows = await session.execute(
            select(StocktakeLocation.location_id, func.max(StocktakeLocation.posted_at))
            .where(
                StocktakeLocation.location_id.in_(location_ids[start : start + 500]),
                StocktakeLocation.posted_at.is_not(None),
            )
            .group_by(StocktakeLocation.location_id)
        )
        answer.update({location_id: at for location_id, at in rows if at is not None})
    return answer
