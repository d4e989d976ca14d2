"""Storefront alerts: web orders piling up (`stale_web_order`), orders that need a person
(`web_order_failed`), no live worker while orders wait (`worker_down`) and status updates the
store never got (`sync_back_failed`).

The worker checks once a minute. Findings go to the alerts feature when it is installed
(kosh.alerts.service.raise_alert, which also mails the digest); otherwise they are mailed
directly through the KOSH_SMTP_* settings to KOSH_ALERT_RECIPIENTS, each finding once until
its condition clears; without SMTP they are only logged.
"""

from __future__ import annotations

import asyncio
import importlib
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.core.models import WorkerHeartbeat
from kosh.storefront.models import OutboxEvent, StagedOrder

log = structlog.get_logger(__name__)
WORKER_DOWN_AFTER = timedelta(minutes=2)
_MAX_LISTED = 50


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    message: str


async def findings(session: AsyncSession, *, settings: Settings) -> list[Finding]:
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
                "storefront:stale",
                f"{stale} web order(s) pending for more than {settings.storefront_stale_minutes}"
                f" minutes (oldest received {oldest:%Y-%m-%d %H:%M} UTC).",
            )
        )
    review = list(
        await session.execute(
            select(StagedOrder.id, StagedOrder.external_id, StagedOrder.reasons)
            .where(StagedOrder.status == "review")
            .order_by(StagedOrder.id.desc())
            .limit(_MAX_LISTED)
        )
    )
    for staged_id, external_id, reasons in review:
        first = reasons[0]["message"] if reasons else "needs review"
        found.append(
            Finding(
                "web_order_failed",
                f"storefront:staged:{staged_id}",
                f"Web order {external_id} (staged #{staged_id}) needs review: {first}",
            )
        )
    failed_sync = await session.scalar(select(func.count()).where(OutboxEvent.status == "failed"))
    if failed_sync:
        found.append(
            Finding(
                "sync_back_failed",
                "storefront:sync_back",
                f"{failed_sync} status update(s) could not be sent to the store.",
            )
        )
    pending = await session.scalar(select(func.count()).where(StagedOrder.status == "pending"))
    last_seen = await session.scalar(select(func.max(WorkerHeartbeat.last_seen_at)))
    if pending and (last_seen is None or now - last_seen > WORKER_DOWN_AFTER):
        found.append(
            Finding(
                "worker_down",
                "storefront:worker",
                f"{pending} web order(s) wait and no worker has been seen since "
                f"{last_seen:%Y-%m-%d %H:%M} UTC."
                if last_seen
                else f"{pending} web order(s) wait and no worker has ever run.",
            )
        )
    return found


_already_mailed: set[str] = set()


async def check(session: AsyncSession, *, settings: Settings) -> list[Finding]:
    """Find what needs attention and notify; returns the findings."""
    found = await findings(session, settings=settings)
    try:  # the alerts feature is optional: mail directly without it
        alert_service: Any = importlib.import_module("kosh.alerts.service")
    except ImportError:
        alert_service = None
    raise_alert = getattr(alert_service, "raise_alert", None)
    if raise_alert is not None:
        for finding in found:
            await raise_alert(session, kind=finding.kind, key=finding.key, message=finding.message)
        return found
    current = {finding.key for finding in found}
    _already_mailed.intersection_update(current)  # cleared conditions may alert again
    fresh = [finding for finding in found if finding.key not in _already_mailed]
    for finding in fresh:
        log.warning("storefront_alert", kind=finding.kind, message=finding.message)
    if fresh and settings.smtp_host and settings.alert_recipients:
        try:
            await asyncio.to_thread(_mail, settings, fresh)
        except (OSError, smtplib.SMTPException):
            log.exception("storefront_alert_mail_failed")
            return found
    _already_mailed.update(finding.key for finding in fresh)
    return found


def _mail(settings: Settings, fresh: list[Finding]) -> None:
    message = EmailMessage()
    message["Subject"] = f"KOSH web orders: {len(fresh)} problem(s)"
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(settings.alert_recipients)
    message.set_content(
        "\n".join(f"- [{f.kind}] {f.message}" for f in fresh)
        + "\n\nSee /storefront in KOSH and the runbook's storefront section.\n"
    )
    host, port = settings.smtp_host or "", settings.smtp_port
    kwargs: dict[str, Any] = {"timeout": settings.smtp_timeout}
    if settings.smtp_tls == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, context=ssl.create_default_context(), **kwargs
        )
    else:
        smtp = smtplib.SMTP(host, port, **kwargs)
    with smtp:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        smtp.send_message(message)
