"""Opening-stock import jobs: the `opening_imports` row a background import reports
through (queued -> running -> succeeded | failed, phase, rows done / total, heartbeat).

Every function here is its own short transaction except `finish`, which joins the
import's own transaction (kosh.documents.opening): an import is `succeeded` exactly when
its receipt was posted (or its dry run checked). Status changes are guarded updates
(`WHERE status IN (...)`), so a late progress write never revives a finished import and
a process that finds a stale one (its heartbeat older than
KOSH_OPENING_IMPORT_STALE_SECONDS: the process running it died) fails it once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import DomainError, NotFoundError, RuleViolationError
from kosh.documents.metrics import OPENING_IMPORTS
from kosh.documents.models import OpeningImport
from kosh.locations import service as location_service

log = structlog.get_logger(__name__)

ACTIVE = ("queued", "running")
STALE_MESSAGE = "The import stopped (KOSH was restarted or crashed); nothing was received."


@transactional
async def queue_import(
    session: AsyncSession,
    *,
    warehouse_id: int,
    file_name: str,
    dry_run: bool,
    options: dict[str, Any],
) -> OpeningImport:
    """Record an import as queued. Rules: the warehouse exists (404) and is active (422
    warehouse_inactive), checked now so the upload is refused before any work."""
    warehouse = await location_service.get_warehouse_or_raise(session, warehouse_id)
    if not warehouse.active:
        raise RuleViolationError(
            f"Warehouse {warehouse.code} is inactive.", code="warehouse_inactive"
        )
    actor = current_actor()
    row = OpeningImport(
        warehouse_id=warehouse.id,
        status="queued",
        phase="queued",
        dry_run=dry_run,
        file_name=file_name,
        options=options,
        rows_done=0,
        created_by=actor.name,
        created_by_id=actor.id,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="document.import_queued",
        entity_type="opening_import",
        entity_id=row.id,
        after={"file_name": file_name, "dry_run": dry_run, "warehouse_id": warehouse.id},
    )
    return row


@transactional
async def mark_running(session: AsyncSession, *, import_id: int) -> bool:
    """Queued -> running; False when it is no longer queued (failed as stale meanwhile)."""
    now = utcnow()
    result = await session.execute(
        update(OpeningImport)
        .where(OpeningImport.id == import_id, OpeningImport.status == "queued")
        .values(status="running", phase="reading", heartbeat_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


@transactional
async def record_progress(
    session: AsyncSession, *, import_id: int, phase: str, rows_done: int, rows_total: int | None
) -> None:
    """Progress and heartbeat of a running import (ignored once it has finished)."""
    await session.execute(
        update(OpeningImport)
        .where(OpeningImport.id == import_id, OpeningImport.status == "running")
        .values(phase=phase, rows_done=rows_done, rows_total=rows_total, heartbeat_at=utcnow())
    )


def problem_of(exc: DomainError) -> dict[str, Any]:
    """What a failed import keeps of its error: the problem+json the API would answer."""
    return {
        "status": exc.status,
        "code": exc.code,
        "detail": exc.message,
        "errors": exc.errors,
        "details": exc.details,
    }


@transactional
async def mark_failed(
    session: AsyncSession, *, import_id: int, message: str, problem: dict[str, Any] | None = None
) -> None:
    """Queued / running -> failed with a message (and the problem, when it was one)."""
    result = await session.execute(
        update(OpeningImport)
        .where(OpeningImport.id == import_id, OpeningImport.status.in_(ACTIVE))
        .values(
            status="failed",
            phase="done",
            message=message[:1000],
            result=problem,
            finished_at=utcnow(),
            heartbeat_at=utcnow(),
        )
    )
    if getattr(result, "rowcount", 0):
        OPENING_IMPORTS.labels(outcome="failed").inc()
        log.info("opening_import_failed", import_id=import_id, message=message[:200])


async def finish(
    session: AsyncSession,
    *,
    import_id: int,
    result: dict[str, Any],
    rows: int,
    document_id: int | None,
) -> None:
    """Running -> succeeded, in the caller's (the import's) transaction."""
    now = utcnow()
    await session.execute(
        update(OpeningImport)
        .where(OpeningImport.id == import_id, OpeningImport.status.in_(ACTIVE))
        .values(
            status="succeeded",
            phase="done",
            rows_done=rows,
            rows_total=rows,
            result=result,
            document_id=document_id,
            message=None,
            finished_at=now,
            heartbeat_at=now,
        )
    )
    OPENING_IMPORTS.labels(outcome="succeeded").inc()


@transactional
async def fail_abandoned(session: AsyncSession, *, older_than: timedelta) -> int:
    """Fail every queued / running import whose heartbeat is older than `older_than`."""
    result = await session.execute(
        update(OpeningImport)
        .where(
            OpeningImport.status.in_(ACTIVE),
            OpeningImport.heartbeat_at < utcnow() - older_than,
        )
        .values(status="failed", phase="done", message=STALE_MESSAGE, finished_at=utcnow())
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        OPENING_IMPORTS.labels(outcome="abandoned").inc(count)
    return count


async def get_import(
    session: AsyncSession, *, import_id: int, stale_after: timedelta
) -> OpeningImport:
    """The import (404 import_not_found); a stale running one is failed first."""
    row = await session.get(OpeningImport, import_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"No opening-stock import {import_id}.", code="import_not_found")
    if row.status in ACTIVE and row.heartbeat_at < utcnow() - stale_after:
        await fail_abandoned(session, older_than=stale_after)
        await session.refresh(row)
    return row
