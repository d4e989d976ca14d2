"""Preventive maintenance plans (by days or run hours), the worker job that opens a due
plan's ticket exactly once even with two workers, and spare parts consumed on a ticket."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from kosh.quality import jobs, maintenance
from kosh.quality import service as quality_service
from kosh.quality.models import Ticket
from kosh.shopfloor import queries as shopfloor_queries
from kosh.stock.errors import InsufficientStockError
from kosh.worker import Worker
from tests.quality.support import a_lot, a_shop
from tests.support.stock import balances, ledger


async def _ticket_count(session: AsyncSession) -> int:
    await session.rollback()
    return int(await session.scalar(select(func.count()).select_from(Ticket)) or 0)


async def test_day_plan_falls_due_and_opens_one_ticket(session: AsyncSession) -> None:
    # given a plan every 7 days
    shop = await a_shop(session)
    plan = await quality_service.create_plan(
        session, machine_code=shop.machine, title="", every_days=7
    )
    plan_id = plan.id
    today = utcnow().date()
    assert plan.next_due_on == today + timedelta(days=7)
    assert plan.title.startswith("Preventive maintenance")
    # when the job runs before it is due: nothing
    assert await maintenance.open_due_tickets(session, today=today) == []
    # when it runs on the due day, and again the same day
    made = await maintenance.open_due_tickets(session, today=today + timedelta(days=7))
    again = await maintenance.open_due_tickets(session, today=today + timedelta(days=7))
    # then exactly one ticket, for the machine, and the plan moved on 7 days
    assert len(made) == 1
    assert again == []
    ticket = await quality_service.get_ticket_by_number(session, made[0])
    assert ticket is not None
    assert ticket.machine_id == shop.machine_id
    assert ticket.plan_id == plan_id
    statuses = await quality_service.plan_statuses(session, today=today + timedelta(days=7))
    assert statuses[0].plan.next_due_on == today + timedelta(days=14)
    assert not statuses[0].due
    # and overdue shows in the list once the date has passed
    late = await quality_service.plan_statuses(session, today=today + timedelta(days=20))
    assert late[0].due
    assert late[0].overdue


async def test_run_hour_plan_counts_shop_floor_time(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await a_shop(session)
    await quality_service.create_plan(session, machine_code=shop.machine, every_run_hours=10)
    # no time logged yet: not due (the real shop-floor count)
    assert await maintenance.open_due_tickets(session) == []
    assert (await quality_service.plan_statuses(session))[0].run_hours == 0

    # when the work centre has run 11 hours
    async def ran(session: AsyncSession, work_centre_id: int, since: object) -> int:
        return 11 * 60

    monkeypatch.setattr(shopfloor_queries, "run_minutes_since", ran)
    made = await maintenance.open_due_tickets(session)
    # then one ticket, and the plan's count starts again from now
    assert len(made) == 1
    assert (await quality_service.plan_statuses(session))[0].run_hours == 11


async def test_plan_rules(session: AsyncSession) -> None:
    shop = await a_shop(session)
    with pytest.raises(ValidationError) as both:
        await quality_service.create_plan(
            session, machine_code=shop.machine, title="x", every_days=1, every_run_hours=1
        )
    assert both.value.code == "interval_required"
    with pytest.raises(ValidationError):
        await quality_service.create_plan(session, machine_code=shop.machine, title="x")
    with pytest.raises(ValidationError):
        await quality_service.create_plan(
            session, machine_code=shop.machine, title="x", every_days=0
        )
    with pytest.raises(NotFoundError):
        await quality_service.create_plan(session, machine_code="NOPE", title="x", every_days=3)
    # an inactive plan is never due
    plan = await quality_service.create_plan(
        session, machine_code=shop.machine, title="x", every_days=1
    )
    plan.active = False
    await session.commit()
    assert (
        await maintenance.open_due_tickets(session, today=utcnow().date() + timedelta(days=5)) == []
    )
    assert await maintenance.open_if_due(session, plan_id=9999, today=utcnow().date()) is None


async def test_two_workers_open_a_due_plan_ticket_exactly_once(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given three plans that are due now
    shop = await a_shop(session)
    for days in (1, 2, 3):
        plan = await quality_service.create_plan(
            session, machine_code=shop.machine, title=f"every {days}", every_days=days
        )
        plan.next_due_on = utcnow().date()
    await session.commit()
    # when two workers run the job at the same moment
    first, second = await asyncio.gather(jobs.run_once(sessions), jobs.run_once(sessions))
    # then each plan got exactly one ticket between them
    assert sorted(first + second) == ["MNT-000001", "MNT-000002", "MNT-000003"]
    assert await _ticket_count(session) == 3
    # and the worker's tick runs the job once per interval
    ticker = jobs.QualityJobs(sessions, every_seconds=3600)
    assert await ticker.tick() is True
    assert await ticker.tick() is False
    assert await _ticket_count(session) == 3


async def test_worker_jobs_survive_a_failing_job(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(session: AsyncSession, **_: object) -> list[str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(maintenance, "open_due_tickets", broken)
    monkeypatch.setattr(jobs.sla, "check", broken)
    assert await jobs.run_once(sessions) == []


async def test_spare_parts_are_consumed_with_the_ticket_number(session: AsyncSession) -> None:
    # given 10 spares in storage and a maintenance ticket
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 10)
    from kosh.stock import service as stock_service

    lot_id = (await stock_service.get_lot_by_pcn_or_raise(session, pcn)).id
    ticket = await quality_service.create_ticket(
        session,
        kind="maintenance",
        title="Belt",
        links=quality_service.Links(machine_code=shop.machine),
    )
    ticket_id, number = ticket.id, ticket.number
    # when 3 are used
    lines = await quality_service.consume_spares(
        session,
        ticket_id=ticket_id,
        part_number=shop.part_number,
        qty=3,
        warehouse_id=shop.warehouse_id,
    )
    # then they left stock as consume rows referencing the ticket
    assert [(line.pcn, line.qty) for line in lines] == [(pcn, 3)]
    assert await balances(session, lot_id) == {shop.storage_id: 7}
    last = (await ledger(session, lot_id))[-1]
    assert (last.kind, last.reference, last.to_location_id) == ("consume", number, None)
    # and more than there is is 409 with nothing changed
    with pytest.raises(InsufficientStockError):
        await quality_service.consume_spares(
            session,
            ticket_id=ticket_id,
            part_number=shop.part_number,
            qty=8,
            warehouse_id=shop.warehouse_id,
        )
    assert await balances(session, lot_id) == {shop.storage_id: 7}
    # an NCR takes no spares, a done ticket neither
    ncr = await quality_service.create_ticket(session, kind="ncr", title="x")
    with pytest.raises(RuleViolationError):
        await quality_service.consume_spares(
            session,
            ticket_id=ncr.id,
            part_number=shop.part_number,
            qty=1,
            warehouse_id=shop.warehouse_id,
        )
    await quality_service.transition(session, ticket_id=ticket_id, to="resolved")
    with pytest.raises(ConflictError):
        await quality_service.consume_spares(
            session,
            ticket_id=ticket_id,
            part_number=shop.part_number,
            qty=1,
            warehouse_id=shop.warehouse_id,
        )


async def test_two_kosh_workers_open_a_due_plan_ticket_once(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    # given a plan due today
    shop = await a_shop(session)
    plan = await quality_service.create_plan(session, machine_code=shop.machine, every_days=5)
    plan.next_due_on = utcnow().date()
    await session.commit()
    # when two `kosh worker --once` processes' loops run at the same time
    workers = [Worker(settings, sessions, worker_id=f"w{n}") for n in (1, 2)]
    await asyncio.gather(*(w.run(once=True) for w in workers))
    # then the plan has exactly one ticket
    assert await _ticket_count(session) == 1
