"""E-mail digests of alerts: one mail for everything raised since the last one.

An alert asks for a notification when it is raised, re-opened or escalated
(`notify_pending`). A digest claims every pending open alert in one transaction (FOR
UPDATE SKIP LOCKED on PostgreSQL, so two app nodes never mail the same alerts), records
an `alert_notifications` row as `sending`, commits, then talks SMTP outside any
transaction. Success marks the row `sent`; failure marks it `failed` with the reason and
hands the alerts back for the next digest. A flood of alerts is therefore one mail.

The app runs `evaluate + digest` every KOSH_ALERT_DIGEST_MINUTES (0 = never); the CLI has
`kosh alerts evaluate` and `kosh alerts digest` for cron or by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.alerts import service as alert_service
from kosh.alerts.metrics import DIGESTS
from kosh.alerts.models import Alert, AlertNotification
from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow

log = structlog.get_logger(__name__)
MAX_PER_DIGEST = 500
_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Digest:
    notification_id: int
    alerts: list[dict[str, Any]]


@dataclass(frozen=True)
class DigestResult:
    notification_id: int
    status: str
    alert_count: int
    error: str | None = None


@transactional
async def claim_pending(session: AsyncSession, *, recipients: list[str]) -> Digest | None:
    """Take the pending open alerts for one digest (None when there are none)."""
    query = (
        select(Alert)
        .where(Alert.notify_pending.is_(True), Alert.state == "open")
        .order_by(Alert.id)
        .limit(MAX_PER_DIGEST)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    alerts = list(await session.scalars(query))
    if not alerts:
        return None
    alerts.sort(key=lambda a: (_ORDER.get(a.severity, 3), a.id))
    counts = {s: sum(1 for a in alerts if a.severity == s) for s in ("critical", "warning", "info")}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    notification = AlertNotification(
        status="sending",
        recipients=recipients,
        subject=f"KOSH alerts: {len(alerts)} new ({shown})"[:300],
        alert_count=len(alerts),
        alert_ids=[a.id for a in alerts],
    )
    session.add(notification)
    await session.flush()
    for alert in alerts:
        alert.notify_pending = False
        alert.notification_id = notification.id
    await session.flush()
    return Digest(
        notification_id=notification.id,
        alerts=[
            {
                "id": a.id,
                "kind": a.kind,
                "severity": a.severity,
                "title": a.title,
                "message": a.message,
                "reopened": a.reopened_count,
            }
            for a in alerts
        ],
    )


@transactional
async def record_outcome(session: AsyncSession, *, notification_id: int, error: str | None) -> None:
    notification = await session.get(AlertNotification, notification_id)
    if notification is None:  # pragma: no cover - rows are never deleted
        return
    if error is None:
        notification.status = "sent"
        notification.sent_at = utcnow()
        return
    notification.status = "failed"
    notification.error = error[:1000]
    await session.execute(
        update(Alert)
        .where(Alert.id.in_(notification.alert_ids), Alert.state == "open")
        .values(notify_pending=True, notification_id=None)
        .execution_options(synchronize_session=False)
    )


def compose(settings: Settings, digest: Digest, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(settings.alert_recipients)
    lines = [f"{len(digest.alerts)} alert(s) need attention in KOSH:", ""]
    for alert in digest.alerts:
        again = f" (re-opened {alert['reopened']}x)" if alert["reopened"] else ""
        lines.append(f"[{alert['severity'].upper()}] {alert['title']}{again}")
        lines.append(f"    {alert['message']}")
        lines.append(f"    /alerts?focus={alert['id']}")
    lines += ["", "Acknowledge them on the Alerts page; they resolve by themselves when fixed."]
    message.set_content("\n".join(lines) + "\n")
    return message


def _send(settings: Settings, message: EmailMessage) -> None:
    host, port = settings.smtp_host or "", settings.smtp_port
    if settings.smtp_tls == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=settings.smtp_timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, port, timeout=settings.smtp_timeout)
    with smtp:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


async def send_digest(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> DigestResult | None:
    """Mail one digest of the pending alerts; None when mail is off or nothing is pending."""
    if not settings.smtp_host or not settings.alert_recipients:
        return None
    async with sessions() as session:
        digest = await claim_pending(session, recipients=list(settings.alert_recipients))
        if digest is None:
            return None
        notification = await session.get(AlertNotification, digest.notification_id)
        subject = notification.subject if notification else "KOSH alerts"
    error: str | None = None
    try:
        await asyncio.to_thread(_send, settings, compose(settings, digest, subject))
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("alert_digest_failed", error=error, alerts=len(digest.alerts))
    async with sessions() as session:
        await record_outcome(session, notification_id=digest.notification_id, error=error)
    DIGESTS.labels(outcome="failed" if error else "sent").inc()
    return DigestResult(
        notification_id=digest.notification_id,
        status="failed" if error else "sent",
        alert_count=len(digest.alerts),
        error=error,
    )


async def run_once(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    async with sessions() as session:
        await alert_service.evaluate_alerts(session)
    await send_digest(sessions, settings)


async def _loop(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    while True:
        await asyncio.sleep(settings.alert_digest_minutes * 60)
        try:
            await run_once(sessions, settings)
        except Exception:
            log.exception("alert_cycle_failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Evaluate alerts and mail a digest every KOSH_ALERT_DIGEST_MINUTES while the app runs."""
    settings: Settings = app.state.settings
    task = None
    if settings.alert_digest_minutes > 0:
        task = asyncio.create_task(_loop(app.state.sessions, settings), name="alert-digest")
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
