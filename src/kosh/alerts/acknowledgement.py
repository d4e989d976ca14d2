"""Acknowledging many open alerts at once: a job's 45 shortages from one release, or every
alert the page's filter shows, with one note.

One conditional UPDATE (`... WHERE state = 'open'`) decides which alerts change, so an alert
someone acknowledged a moment ago, or that resolved meanwhile, is left as it is; `version` is
bumped like the ORM's optimistic lock does, so a single acknowledgement racing this one gets
409 instead of overwriting it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts.metrics import ACKNOWLEDGED
from kosh.alerts.models import Alert
from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import after_commit, transactional, utcnow
from kosh.core.errors import ValidationError, field_error

MAX_AT_ONCE = 1000


def _matching(
    *,
    ids: Collection[int] | None,
    kind: str | None,
    severity: str | None,
    job_id: int | None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Alert.state == "open"]
    if ids is not None:
        where.append(Alert.id.in_(list(ids)))
    if kind:
        where.append(Alert.kind == kind)
    if severity:
        where.append(Alert.severity == severity)
    if job_id is not None:
        where.append(Alert.job_id == job_id)
    return where


@transactional
async def acknowledge_many(
    session: AsyncSession,
    *,
    note: str,
    action: str | None = None,
    ids: Collection[int] | None = None,
    kind: str | None = None,
    severity: str | None = None,
    job_id: int | None = None,
) -> int:
    """Acknowledge the open alerts among `ids` and matching the filter; returns how many.

    Rules: the note is not empty (422); at most 1000 alerts at once (422 too_many_alerts,
    nothing changes: narrow the filter); alerts not open are skipped, not refused, since the
    person asked for "what is still open". Each acknowledged alert gets its audit event."""
    note = note.strip()
    if not note:
        raise ValidationError(
            "Say what was done about them.", errors=[field_error(["note"], "must not be empty")]
        )
    where = _matching(ids=ids, kind=kind, severity=severity, job_id=job_id)
    candidates = list(
        await session.scalars(
            select(Alert.id).where(*where).order_by(Alert.id).limit(MAX_AT_ONCE + 1)
        )
    )
    if len(candidates) > MAX_AT_ONCE:
        raise ValidationError(
            f"More than {MAX_AT_ONCE:,} alerts match; narrow the filter and try again.",
            code="too_many_alerts",
        )
    if not candidates:
        return 0
    who = current_actor()
    ack_action = (action or "").strip()[:200] or None
    rows = (
        await session.execute(
            update(Alert)
            .where(*where, Alert.id.in_(candidates))
            .values(
                state="acknowledged",
                acknowledged_by=who.name,
                acknowledged_by_id=who.id,
                acknowledged_at=utcnow(),
                ack_note=note[:1000],
                ack_action=ack_action,
                notify_pending=False,
                version=Alert.version + 1,
            )
            .returning(Alert.id, Alert.kind)
            .execution_options(synchronize_session=False)
        )
    ).all()
    for alert_id, _ in sorted(rows):
        await audit.record(
            session,
            action="alert.acknowledge",
            entity_type="alert",
            entity_id=alert_id,
            before={"state": "open"},
            after={"state": "acknowledged", "note": note[:1000], "action": ack_action},
        )
    kinds = Counter(kind_ for _, kind_ in rows)

    async def bump() -> None:
        for kind_, n in kinds.items():
            ACKNOWLEDGED.labels(kind=kind_).inc(n)

    after_commit(session, bump)
    return len(rows)
