"""Alerts: raised when a condition appears, deduplicated by subject, acknowledged by a
person, resolved by themselves when the condition clears and re-opened if it returns.

Kinds built in: `job_shortage` (a released job's line cannot be picked in full from what
the warehouse holds after earlier jobs) and `low_stock` (a part's storage stock across
active warehouses is below its reorder point). Other features raise their own kinds
through `raise_alert` / `resolve_alerts` (the storefront's stale and failed web orders).

`reevaluate_part_alerts(session, part_ids)` re-checks both built-in conditions for some
parts inside the caller's transaction: production calls it on release, start,
completion and cancellation; stock changes should call it for the parts they moved;
`kosh alerts evaluate` and the app's periodic task re-check everything.

Severity: low_stock is critical at zero stock, warning below half the reorder point,
info otherwise; job_shortage is critical when the job is due within
KOSH_ALERT_DUE_SOON_DAYS (or overdue), warning when a quarter or more of the line is
missing, info otherwise.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts.metrics import ACKNOWLEDGED, RAISED, RESOLVED
from kosh.alerts.models import Alert
from kosh.catalog.models import Part
from kosh.core import audit, events
from kosh.core.actor import current_actor
from kosh.core.db import after_commit, transactional, utcnow
from kosh.core.errors import ConflictError, NotFoundError, ValidationError, field_error
from kosh.locations import service as location_service
from kosh.production import planning
from kosh.production.models import OPEN_STATUSES, Job, JobLine
from kosh.stock import movements

BUILT_IN_KINDS = ("job_shortage", "low_stock")
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Condition:
    """A condition that holds now; its `key` is the alert's subject (one alert per key)."""

    kind: str
    key: str
    severity: str
    title: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    part_id: int | None = None
    job_id: int | None = None
    warehouse_id: int | None = None


def low_stock_key(part_id: int) -> str:
    return f"low_stock:part:{part_id}"


def job_shortage_key(job_id: int, part_id: int) -> str:
    return f"job_shortage:job:{job_id}:part:{part_id}"


def _count(session: AsyncSession, counter: Any, kind: str) -> None:
    async def bump() -> None:
        counter.labels(kind=kind).inc()

    after_commit(session, bump)


# --- writing alerts (inside the caller's transaction) -----------------------------------------


async def _get_or_insert(session: AsyncSession, condition: Condition) -> tuple[Alert, bool]:
    """The alert of the subject, inserting it when new; a concurrent insert of the same
    subject is absorbed by ON CONFLICT DO NOTHING (dedupe holds under races)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    statement = (
        dialect.insert(Alert)
        .values(
            kind=condition.kind,
            subject_key=condition.key,
            severity=condition.severity,
            state="open",
            title=condition.title[:300],
            message=condition.message[:1000],
            details=condition.details,
            part_id=condition.part_id,
            job_id=condition.job_id,
            warehouse_id=condition.warehouse_id,
            first_raised_at=now,
            last_raised_at=now,
            reopened_count=0,
            notify_pending=True,
            version=1,
        )
        .on_conflict_do_nothing(index_elements=[Alert.subject_key])
        .returning(Alert.id)
    )
    inserted = await session.scalar(statement)
    alert = await session.scalar(
        select(Alert)
        .where(Alert.subject_key == condition.key)
        .execution_options(populate_existing=True)
        .with_for_update()
    )
    if alert is None:  # pragma: no cover - the row exists after the insert
        raise RuntimeError(f"alert {condition.key} vanished")
    return alert, inserted is not None


async def upsert_alert(session: AsyncSession, condition: Condition) -> Alert:
    """Raise the alert of a condition that holds now (never commits).

    New subject: a new open alert. Resolved subject: re-opened (reopened_count + 1, the
    old acknowledgement cleared). Open or acknowledged: severity, message and details
    refreshed; an increase in severity asks for a new notification."""
    alert, created = await _get_or_insert(session, condition)
    now = utcnow()
    if created:
        _count(session, RAISED, condition.kind)
        await audit.record(
            session,
            action="alert.raise",
            entity_type="alert",
            entity_id=alert.id,
            after={"key": condition.key, "severity": condition.severity},
        )
        return alert
    escalated = SEVERITY_RANK[condition.severity] > SEVERITY_RANK.get(alert.severity, 0)
    if alert.state == "resolved":
        alert.state = "open"
        alert.reopened_count += 1
        alert.resolved_at = None
        alert.acknowledged_by = alert.acknowledged_by_id = None
        alert.acknowledged_at = None
        alert.ack_note = alert.ack_action = None
        alert.notify_pending = True
        _count(session, RAISED, condition.kind)
        await audit.record(
            session,
            action="alert.reopen",
            entity_type="alert",
            entity_id=alert.id,
            after={"key": condition.key, "reopened_count": alert.reopened_count},
        )
    elif escalated and alert.state == "open":
        alert.notify_pending = True
    alert.severity = condition.severity
    alert.title = condition.title[:300]
    alert.message = condition.message[:1000]
    alert.details = condition.details
    alert.last_raised_at = now
    await session.flush()
    return alert


async def _resolve(session: AsyncSession, alert: Alert) -> None:
    if alert.state == "resolved":
        return
    alert.state = "resolved"
    alert.resolved_at = utcnow()
    alert.notify_pending = False
    _count(session, RESOLVED, alert.kind)
    await audit.record(
        session,
        action="alert.resolve",
        entity_type="alert",
        entity_id=alert.id,
        after={"key": alert.subject_key},
    )


async def _sync(
    session: AsyncSession, conditions: Iterable[Condition], candidates: Iterable[Alert]
) -> None:
    """Raise every condition; resolve every candidate alert whose condition is gone."""
    current = {condition.key: condition for condition in conditions}
    for alert in candidates:
        if alert.subject_key not in current:
            await _resolve(session, alert)
    for condition in current.values():
        await upsert_alert(session, condition)
    await session.flush()


# --- the built-in conditions -------------------------------------------------------------------


async def _storage_on_hand(session: AsyncSession, part_ids: Collection[int]) -> dict[int, int]:
    totals = dict.fromkeys(part_ids, 0)
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=10_000)
    for warehouse in warehouses:
        found = await movements.on_hand(session, part_ids=part_ids, warehouse_id=warehouse.id)
        for part_id, qty in found.items():
            totals[part_id] += qty
    return totals


async def _low_stock(session: AsyncSession, part_ids: Collection[int]) -> list[Condition]:
    rows = (
        await session.execute(
            select(Part.id, Part.number, Part.reorder_point, Part.unit).where(
                Part.id.in_(list(part_ids)), Part.active.is_(True), Part.reorder_point > 0
            )
        )
    ).all()
    if not rows:
        return []
    stock = await _storage_on_hand(session, [row[0] for row in rows])
    found = []
    for part_id, number, reorder_point, unit in rows:
        qty = stock.get(part_id, 0)
        if qty >= reorder_point:
            continue
        severity = "critical" if qty == 0 else ("warning" if qty * 2 < reorder_point else "info")
        found.append(
            Condition(
                kind="low_stock",
                key=low_stock_key(part_id),
                severity=severity,
                title=f"{number} is below its reorder point",
                message=f"{qty} {unit} in storage; reorder point {reorder_point} {unit}.",
                details={"part_number": number, "on_hand": qty, "reorder_point": reorder_point},
                part_id=part_id,
            )
        )
    return found


def _shortage_severity(job: Job, line: planning.LinePlan, today: date, due_days: int) -> str:
    if planning.due_soon(job.due_date, today, due_days):
        return "critical"
    if line.shortage * 4 >= line.required:
        return "warning"
    return "info"


async def _job_shortages(
    session: AsyncSession, part_ids: Collection[int] | None
) -> list[Condition]:
    found = []
    today = utcnow().date()
    due_days = int(session.info.get("alert_due_soon_days", 3))
    for warehouse_id in sorted(await planning.open_warehouses_using(session, part_ids)):
        for plan in await planning.warehouse_plans(session, warehouse_id):
            job = plan.job
            for line in plan.shortages:
                if part_ids is not None and line.part_id not in part_ids:
                    continue
                due = f", due {job.due_date.isoformat()}" if job.due_date else ""
                found.append(
                    Condition(
                        kind="job_shortage",
                        key=job_shortage_key(job.id, line.part_id),
                        severity=_shortage_severity(job, line, today, due_days),
                        title=f"Job {job.number}: {line.part_number} short by {line.shortage}"
                        + line.incoming_text(),
                        message=(
                            f"Job {job.number} ({job.qty} x assembly{due}) needs "
                            f"{line.outstanding} more {line.unit} of {line.part_number}; "
                            f"{line.available} available after earlier jobs "
                            f"({line.on_hand} on hand){line.incoming_text()}."
                        )[:1000],
                        details={"job_number": job.number, **line.as_shortage()},
                        part_id=line.part_id,
                        job_id=job.id,
                        warehouse_id=warehouse_id,
                    )
                )
    return found


def _anything_to_check_statement() -> Any:
    """Has any of the parts bound as `check_parts` something to raise or resolve? Built
    once: a reused statement skips construction and cache-key generation on every stock
    movement."""
    wanted: Any = bindparam("check_parts", expanding=True)
    reorder = (
        select(Part.id)
        .where(Part.id.in_(wanted), Part.active.is_(True), Part.reorder_point > 0)
        .exists()
    )
    jobs = (
        select(JobLine.job_id)
        .join(Job, Job.id == JobLine.job_id)
        .where(JobLine.part_id.in_(wanted), Job.status.in_(OPEN_STATUSES))
        .exists()
    )
    alerts = (
        select(Alert.id)
        .where(
            Alert.part_id.in_(wanted),
            Alert.kind.in_(BUILT_IN_KINDS),
            Alert.state != "resolved",
        )
        .exists()
    )
    return or_(reorder, jobs, alerts)


# the question, alone and as the probe of the stock subscriptions (kosh.core.events)
_ANYTHING_TO_CHECK = select(_anything_to_check_statement())
PARTS_TO_CHECK = events.Probe(
    expression=_anything_to_check_statement(),
    params=lambda part_ids: {"check_parts": [int(part_id) for part_id in part_ids]},
)


async def _anything_to_check(session: AsyncSession, ids: Collection[int]) -> bool:
    """One statement on every stock movement: has any of these parts a reorder point, an
    open job that needs it, or an open built-in alert? Most movements concern none of them,
    and then there is nothing to raise or resolve (the full check would find nothing)."""
    return bool(await session.scalar(_ANYTHING_TO_CHECK, {"check_parts": list(ids)}))


async def reevaluate_part_alerts(session: AsyncSession, part_ids: Collection[int]) -> None:
    """Re-check low stock and job shortages of these parts; raise, update or resolve their
    alerts in the caller's transaction (never commits). Call it after any change of their
    stock, their reorder point, or the jobs that need them."""
    ids = {int(part_id) for part_id in part_ids}
    if not ids or not await _anything_to_check(session, ids):
        return
    conditions = await _low_stock(session, ids) + await _job_shortages(session, ids)
    candidates = await session.scalars(
        select(Alert)
        .where(
            Alert.part_id.in_(list(ids)),
            Alert.kind.in_(BUILT_IN_KINDS),
            Alert.state != "resolved",
        )
        .order_by(Alert.id)
    )
    await _sync(session, conditions, list(candidates))


@transactional
async def evaluate_alerts(session: AsyncSession, *, part_ids: Collection[int] | None = None) -> int:
    """Re-check every built-in condition (or those of `part_ids`); returns how many alerts
    are open or acknowledged afterwards. Run by `kosh alerts evaluate` and periodically."""
    if part_ids is None:
        ids = set(await session.scalars(select(Part.id).where(Part.reorder_point > 0)))
        ids |= set(
            await session.scalars(
                select(JobLine.part_id)
                .join(Job, Job.id == JobLine.job_id)
                .where(Job.status.in_(OPEN_STATUSES))
            )
        )
        ids |= set(
            await session.scalars(
                select(Alert.part_id).where(
                    Alert.kind.in_(BUILT_IN_KINDS),
                    Alert.state != "resolved",
                    Alert.part_id.is_not(None),
                )
            )
        )
    else:
        ids = set(part_ids)
    for start in range(0, len(sorted(ids)), 500):
        await reevaluate_part_alerts(session, sorted(ids)[start : start + 500])
    active = await session.scalars(select(Alert.id).where(Alert.state != "resolved"))
    return len(list(active))


# --- other features' alerts ---------------------------------------------------------------------


@transactional
async def raise_alert(
    session: AsyncSession,
    *,
    kind: str,
    key: str,
    message: str,
    severity: str = "warning",
    title: str | None = None,
    details: dict[str, Any] | None = None,
) -> Alert:
    """Raise (or refresh, or re-open) the alert with subject `key`. For conditions other
    features detect; they call `resolve_alerts` when the condition clears."""
    if severity not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {severity!r}")
    return await upsert_alert(
        session,
        Condition(
            kind=kind[:32],
            key=key[:200],
            severity=severity,
            title=(title or message)[:300],
            message=message,
            details=details or {},
        ),
    )


@transactional
async def resolve_alerts(session: AsyncSession, *, keys: Collection[str]) -> int:
    """Resolve the open or acknowledged alerts with these subjects; returns how many."""
    if not keys:
        return 0
    alerts = list(
        await session.scalars(
            select(Alert).where(Alert.subject_key.in_(list(keys)), Alert.state != "resolved")
        )
    )
    for alert in alerts:
        await _resolve(session, alert)
    return len(alerts)


# --- people -------------------------------------------------------------------------------------


async def get_alert_or_raise(session: AsyncSession, alert_id: int) -> Alert:
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"No alert with id {alert_id}.", code="alert_not_found")
    return alert


@transactional
async def acknowledge(
    session: AsyncSession, *, alert_id: int, note: str, action: str | None = None
) -> Alert:
    """A person takes an open alert on, saying what they did (`note` is required).

    Rules: the note is not empty (422); a resolved alert (409 alert_resolved) or one
    already acknowledged (409 already_acknowledged) cannot be acknowledged. The alert
    stays until its condition clears; it is then resolved automatically."""
    note = note.strip()
    if not note:
        raise ValidationError(
            "Say what was done about it.", errors=[field_error(["note"], "must not be empty")]
        )
    alert = await get_alert_or_raise(session, alert_id)
    if alert.state == "resolved":
        raise ConflictError("The alert is resolved already.", code="alert_resolved")
    if alert.state == "acknowledged":
        raise ConflictError(
            f"{alert.acknowledged_by} acknowledged this alert already.",
            code="already_acknowledged",
        )
    who = current_actor()
    alert.state = "acknowledged"
    alert.acknowledged_by = who.name
    alert.acknowledged_by_id = who.id
    alert.acknowledged_at = utcnow()
    alert.ack_note = note[:1000]
    alert.ack_action = (action or "").strip()[:200] or None
    alert.notify_pending = False
    await session.flush()
    _count(session, ACKNOWLEDGED, alert.kind)
    await audit.record(
        session,
        action="alert.acknowledge",
        entity_type="alert",
        entity_id=alert.id,
        before={"state": "open"},
        after={"state": "acknowledged", "note": alert.ack_note, "action": alert.ack_action},
    )
    return alert


# Stock changes re-check their parts' alerts in the same transaction, so an alert clears the
# moment the stock that cures it arrives (and returns the moment it leaves).
events.subscribe(events.STOCK_CHANGED, reevaluate_part_alerts, PARTS_TO_CHECK)


@transactional
async def prune_resolved(session: AsyncSession, *, resolved_before: datetime) -> int:
    """Delete alerts resolved before `resolved_before` (open and acknowledged ones are kept
    whatever their age); returns how many. For the retention job (kosh.ops.retention)."""
    result = await session.execute(
        delete(Alert).where(Alert.state == "resolved", Alert.resolved_at < resolved_before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
