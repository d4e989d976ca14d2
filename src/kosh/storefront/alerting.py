"""Storefront alerts, raised and resolved through the alerts feature (which mails them in
its digest to KOSH_ALERT_RECIPIENTS over KOSH_SMTP_*):

- `stale_web_order`: web orders pending longer than KOSH_STOREFRONT_STALE_MINUTES;
- `web_order_failed`: web orders waiting in review (validation failed or retries used up);
- `sync_back_failed`: status updates the store never got;
- `worker_down`: orders wait and no worker has been seen for two minutes.

One alert per kind (its subject is fixed), refreshed with the current count while the
condition holds and resolved when it clears. The worker checks every minute, and so does
every app process (`lifespan`), so a dead worker is noticed too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.alerts import service as alert_service
from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.core.models import WorkerHeartbeat
from kosh.storefront.models import OutboxEvent, StagedOrder

log = structlog.get_logger(__name__)
WORKER_DOWN_AFTER = timedelta(minutes=2)
CHECK_SECONDS = 60.0
KEYS = {
    "stale_web_order": "storefront:stale",
    "web_order_failed": "storefront:review",
    "sync_back_failed": "storefront:sync_back",
    "worker_down": "storefront:worker",
}
_LISTED = 20


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return KEYS[self.kind]


async def findings(session: AsyncSession, *, settings: Settings) -> list[Finding]:
    """What needs attention now (read-only)."""
    now = utcnow()
    found: list[Finding] = []
    stale_before = now - timedelta(minutes=settings.storefront_stale_minutes)
    stale, oldest = (
        await session.execute(
            select(func.count(), func.min(StagedOrder.received_at)).where(
                StagedOrder.status == "pending", StagedOrder.received_at < stale_before
            )
        )
    ).one()
    if stale:
        found.append(
            Finding(
                "stale_web_order",
                "warning",
                f"{stale} web order(s) pending for more than {settings.storefront_stale_minutes}"
                f" minutes (oldest received {oldest:%Y-%m-%d %H:%M} UTC).",
                {"count": int(stale)},
            )
        )
    review = list(
        (
            await session.execute(
                select(StagedOrder.id, StagedOrder.external_id, StagedOrder.reasons)
                .where(StagedOrder.status == "review")
                .order_by(StagedOrder.id)
                .limit(_LISTED)
            )
        ).all()
    )
    if review:
        in_review = await session.scalar(select(func.count()).where(StagedOrder.status == "review"))
        first_id, first_order, reasons = review[0]
        first = reasons[0]["message"] if reasons else "needs review"
        found.append(
            Finding(
                "web_order_failed",
                "warning",
                f"{in_review} web order(s) need review, e.g. {first_order} (#{first_id}): {first}",
                {"count": int(in_review or 0), "staged_ids": [row[0] for row in review]},
            )
        )
    failed_sync = await session.scalar(select(func.count()).where(OutboxEvent.status == "failed"))
    if failed_sync:
        found.append(
            Finding(
                "sync_back_failed",
                "warning",
                f"{failed_sync} status update(s) could not be sent to the store.",
                {"count": int(failed_sync)},
            )
        )
    pending = await session.scalar(select(func.count()).where(StagedOrder.status == "pending"))
    last_seen = await session.scalar(select(func.max(WorkerHeartbeat.last_seen_at)))
    if pending and (last_seen is None or now - last_seen > WORKER_DOWN_AFTER):
        since = f"since {last_seen:%Y-%m-%d %H:%M} UTC" if last_seen else "ever"
        found.append(
            Finding(
                "worker_down",
                "critical",
                f"{pending} web order(s) wait and no worker has been seen {since}: "
                "start `kosh worker`.",
                {"pending": int(pending)},
            )
        )
    return found


async def check(session: AsyncSession, *, settings: Settings) -> list[Finding]:
    """Raise (or refresh) an alert per finding and resolve the storefront alerts whose
    condition cleared; returns the findings."""
    found = await findings(session, settings=settings)
    await session.rollback()  # end the read: each alert change is its own transaction
    for finding in found:
        await alert_service.raise_alert(
            session,
            kind=finding.kind,
            key=finding.key,
            message=finding.message,
            severity=finding.severity,
            details=finding.details,
        )
    cleared = sorted(set(KEYS.values()) - {finding.key for finding in found})
    await alert_service.resolve_alerts(session, keys=cleared)
    return found


async def _loop(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    while True:
        await asyncio.sleep(CHECK_SECONDS)
        try:
            async with sessions() as session:
                await check(session, settings=settings)
        except Exception:
            log.exception("storefront_alerts_failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Check the storefront alerts every minute while the app runs."""
    task = asyncio.create_task(
        _loop(app.state.sessions, app.state.settings), name="storefront-alerts"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
