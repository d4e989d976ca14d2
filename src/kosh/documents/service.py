"""Warehouse document use cases: create, edit lines, post, cancel, reverse.

A document is numbered by type (TR-, IS-, RC-, ST- and six digits), belongs to a
warehouse, has an author, notes and lines, and goes draft -> posted or draft ->
cancelled. Every public function is one transaction (`@transactional`) that writes an
audit event; a draft's edits carry `version` (stale: 409 stale_version).

Posting applies every line through the `kosh.stock` primitives in the same transaction:
all lines or none (a short fifth line is 409 naming line 5 and what is available; nothing
moved). Ledger rows carry the document number as their reference. A posted document is
never edited; `reverse_document` posts a new document that undoes it movement by movement.

Lock order: the document row first (`queries.load_document(for_update=True)`), then the
lots by ascending id (`kosh.stock.movements.lock_lots`), as every stock use case does. Two
postings of one draft queue on the document row; the second finds it posted (409).
Subscribers of stock events may refuse a posting (409 reserved_stock when a transfer or
issue would take reserved stock out of storage); the whole posting is then undone.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import (
    ConflictError,
    DomainError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from kosh.documents import errors, posting, queries, stocktake
from kosh.documents import lines as document_lines
from kosh.documents.lines import LineRequest as LineRequest  # re-exported for callers
from kosh.documents.metrics import (
    DOCUMENT_LINES_POSTED,
    DOCUMENT_POST_REFUSED,
    DOCUMENT_POST_SECONDS,
    DOCUMENTS_POSTED,
)
from kosh.documents.models import DOCUMENT_TYPES, ISSUE_KINDS, PREFIXES, Document, DocumentLine
from kosh.documents.stocktake import Scope
from kosh.locations import service as location_service

log = structlog.get_logger(__name__)

# A document's audit event lists this many lines (an opening-stock receipt may have 100k).
AUDITED_LINES = 200


@dataclass(frozen=True)
class Posted:
    document: Document
    movements: int
    reversal_of: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def snapshot(document: Document) -> dict[str, Any]:
    """The audited view of a document (JSON-safe)."""
    return {
        "number": document.number,
        "type": document.type,
        "status": document.status,
        "warehouse_id": document.warehouse_id,
        "version": document.version,
        "notes": document.notes,
        "issue_kind": document.issue_kind,
        "reason": document.reason,
        "line_count": len(document.lines),
        "lines": [_line_view(line) for line in document.lines[:AUDITED_LINES]],
    }


def _line_view(line: DocumentLine) -> dict[str, Any]:
    return {
        "line_no": line.line_no,
        "part_number": line.part_number,
        "pcn": line.pcn,
        "qty": line.qty,
        "from_location_id": line.from_location_id,
        "to_location_id": line.to_location_id,
    }


def check_version(document: Document, version: int | None) -> None:
    """Optimistic locking: a caller that read an older version gets 409 stale_version."""
    if version is not None and version != document.version:
        raise errors.stale_version(document.number, document.version)


def require_draft(document: Document, action: str) -> None:
    if document.status != "draft":
        raise errors.invalid_status(document.number, document.status, action)


def touch(document: Document) -> None:
    document.version += 1
    document.updated_at = utcnow()


# --- use cases ------------------------------------------------------------------------


async def new_document(
    session: AsyncSession,
    *,
    type: str,
    warehouse_id: int,
    notes: str = "",
    issue_kind: str | None = None,
    reason: str | None = None,
    reverses_id: int | None = None,
) -> Document:
    """Insert a numbered draft (flushed, never committed). The number is the type's
    prefix and the id: unique without a sequence table, and readable."""
    if type not in DOCUMENT_TYPES:
        raise ValidationError(
            "Unknown document type.",
            errors=[field_error(["type"], f"one of {', '.join(DOCUMENT_TYPES)}")],
        )
    warehouse = await location_service.get_warehouse_or_raise(session, warehouse_id)
    if not warehouse.active:
        raise RuleViolationError(
            f"Warehouse {warehouse.code} is inactive.",
            code="warehouse_inactive",
            errors=[field_error(["warehouse_id"], "is inactive")],
        )
    if type == "issue":
        issue_kind = issue_kind or "consume"
        if issue_kind not in ISSUE_KINDS:
            raise ValidationError(
                "Unknown issue kind.", errors=[field_error(["issue_kind"], "consume or scrap")]
            )
        reason = document_lines.required(reason, "reason", "A reason")
    else:
        issue_kind = None
    actor = current_actor()
    document = Document(
        number=f"tmp-{uuid.uuid4().hex[:24]}",
        type=type,
        warehouse_id=warehouse.id,
        status="draft",
        notes=notes or "",
        issue_kind=issue_kind,
        reason=reason or None,
        reverses_id=reverses_id,
        author_name=actor.name,
        author_id=actor.id,
        version=1,
        lines=[],
    )
    session.add(document)
    await session.flush()
    document.number = f"{PREFIXES[type]}-{document.id:06d}"
    return document


@transactional
async def create_document(
    session: AsyncSession,
    *,
    type: str,
    warehouse_id: int,
    lines: Sequence[LineRequest] = (),
    notes: str = "",
    issue_kind: str | None = None,
    reason: str | None = None,
    scope: Scope | None = None,
    blind: bool = False,
) -> Document:
    """Open a draft document. Rules: the warehouse exists (404) and is active (422); an
    issue has a reason (422) and is consume (default) or scrap; each line is checked as
    `add_line` checks it (the error names the line). A stocktake takes no lines: it
    snapshots what its scope holds now (see kosh.documents.stocktake)."""
    document = await new_document(
        session,
        type=type,
        warehouse_id=warehouse_id,
        notes=notes,
        issue_kind=issue_kind,
        reason=reason,
    )
    if type == "stocktake":
        if lines:
            raise RuleViolationError(
                "A stocktake has no lines to add; record counts instead.",
                code="lines_not_allowed",
                errors=[field_error(["lines"], "must be empty for a stocktake")],
            )
        document.blind = blind
        await stocktake.take_snapshot(session, document, scope or Scope())
    else:
        await document_lines.add_lines(session, document, lines)
    await session.flush()
    await audit.record(
        session,
        action="document.create",
        entity_type="document",
        entity_id=document.number,
        after={**snapshot(document), "scope": document.scope, "blind": document.blind},
    )
    log.info("document_created", number=document.number, type=type, lines=len(document.lines))
    return document


@transactional
async def add_line(
    session: AsyncSession, *, document_id: int, line: LineRequest, version: int | None = None
) -> Document:
    """Add a line to a draft (409 invalid_status otherwise; 409 stale_version for an old
    `version`). The line's part, PCN and locations are checked (404 / 422)."""
    document = await queries.load_document(session, document_id, for_update=True)
    require_draft(document, "edited")
    check_version(document, version)
    [added] = await document_lines.add_lines(session, document, [line])
    touch(document)
    await session.flush()
    await audit.record(
        session,
        action="document.line_add",
        entity_type="document",
        entity_id=document.number,
        after=_line_view(added),
    )
    return document


@transactional
async def remove_line(
    session: AsyncSession, *, document_id: int, line_no: int, version: int | None = None
) -> Document:
    """Remove a line from a draft (404 line_not_found; 409 invalid_status, stale_version)."""
    document = await queries.load_document(session, document_id, for_update=True)
    require_draft(document, "edited")
    check_version(document, version)
    line = next((x for x in document.lines if x.line_no == line_no), None)
    if line is None:
        raise errors.line_not_found(document.number, line_no)
    document.lines.remove(line)
    touch(document)
    await session.flush()
    await audit.record(
        session,
        action="document.line_remove",
        entity_type="document",
        entity_id=document.number,
        before=_line_view(line),
    )
    return document


@transactional
async def update_document(
    session: AsyncSession,
    *,
    document_id: int,
    version: int,
    notes: str | None = None,
    reason: str | None = None,
) -> Document:
    """Change a draft's notes or (issues) reason; `version` is required (409 stale)."""
    document = await queries.load_document(session, document_id, for_update=True)
    require_draft(document, "edited")
    check_version(document, version)
    before = snapshot(document)
    if notes is not None:
        document.notes = notes
    if reason is not None and document.type == "issue":
        document.reason = document_lines.required(reason, "reason", "A reason")
    touch(document)
    await audit.record(
        session,
        action="document.update",
        entity_type="document",
        entity_id=document.number,
        before=before,
        after=snapshot(document),
    )
    return document


@transactional
async def post_document(
    session: AsyncSession, *, document_id: int, version: int | None = None
) -> Posted:
    """Post a draft: apply every line in this one transaction, or none.

    Rules: only a draft posts (409 invalid_status: two posts of one draft post once);
    `version` when given must be current (409 stale_version); a document with no lines
    is 422 empty_document (a stocktake may post with no variance). A line that cannot be
    applied (409 insufficient_stock, 409 pcn_taken, 422 location_unusable, 409
    reserved_stock from the sales guard, ...) refuses the whole document, naming the line
    in `details.line_no`; nothing moved. Stocktakes: see stocktake.apply_counts.
    """
    started = time.perf_counter()
    document = await queries.load_document(session, document_id, for_update=True)
    require_draft(document, "posted")
    check_version(document, version)
    try:
        if document.type == "stocktake":
            moved = await stocktake.apply_counts(session, document)
        else:
            if not document.lines:
                raise RuleViolationError(
                    f"Document {document.number} has no lines.", code="empty_document"
                )
            moved = await posting.apply_lines(session, document)
    except DomainError as exc:
        DOCUMENT_POST_REFUSED.labels(type=document.type, code=exc.code).inc()
        log.info("document_post_refused", number=document.number, code=exc.code)
        raise
    await mark_posted(session, document, moved)
    DOCUMENT_POST_SECONDS.labels(type=document.type).observe(time.perf_counter() - started)
    return Posted(document=document, movements=moved)


async def mark_posted(
    session: AsyncSession, document: Document, moved: int, *, line_count: int | None = None
) -> None:
    """Record that the document's lines were applied (`moved` ledger rows): posted, by
    whom, audited, counted. Joins the caller's transaction. `line_count` when the lines
    were written in bulk (not loaded on `document`)."""
    document.status = "posted"
    document.posted_at = utcnow()
    document.posted_by = current_actor().name
    touch(document)
    await audit.record(
        session,
        action="document.post",
        entity_type="document",
        entity_id=document.number,
        after={
            **snapshot(document),
            "movements": moved,
            **({"line_count": line_count} if line_count is not None else {}),
        },
    )
    DOCUMENTS_POSTED.labels(type=document.type).inc()
    DOCUMENT_LINES_POSTED.labels(type=document.type).inc(moved)
    log.info("document_posted", number=document.number, type=document.type, movements=moved)


@transactional
async def cancel_document(
    session: AsyncSession, *, document_id: int, version: int | None = None, reason: str = ""
) -> Document:
    """Cancel a draft (409 invalid_status for a posted or cancelled one). Nothing moves:
    a draft never held stock."""
    document = await queries.load_document(session, document_id, for_update=True)
    require_draft(document, "cancelled")
    check_version(document, version)
    document.status = "cancelled"
    document.cancelled_at = utcnow()
    touch(document)
    await audit.record(
        session,
        action="document.cancel",
        entity_type="document",
        entity_id=document.number,
        after={"status": "cancelled", "reason": reason},
    )
    return document


@transactional
async def reverse_document(session: AsyncSession, *, document_id: int, reason: str = "") -> Posted:
    """Post a new document of the same type that undoes a posted one, movement by
    movement (each ledger row the original wrote is written back the other way: a
    transfer as a transfer, everything else as an adjust row), in one transaction.

    Rules: only a posted document is reversed (409 invalid_status), once (409
    already_reversed); the stock must still be where the original put it (409
    insufficient_stock naming the line). The original stays as it was."""
    original = await queries.load_document(session, document_id, for_update=True)
    if original.status != "posted":
        raise errors.invalid_status(original.number, original.status, "reversed")
    existing = await queries.reversal_of(session, original.id)
    if existing is not None:
        raise ConflictError(
            f"Document {original.number} was reversed by {existing.number}.",
            code="already_reversed",
            details={"reversed_by": existing.number},
        )
    reversal = await new_document(
        session,
        type=original.type,
        warehouse_id=original.warehouse_id,
        notes=f"Reverses {original.number}. {reason}".strip(),
        issue_kind=original.issue_kind,
        reason=original.reason,
        reverses_id=original.id,
    )
    moved = await posting.reverse(session, original=original, reversal=reversal)
    reversal.status = "posted"
    reversal.posted_at = utcnow()
    reversal.posted_by = current_actor().name
    await session.flush()
    await audit.record(
        session,
        action="document.reverse",
        entity_type="document",
        entity_id=original.number,
        after={"reversal": reversal.number, "movements": moved, "reason": reason},
    )
    DOCUMENTS_POSTED.labels(type=reversal.type).inc()
    DOCUMENT_LINES_POSTED.labels(type=reversal.type).inc(moved)
    log.info("document_reversed", number=original.number, reversal=reversal.number)
    return Posted(document=reversal, movements=moved, reversal_of=original.number)


async def get_document(session: AsyncSession, document_id: int) -> Document:
    """The document with its lines (404 document_not_found)."""
    return await queries.load_document(session, document_id)
