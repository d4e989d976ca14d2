"""SLA policies and computed clocks (paused while waiting, survive restarts: nothing is
stored), the worker's `sla_warning` / `sla_breached` alerts through the alerts feature,
their resolution when the ticket is done, and the compliance report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts.models import Alert
from kosh.core.db import utcnow
from kosh.core.errors import NotFoundError, ValidationError
from kosh.quality import service as quality_service
from kosh.quality import sla
from kosh.quality.models import Ticket, TicketEvent
from kosh.shopfloor import service as shopfloor_service
from tests.quality.support import a_shop


async def _backdate(session: AsyncSession, ticket_id: int, minutes: list[int]) -> None:
    """Put the ticket's status events `minutes` ago (oldest first) and its times with them."""
    now = utcnow()
    events = list(
        await session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
    )
    for event, ago in zip(events, minutes, strict=True):
        event.at = now - timedelta(minutes=ago)
    ticket = await session.get_one(Ticket, ticket_id)
    ticket.opened_at = events[0].at
    if ticket.responded_at is not None:
        ticket.responded_at = events[1].at
    if ticket.resolved_at is not None:
        ticket.resolved_at = events[-1].at
    await session.commit()


async def _alerts(session: AsyncSession) -> dict[str, str]:
    await session.rollback()
    rows = await session.execute(select(Alert.subject_key, Alert.state))
    return dict(rows.all())


async def test_clocks_pause_while_waiting(session: AsyncSession) -> None:
    # given a 24x7 policy: respond in 60, resolve in 120 minutes
    await quality_service.set_policy(
        session, kind="ncr", priority="high", response_minutes=60, resolution_minutes=120
    )
    ticket = await quality_service.create_ticket(session, kind="ncr", title="x", priority="high")
    ticket_id = ticket.id
    # and a history: opened 150 min ago, waiting from 120 to 60 min ago, in progress since
    await quality_service.transition(session, ticket_id=ticket_id, to="waiting")
    await quality_service.transition(session, ticket_id=ticket_id, to="in_progress")
    await _backdate(session, ticket_id, [150, 120, 60])
    # when the clocks are read
    ticket = await quality_service.get_ticket_or_raise(session, ticket_id)
    clocks = await quality_service.ticket_sla(session, ticket)
    # then the response took 30 minutes (met) and resolution has run 90 (30 + 60)
    assert clocks is not None
    assert clocks.response.state == "met"
    assert clocks.response.elapsed_minutes == pytest.approx(30, abs=0.1)
    assert clocks.resolution.state == "running"
    assert clocks.resolution.elapsed_minutes == pytest.approx(90, abs=0.1)
    assert clocks.resolution.due_at is not None
    # while waiting again the clock is paused
    await quality_service.transition(session, ticket_id=ticket_id, to="waiting")
    ticket = await quality_service.get_ticket_or_raise(session, ticket_id)
    paused = await quality_service.ticket_sla(session, ticket, now=utcnow() + timedelta(hours=5))
    assert paused is not None
    assert paused.resolution.state == "paused"
    assert paused.resolution.due_at is None
    assert paused.resolution.elapsed_minutes == pytest.approx(90, abs=0.2)
    # a ticket of another priority has no policy
    other = await quality_service.create_ticket(session, kind="ncr", title="y")
    assert await quality_service.ticket_sla(session, other) is None


async def test_worker_raises_warning_then_breach_and_resolves_when_done(
    session: AsyncSession,
) -> None:
    # given a maintenance policy on the shop calendar (8 h every day from 00:00 UTC)
    shop = await a_shop(session)
    await quality_service.set_policy(
        session,
        kind="maintenance",
        priority="normal",
        response_minutes=100,
        resolution_minutes=1000,
        calendar_code=shop.calendar,
        day_start="00:00",
        timezone="UTC",
        warning_pct=50,
    )
    ticket = await quality_service.create_ticket(session, kind="maintenance", title="Leak")
    ticket_id, number = ticket.id, ticket.number
    opened = utcnow().replace(hour=1, minute=0, second=0, microsecond=0)
    await session.execute(
        update(TicketEvent).where(TicketEvent.ticket_id == ticket_id).values(at=opened)
    )
    await session.commit()
    # when the worker checks 60 business minutes in: a response warning
    raised = await quality_service.check_slas(session, now=opened + timedelta(minutes=60))
    assert raised == {"sla_warning": 1}
    assert await _alerts(session) == {sla.alert_key("sla_warning", number, "response"): "open"}
    # when it checks 120 minutes in: breached, and the warning resolves
    raised = await quality_service.check_slas(session, now=opened + timedelta(minutes=120))
    assert raised["sla_breached"] == 1
    alerts = await _alerts(session)
    assert alerts[sla.alert_key("sla_breached", number, "response")] == "open"
    assert alerts[sla.alert_key("sla_warning", number, "response")] == "resolved"
    # when the ticket is done, its alerts resolve on the next check
    await quality_service.transition(session, ticket_id=ticket_id, to="resolved")
    assert await quality_service.check_slas(session) == {}
    assert set((await _alerts(session)).values()) == {"resolved"}
    # and the compliance report counts it as breached (response came late, resolution met)
    report = await quality_service.compliance(session, since=opened - timedelta(days=1))
    assert report == {"maintenance": {"met": 1, "breached": 0}}
    month = utcnow().strftime("%Y-%m")
    rows = await quality_service.sla_report(session, months=13)
    assert [(r.month, r.kind, r.met, r.breached) for r in rows] == [(month, "maintenance", 1, 0)]


async def test_policy_rules_and_upsert(session: AsyncSession) -> None:
    first = await quality_service.set_policy(
        session, kind="replacement", priority="low", response_minutes=10, resolution_minutes=20
    )
    again = await quality_service.set_policy(
        session, kind="replacement", priority="low", response_minutes=15, resolution_minutes=30
    )
    assert again.id == first.id
    assert again.version == 2
    assert again.response_minutes == 15
    assert [p.priority for p in await quality_service.list_policies(session)] == ["low"]
    bad: list[dict[str, object]] = [
        {"response_minutes": 0, "resolution_minutes": 5},
        {"response_minutes": 10, "resolution_minutes": 5},
        {"response_minutes": 1, "resolution_minutes": 5, "warning_pct": 100},
        {"response_minutes": 1, "resolution_minutes": 5, "day_start": "8"},
        {"response_minutes": 1, "resolution_minutes": 5, "timezone": "Mars/Base"},
        {"response_minutes": 1, "resolution_minutes": 5, "timezone": "../etc"},
    ]
    for fields in bad:
        with pytest.raises(ValidationError):
            await quality_service.set_policy(session, kind="ncr", priority="low", **fields)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        await quality_service.set_policy(
            session,
            kind="ncr",
            priority="low",
            response_minutes=1,
            resolution_minutes=5,
            calendar_code="NOPE",
        )


async def test_clocks_follow_the_calendar_now(session: AsyncSession) -> None:
    # given a calendar with a holiday today: a ticket opened today has used no minutes
    shop = await a_shop(session)
    calendar = await shopfloor_service.get_calendar_by_code_or_raise(session, shop.calendar)
    await shopfloor_service.set_calendar_day(
        session, code=calendar.code, day=utcnow().date(), minutes=0, reason="holiday"
    )
    await quality_service.set_policy(
        session,
        kind="ncr",
        priority="normal",
        response_minutes=30,
        resolution_minutes=60,
        calendar_code=shop.calendar,
        day_start="00:00",
    )
    ticket = await quality_service.create_ticket(session, kind="ncr", title="x")
    clocks = await quality_service.ticket_sla(session, ticket)
    assert clocks is not None
    assert clocks.resolution.elapsed_minutes == 0
