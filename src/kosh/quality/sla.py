"""SLAs: a policy per ticket kind and priority gives response and resolution targets in
business minutes of a calendar, chosen per policy: the shop floor's shift calendar
(`calendar_kind` 'shift') or a support calendar ('support', `kosh.quality.
support_calendars`); no calendar: every minute counts.

Clocks are computed, never stored: from the ticket's status history (`quality_ticket_
events`), a clock runs while the ticket is in an `open`-category status and pauses in a
`waiting` one (waiting on the customer or a supplier); the response clock stops at the
first status change, the resolution clock when the ticket reaches a `done` status (and
runs again if it is reopened). A restart changes nothing: the history is the truth.

The worker (`check`) raises `sla_warning` once a clock passes the policy's warning
fraction and `sla_breached` once it passes its target, through the alerts feature (one
alert per ticket and clock, so its digest carries them); a done ticket's alerts resolve.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts import service as alert_service
from kosh.core import audit
from kosh.core.db import transactional, utcnow
from kosh.core.errors import ValidationError, field_error
from kosh.quality import metrics, support_calendars, tickets, workflows
from kosh.quality.businesshours import BusinessCalendar, parse_day_start
from kosh.quality.models import WEEKDAY_COLUMNS, SlaPolicy, Ticket, TicketEvent
from kosh.shopfloor import service as shopfloor_service

log = structlog.get_logger(__name__)

SLA_WARNING = "sla_warning"
SLA_BREACHED = "sla_breached"
ALERT_KINDS = (SLA_WARNING, SLA_BREACHED)
CLOCKS = ("response", "resolution")
CALENDAR_KINDS = ("shift", "support")
_WORDS = {SLA_WARNING: "at risk", SLA_BREACHED: "breached"}


@dataclass(frozen=True)
class Clock:
    name: str
    target_minutes: int
    elapsed_minutes: float
    running: bool
    stopped: bool  # response given / ticket done
    due_at: datetime | None

    @property
    def fraction(self) -> float:
        return self.elapsed_minutes / self.target_minutes

    @property
    def state(self) -> str:
        if self.elapsed_minutes > self.target_minutes:
            return "breached"
        if self.stopped:
            return "met"
        return "running" if self.running else "paused"


@dataclass(frozen=True)
class TicketSla:
    policy: SlaPolicy
    response: Clock
    resolution: Clock


class _Exception(Protocol):
    """A dated exception row of either calendar kind."""

    @property
    def day(self) -> date: ...

    @property
    def minutes(self) -> int: ...


# --- policies -------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            f"Unknown time zone {name}.", errors=[field_error(["timezone"], "unknown time zone")]
        ) from exc


@transactional
async def set_policy(
    session: AsyncSession,
    *,
    kind: str,
    priority: str,
    response_minutes: int,
    resolution_minutes: int,
    calendar_code: str | None = None,
    calendar_kind: str = "shift",
    day_start: str = "08:00",
    timezone: str = "UTC",
    warning_pct: int = 80,
) -> SlaPolicy:
    """Create or replace the policy of a kind and priority. Rules: kind and priority known
    (422); response > 0 and resolution >= response (422); warning 1-99 % (422);
    `calendar_kind` is shift or support (422) and the calendar of that kind exists (404
    calendar_not_found); day_start is HH:MM and the time zone known
    (422). Audited."""
    workflows.check_kind(kind)
    tickets.check_priority(priority)
    if response_minutes <= 0 or resolution_minutes < response_minutes:
        raise ValidationError(
            "Response must be > 0 and resolution at least the response.",
            errors=[field_error(["resolution_minutes"], "at least response_minutes")],
        )
    if not 1 <= warning_pct <= 99:
        raise ValidationError(
            "Warn at 1 to 99 %.", errors=[field_error(["warning_pct"], "1 to 99")]
        )
    try:
        parse_day_start(day_start)
    except ValueError as exc:
        raise ValidationError(
            "day_start is HH:MM.", errors=[field_error(["day_start"], "HH:MM")]
        ) from exc
    _zone(timezone)
    if calendar_kind not in CALENDAR_KINDS:
        raise ValidationError(
            f"Unknown calendar kind {calendar_kind}.",
            errors=[field_error(["calendar_kind"], "shift or support")],
        )
    if calendar_code and calendar_kind == "support":
        await support_calendars.get_support_calendar_by_code_or_raise(session, calendar_code)
    elif calendar_code:
        await shopfloor_service.get_calendar_by_code_or_raise(session, calendar_code)
    policy = await session.scalar(
        select(SlaPolicy).where(SlaPolicy.kind == kind, SlaPolicy.priority == priority)
    )
    before = None
    if policy is None:
        policy = SlaPolicy(kind=kind, priority=priority, version=0)
        session.add(policy)
    else:
        before = _policy_view(policy)
    policy.response_minutes = response_minutes
    policy.resolution_minutes = resolution_minutes
    policy.calendar_code = calendar_code or None
    policy.calendar_kind = calendar_kind
    policy.day_start = day_start
    policy.timezone = timezone
    policy.warning_pct = warning_pct
    policy.version += 1
    await session.flush()
    await audit.record(
        session,
        action="quality.sla_policy.set",
        entity_type="sla_policy",
        entity_id=f"{kind}/{priority}",
        before=before,
        after=_policy_view(policy),
    )
    return policy


def _policy_view(policy: SlaPolicy) -> dict[str, object]:
    return {
        "response_minutes": policy.response_minutes,
        "resolution_minutes": policy.resolution_minutes,
        "calendar_code": policy.calendar_code,
        "calendar_kind": policy.calendar_kind,
        "day_start": policy.day_start,
        "timezone": policy.timezone,
        "warning_pct": policy.warning_pct,
    }


async def list_policies(session: AsyncSession) -> list[SlaPolicy]:
    return list(
        await session.scalars(select(SlaPolicy).order_by(SlaPolicy.kind, SlaPolicy.priority))
    )


async def calendar_for(session: AsyncSession, policy: SlaPolicy) -> BusinessCalendar:
    """The policy's business calendar, read now (from the shop floor's shift calendar or
    the support calendar the policy names)."""
    if not policy.calendar_code:
        return BusinessCalendar.always()
    if policy.calendar_kind == "support":
        support = await support_calendars.get_support_calendar_by_code_or_raise(
            session, policy.calendar_code
        )
        weekly = tuple(getattr(support, column) for column in WEEKDAY_COLUMNS)
        exceptions: Sequence[_Exception] = await support_calendars.support_calendar_days(
            session, support.id
        )
    else:
        shift = await shopfloor_service.get_calendar_by_code_or_raise(session, policy.calendar_code)
        weekly = tuple(getattr(shift, column) for column in WEEKDAY_COLUMNS)
        exceptions = await shopfloor_service.calendar_exceptions(session, shift.id)
    return BusinessCalendar(
        weekday_minutes=weekly,
        exceptions={row.day: row.minutes for row in exceptions},
        day_start=parse_day_start(policy.day_start),
        tz=ZoneInfo(policy.timezone),
    )


# --- clocks ---------------------------------------------------------------------------


def running_intervals(
    history: list[TicketEvent], now: datetime, *, until: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """The [start, end) spans the ticket spent in open-category statuses, up to `until`
    (or now)."""
    end_of_time = min(until, now) if until is not None else now
    spans = []
    changes = [e for e in history if e.kind == "status"]
    for index, event in enumerate(changes):
        if event.category != "open":
            continue
        start = event.at
        end = changes[index + 1].at if index + 1 < len(changes) else end_of_time
        end = min(end, end_of_time)
        if end > start:
            spans.append((start, end))
    return spans


def _clock(
    name: str,
    target: int,
    calendar: BusinessCalendar,
    spans: list[tuple[datetime, datetime]],
    *,
    running: bool,
    stopped: bool,
    now: datetime,
) -> Clock:
    elapsed = sum(calendar.working_minutes(a, b) for a, b in spans)
    due_at = calendar.add(now, target - elapsed) if running and elapsed < target else None
    return Clock(
        name=name,
        target_minutes=target,
        elapsed_minutes=round(elapsed, 2),
        running=running,
        stopped=stopped,
        due_at=due_at,
    )


async def policy_for(session: AsyncSession, ticket: Ticket) -> SlaPolicy | None:
    found = await session.scalar(
        select(SlaPolicy).where(
            SlaPolicy.kind == ticket.kind, SlaPolicy.priority == ticket.priority
        )
    )
    return found


async def ticket_sla(
    session: AsyncSession, ticket: Ticket, *, now: datetime | None = None
) -> TicketSla | None:
    """The ticket's clocks now (None without a policy for its kind and priority)."""
    policy = await policy_for(session, ticket)
    if policy is None:
        return None
    now = (now or utcnow()).astimezone(UTC)
    calendar = await calendar_for(session, policy)
    history = await tickets.events_of(session, ticket.id)
    is_open = ticket.category == "open"
    response = _clock(
        "response",
        policy.response_minutes,
        calendar,
        running_intervals(history, now, until=ticket.responded_at),
        running=is_open and ticket.responded_at is None,
        stopped=ticket.responded_at is not None,
        now=now,
    )
    resolution = _clock(
        "resolution",
        policy.resolution_minutes,
        calendar,
        running_intervals(history, now),
        running=is_open,
        stopped=ticket.category == "done",
        now=now,
    )
    return TicketSla(policy=policy, response=response, resolution=resolution)


def alert_key(kind: str, number: str, clock: str) -> str:
    return f"{kind}:{number}:{clock}"


async def check(session: AsyncSession, *, now: datetime | None = None) -> Counter[str]:
    """The worker job: for every ticket not done, raise `sla_warning` past the warning
    fraction and `sla_breached` past the target (each alert change its own transaction,
    through the alerts feature); resolve the alerts of tickets that are done."""
    now = now or utcnow()
    raised: Counter[str] = Counter()
    open_ids = list(
        await session.scalars(
            select(Ticket.id).where(Ticket.category != "done").order_by(Ticket.id)
        )
    )
    done = list(
        await session.scalars(
            select(Ticket.number).where(
                Ticket.category == "done", Ticket.resolved_at >= _recent(now)
            )
        )
    )
    for ticket_id in open_ids:
        ticket = await tickets.get_ticket_or_raise(session, ticket_id)
        sla = await ticket_sla(session, ticket, now=now)
        if sla is None:
            continue
        number, title = ticket.number, ticket.title
        for clock in (sla.response, sla.resolution):
            if clock.stopped:
                continue
            if clock.elapsed_minutes > clock.target_minutes:
                kind, severity = SLA_BREACHED, "critical"
            elif clock.fraction * 100 >= sla.policy.warning_pct:
                kind, severity = SLA_WARNING, "warning"
            else:
                continue
            details = {
                "ticket": number,
                "clock": clock.name,
                "elapsed_minutes": clock.elapsed_minutes,
                "target_minutes": clock.target_minutes,
            }
            await alert_service.raise_alert(
                session,
                kind=kind,
                key=alert_key(kind, number, clock.name),
                severity=severity,
                title=f"{number}: {clock.name} SLA {_WORDS[kind]}",
                message=(
                    f"{title} - {clock.elapsed_minutes:.0f} of {clock.target_minutes}"
                    " business minutes"
                ),
                details=details,
            )
            if kind == SLA_BREACHED:
                await alert_service.resolve_alerts(
                    session, keys=[alert_key(SLA_WARNING, number, clock.name)]
                )
            metrics.SLA_ALERTS.labels(kind=kind).inc()
            raised[kind] += 1
    if done:
        keys = [alert_key(k, n, c) for n in done for k in ALERT_KINDS for c in CLOCKS]
        await alert_service.resolve_alerts(session, keys=keys)
    await session.rollback()
    if raised:
        log.info("sla_alerts", **raised)
    return raised


def _recent(now: datetime) -> datetime:
    return now - timedelta(days=7)


async def compliance(
    session: AsyncSession, *, since: datetime, now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Resolution SLA met / breached per kind for tickets resolved since `since` (the
    SLA report and the dashboard)."""
    now = now or utcnow()
    report: dict[str, dict[str, int]] = {}
    rows = list(
        await session.scalars(
            select(Ticket).where(Ticket.category == "done", Ticket.resolved_at >= since)
        )
    )
    for ticket in rows:
        sla = await ticket_sla(session, ticket, now=now)
        if sla is None:
            continue
        bucket = report.setdefault(ticket.kind, {"met": 0, "breached": 0})
        bucket["breached" if sla.resolution.state == "breached" else "met"] += 1
    return report


@dataclass(frozen=True)
class ReportRow:
    month: str  # YYYY-MM
    kind: str
    met: int
    breached: int


async def report(
    session: AsyncSession, *, months: int = 6, now: datetime | None = None
) -> list[ReportRow]:
    """Resolution SLA met / breached per month (when resolved) and kind, newest first,
    over the last `months` months, for tickets with a policy."""
    now = (now or utcnow()).astimezone(UTC)
    year, month = now.year, now.month
    for _ in range(months - 1):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    since = datetime(year, month, 1, tzinfo=UTC)
    counts: dict[tuple[str, str], list[int]] = {}
    tickets_done = await session.scalars(
        select(Ticket).where(Ticket.category == "done", Ticket.resolved_at >= since)
    )
    for ticket in list(tickets_done):
        clocks = await ticket_sla(session, ticket, now=now)
        if clocks is None or ticket.resolved_at is None:
            continue
        key = (ticket.resolved_at.astimezone(UTC).strftime("%Y-%m"), ticket.kind)
        bucket = counts.setdefault(key, [0, 0])
        bucket[1 if clocks.resolution.state == "breached" else 0] += 1
    return [
        ReportRow(month=m, kind=k, met=v[0], breached=v[1])
        for (m, k), v in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][1]), reverse=True
        )
    ]
