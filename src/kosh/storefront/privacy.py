"""Personal data in the stored web-order deliveries: export and redaction for GDPR requests
(driven by kosh.ops.gdpr; these join the caller's transaction and never commit), and the
retention use case `redact_old_payloads` (kosh.ops.retention)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import transactional
from kosh.core.types import like_escape
from kosh.ops.redaction import redact, stored_forms
from kosh.storefront.models import OutboxEvent, StagedOrder

PERSONAL_KEYS = (
    "billing",
    "shipping",
    "customer_note",
    "customer_ip_address",
    "customer_user_agent",
)


async def _personal_rows(
    session: AsyncSession, sales_order_ids: Sequence[int], needles: Sequence[str]
) -> list[StagedOrder]:
    """Staged deliveries of these orders, or whose payload names the person (an order that
    never became a KOSH order: in review, ignored, cancelled)."""
    conditions: list[Any] = [
        StagedOrder.body.ilike(f"%{like_escape(form)}%", escape="\\")
        for needle in needles
        for form in sorted(stored_forms(needle))
    ]
    if sales_order_ids:
        conditions.append(StagedOrder.sales_order_id.in_(list(sales_order_ids)))
    if not conditions:
        return []
    return list(
        await session.scalars(select(StagedOrder).where(or_(*conditions)).order_by(StagedOrder.id))
    )


async def personal_payloads(
    session: AsyncSession, *, sales_order_ids: Sequence[int], needles: Sequence[str]
) -> list[dict[str, Any]]:
    """The stored web-order deliveries about a person, parsed where they are JSON."""
    found = []
    for row in await _personal_rows(session, sales_order_ids, needles):
        try:
            payload: Any = json.loads(row.body)
        except ValueError:
            payload = row.body
        found.append(
            {
                "id": row.id,
                "external_id": row.external_id,
                "status": row.status,
                "received_at": row.received_at.isoformat(),
                "payload": payload,
            }
        )
    return found


async def redact_personal_data(
    session: AsyncSession, *, sales_order_ids: Sequence[int], needles: Sequence[str]
) -> int:
    """In the caller's transaction: remove the personal parts (billing, shipping, the
    buyer's note, IP address, user agent) from the staged deliveries about a person and
    replace the `needles` (name, e-mail, phone, street) wherever else they occur, in
    payloads, headers, reasons and errors, and in the sync-back outbox of those orders.
    Order ids, line items, totals and statuses stay. Returns the rows changed."""
    changed = 0
    for row in await _personal_rows(session, sales_order_ids, needles):
        try:
            payload: Any = json.loads(row.body)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            for key in PERSONAL_KEYS:
                if key in payload:
                    payload[key] = {} if isinstance(payload[key], dict) else ""
            row.body = json.dumps(redact(payload, needles), separators=(",", ":"))
        else:
            row.body = redact(row.body, needles)
        row.headers = redact(row.headers, needles)
        row.reasons = redact(row.reasons, needles)
        row.last_error = redact(row.last_error, needles)
        changed += 1
    if sales_order_ids:
        events = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.sales_order_id.in_(list(sales_order_ids)))
        )
        for event in events:
            scrubbed = redact(event.payload, needles)
            if scrubbed != event.payload:
                event.payload = scrubbed
                changed += 1
    await session.flush()
    return changed


REDACTED_MARK = '"kosh_redacted":true'
_FINAL = ("applied", "ignored", "cancelled")


@transactional
async def redact_old_payloads(session: AsyncSession, *, processed_before: datetime) -> int:
    """Retention: remove the personal parts (billing, shipping, the buyer's note, IP, user
    agent) from deliveries finished (applied, ignored, cancelled) before `processed_before`.
    Ids, line items, totals and statuses stay, and so do the orders and customers made from
    them; rows waiting in pending or review are never touched. Returns the rows redacted."""
    rows = await session.scalars(
        select(StagedOrder).where(
            StagedOrder.status.in_(_FINAL),
            StagedOrder.processed_at < processed_before,
            StagedOrder.body.not_like(f"%{REDACTED_MARK}%"),
        )
    )
    redacted = 0
    for row in rows:
        try:
            payload: Any = json.loads(row.body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            row.body = json.dumps({"kosh_redacted": True}, separators=(",", ":"))
        else:
            for key in PERSONAL_KEYS:
                if key in payload:
                    payload[key] = {} if isinstance(payload[key], dict) else ""
            payload["kosh_redacted"] = True
            row.body = json.dumps(payload, separators=(",", ":"))
        redacted += 1
    return redacted
