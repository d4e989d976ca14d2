"""The `storefront` and `sales` sections of /health/detailed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import get_settings
from kosh.core.db import utcnow
from kosh.core.models import WorkerHeartbeat
from kosh.ops.health import DETAILED_SECTIONS, Check
from kosh.sales import service as sales_service
from kosh.storefront.metrics import QUEUE_DEPTH
from kosh.storefront.models import OutboxEvent, StagedOrder


def _stale_minutes() -> int:
    try:
        return get_settings().storefront_stale_minutes
    except Exception:
        return 15


async def storefront_section(session: AsyncSession) -> Check:
    """Pending, in review, failed (retrying), oldest pending age, last success, outbox
    backlog and the worker heartbeat age. Not ok when orders wait longer than
    KOSH_STOREFRONT_STALE_MINUTES or a status update could not be sent back."""
    now = utcnow()
    counts = dict(
        (
            await session.execute(
                select(StagedOrder.status, func.count()).group_by(StagedOrder.status)
            )
        ).all()
    )
    for status in ("pending", "applied", "review", "ignored", "cancelled"):
        QUEUE_DEPTH.labels(status).set(int(counts.get(status, 0)))
    retrying = await session.scalar(
        select(func.count()).where(
            StagedOrder.status == "pending", StagedOrder.last_error.is_not(None)
        )
    )
    oldest = await session.scalar(
        select(func.min(StagedOrder.received_at)).where(StagedOrder.status == "pending")
    )
    last_applied = await session.scalar(
        select(func.max(StagedOrder.processed_at)).where(StagedOrder.status == "applied")
    )
    outbox = dict(
        (
            await session.execute(
                select(OutboxEvent.status, func.count())
                .where(OutboxEvent.status.in_(("pending", "failed")))
                .group_by(OutboxEvent.status)
            )
        ).all()
    )
    last_seen = await session.scalar(select(func.max(WorkerHeartbeat.last_seen_at)))
    oldest_age = (now - oldest).total_seconds() if oldest else 0.0
    stale = oldest is not None and now - oldest > timedelta(minutes=_stale_minutes())
    return Check(
        not stale and not outbox.get("failed"),
        {
            "pending": int(counts.get("pending", 0)),
            "review": int(counts.get("review", 0)),
            "failed": int(retrying or 0),
            "oldest_pending_age_seconds": round(oldest_age, 1),
            "last_applied_at": last_applied.isoformat() if last_applied else None,
            "outbox_backlog": int(outbox.get("pending", 0)),
            "outbox_failed": int(outbox.get("failed", 0)),
            "worker_heartbeat_age_seconds": (
                round((now - last_seen).total_seconds(), 1) if last_seen else None
            ),
        },
    )


async def sales_section(session: AsyncSession) -> Check:
    """Reservation drift: the per (part, warehouse) aggregate must equal the sum of the
    order lines' reservations."""
    drift = await sales_service.reservation_drift(session)
    return Check(not drift, {"reservation_drift": len(drift), "examples": drift[:5]})


def register() -> None:
    DETAILED_SECTIONS["storefront"] = storefront_section
    DETAILED_SECTIONS["sales"] = sales_section
