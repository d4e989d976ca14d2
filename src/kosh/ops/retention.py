"""Retention: what KOSH deletes by itself, each run logged and counted.

- browser sessions that can never be used again (revoked, expired, idle longer than
  KOSH_SESSION_IDLE_MINUTES);
- idempotency keys past their KOSH_IDEMPOTENCY_TTL_HOURS;
- with KOSH_RETENTION_AUDIT_DAYS > 0: audit events older than that, first exported to a
  gzip-compressed JSON-lines file in KOSH_BACKUP_DIR/audit (written and flushed to disk before
  anything is deleted, so an interrupted run deletes nothing it did not export);
- with KOSH_RETENTION_RESOLVED_ALERT_DAYS > 0: alerts resolved longer ago than that;
- with KOSH_RETENTION_STAGED_PAYLOAD_DAYS > 0: stored web-order deliveries finished longer
  ago than that lose their personal parts (what the orders and the ledger need stays).

`kosh worker` runs it hourly; `kosh retention` runs it once. Every step takes `now`, so the
rules are tested at fixed moments.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts import service as alert_service
from kosh.auth import sessions as session_service
from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow
from kosh.core.models import AuditEvent, IdempotencyKey
from kosh.ops.metrics import RETENTION_DELETED
from kosh.storefront import privacy as storefront_privacy

log = structlog.get_logger(__name__)
AUDIT_DIR = "audit"
_BATCH = 5000


@dataclass
class RetentionReport:
    sessions: int = 0
    idempotency_keys: int = 0
    audit_events: int = 0
    audit_export: str | None = None
    resolved_alerts: int = 0
    staged_payloads: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@transactional
async def delete_expired_idempotency_keys(session: AsyncSession, *, now: datetime) -> int:
    """Delete idempotency keys whose time to live has passed; returns how many."""
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)


def _event_line(event: AuditEvent) -> str:
    return json.dumps(
        {
            "id": event.id,
            "at": event.at.isoformat(),
            "actor_type": event.actor_type,
            "actor_id": event.actor_id,
            "actor_name": event.actor_name,
            "action": event.action,
            "entity_type": event.entity_type,
            "entity_id": event.entity_id,
            "before": event.before,
            "after": event.after,
            "request_id": event.request_id,
            "ip": event.ip,
        },
        sort_keys=True,
        default=str,
    )


class _ExportFile:
    """A gzip file written under a `.partial` name and renamed only once on disk."""

    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self.target = target
        self.partial = target.with_name(target.name + ".partial")
        self.handle = gzip.open(self.partial, "wt", encoding="utf-8")  # noqa: SIM115 - closed in commit/discard

    def write(self, text: str) -> None:
        self.handle.write(text)

    def commit(self) -> None:
        self.handle.close()
        with self.partial.open("rb") as written:
            os.fsync(written.fileno())
        os.chmod(self.partial, 0o600)
        self.partial.replace(self.target)

    def discard(self) -> None:
        self.handle.close()
        self.partial.unlink(missing_ok=True)


async def export_old_audit(
    session: AsyncSession, *, before: datetime, directory: Path, now: datetime
) -> tuple[int, Path | None]:
    """Write every audit event older than `before` to a new compressed file; returns the
    highest id written (0: none) and the file. Read-only on the database."""
    last_id = int(
        await session.scalar(select(func.max(AuditEvent.id)).where(AuditEvent.at < before)) or 0
    )
    if not last_id:
        await session.rollback()
        return 0, None
    target = directory / f"audit-before-{before:%Y%m%d}-{now:%Y%m%dT%H%M%SZ}.jsonl.gz"
    out = await asyncio.to_thread(_ExportFile, target)
    try:
        after_id = 0
        while True:
            rows = list(
                await session.scalars(
                    select(AuditEvent)
                    .where(
                        AuditEvent.id > after_id, AuditEvent.id <= last_id, AuditEvent.at < before
                    )
                    .order_by(AuditEvent.id)
                    .limit(_BATCH)
                )
            )
            if not rows:
                break
            await asyncio.to_thread(out.write, "".join(_event_line(r) + "\n" for r in rows))
            after_id = rows[-1].id
            session.expunge_all()
        await session.rollback()
        await asyncio.to_thread(out.commit)
    finally:
        await asyncio.to_thread(out.discard)
    return last_id, target


@transactional
async def delete_audit_up_to(session: AsyncSession, *, last_id: int, before: datetime) -> int:
    """Delete the audit events an export wrote (id <= last_id and older than `before`)."""
    result = await session.execute(
        delete(AuditEvent).where(AuditEvent.id <= last_id, AuditEvent.at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def run(
    session: AsyncSession, settings: Settings, *, now: datetime | None = None
) -> RetentionReport:
    """One retention run: each step in its own transaction; returns what was removed."""
    now = now or utcnow()
    report = RetentionReport()
    report.sessions = await session_service.delete_ended_sessions(
        session, now=now, idle=timedelta(minutes=settings.session_idle_minutes)
    )
    report.idempotency_keys = await delete_expired_idempotency_keys(session, now=now)
    if settings.retention_audit_days:
        before = now - timedelta(days=settings.retention_audit_days)
        last_id, exported = await export_old_audit(
            session,
            before=before,
            directory=settings.effective_backup_dir / AUDIT_DIR,
            now=now,
        )
        if last_id:
            report.audit_events = await delete_audit_up_to(session, last_id=last_id, before=before)
            report.audit_export = str(exported)
    if settings.retention_resolved_alert_days:
        report.resolved_alerts = await alert_service.prune_resolved(
            session, resolved_before=now - timedelta(days=settings.retention_resolved_alert_days)
        )
    if settings.retention_staged_payload_days:
        report.staged_payloads = await storefront_privacy.redact_old_payloads(
            session, processed_before=now - timedelta(days=settings.retention_staged_payload_days)
        )
    for what in ("sessions", "idempotency_keys", "audit_events", "resolved_alerts"):
        RETENTION_DELETED.labels(what).inc(getattr(report, what))
    RETENTION_DELETED.labels("staged_payloads_redacted").inc(report.staged_payloads)
    log.info("retention_run", **report.as_dict())
    return report
