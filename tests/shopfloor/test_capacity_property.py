"""Hypothesis drives random sequences of schedule (one job or a batch; forward or backward;
with or without a manager's confirmed overload) / unschedule /
machine down and up / holidays and short days / efficiency changes against the real
services.

After every step: no work-centre day is planned over its capacity except by the active
overrides a manager confirmed (and none before one was), the load rows equal the
sum of the bookings, every operation is booked all or nothing, and a fully booked job's
operations are in sequence (each starts no earlier than the day the one before ends)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from datetime import date, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import create_engine, create_session_factory
from kosh.core.errors import DomainError
from kosh.shopfloor import capacity, routings
from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor.errors import OverCapacityError
from kosh.shopfloor.models import CapacityOverride, OperationBooking, WorkCentre, WorkCentreDay
from tests.shopfloor.support import Floor, a_floor, a_released_job, future_day

T = TypeVar("T")
QUANTITIES = (200, 500, 800, 50)
STATUSES = ("running", "idle", "down", "maintenance")


async def _empty(engine: AsyncEngine) -> None:
    from tests.stock.test_stateful import _empty as empty_all

    await empty_all(engine)


class PlanningBoard(RuleBasedStateMachine):
    runner: asyncio.Runner
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    def attempt(self, use_case: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            async with self.sessions() as session:
                return await use_case(session, **kwargs)

        try:
            return self.run(call())
        except DomainError as refused:
            return refused

    @initialize()
    def open_floor(self) -> None:
        async def setup() -> tuple[Floor, list[int], date]:
            await _empty(self.engine)
            async with self.sessions() as session:
                floor = await a_floor(session)
                jobs = [await a_released_job(session, floor, qty) for qty in QUANTITIES]
            return floor, jobs, future_day(3)

        self.floor, self.jobs, self.day0 = self.run(setup())

    @rule(
        job=st.integers(0, 3),
        offset=st.integers(0, 4),
        window=st.none() | st.integers(0, 3),
        direction=st.sampled_from(["forward", "backward"]),
        confirm=st.booleans(),
    )
    def schedule(
        self, job: int, offset: int, window: int | None, direction: str, confirm: bool
    ) -> None:
        start = self.day0 + timedelta(offset)
        if direction == "backward" and window is None:
            window = 3  # the jobs have no due date: backward needs a finish
        outcome = self.attempt(
            shopfloor_service.schedule_job,
            job_id=self.jobs[job],
            start=start,
            finish_by=None if window is None else start + timedelta(window),
            direction=direction,
            confirm_over_capacity=confirm,
            may_confirm=True,
        )
        if isinstance(outcome, DomainError):
            assert not confirm, outcome  # a manager's confirmation is never refused
            assert isinstance(outcome, OverCapacityError), outcome
            assert outcome.details["free_minutes"] < outcome.details["needed_minutes"]
        elif outcome.overloads:
            self.confirmed = True

    @rule(
        order=st.permutations(range(4)).map(lambda p: list(p)[: 1 + p[0]]),
        offset=st.integers(0, 4),
        window=st.integers(0, 3),
    )
    def schedule_batch(self, order: list[int], offset: int, window: int) -> None:
        start = self.day0 + timedelta(offset)
        outcome = self.attempt(
            shopfloor_service.schedule_jobs,
            job_ids=[self.jobs[i] for i in order],
            start=start,
            finish_by=start + timedelta(window),
        )
        assert not isinstance(outcome, DomainError), outcome
        assert {o.code for o in outcome} <= {None, "over_capacity"}

    @rule(job=st.integers(0, 3))
    def unschedule(self, job: int) -> None:
        outcome = self.attempt(shopfloor_service.unschedule_job, job_id=self.jobs[job])
        assert not isinstance(outcome, DomainError), outcome

    @rule(machine=st.integers(0, 1), status=st.sampled_from(STATUSES))
    def machine_status(self, machine: int, status: str) -> None:
        outcome = self.attempt(
            shopfloor_service.set_machine_status,
            machine_id=self.floor.machine_ids[machine],
            status=status,
            reason="hypothesis",
        )
        assert not isinstance(outcome, DomainError), outcome

    @rule(offset=st.integers(0, 6), minutes=st.none() | st.sampled_from([0, 120, 480, 600]))
    def calendar_day(self, offset: int, minutes: int | None) -> None:
        outcome = self.attempt(
            shopfloor_service.set_calendar_day,
            code=self.floor.calendar,
            day=self.day0 + timedelta(offset),
            minutes=minutes,
        )
        assert not isinstance(outcome, DomainError), outcome

    @rule(pct=st.integers(1, 200))
    def efficiency(self, pct: int) -> None:
        async def version() -> int:
            async with self.sessions() as session:
                centre = await session.get(WorkCentre, self.floor.smt_id)
                assert centre is not None
                return centre.version

        outcome = self.attempt(
            shopfloor_service.set_efficiency,
            code=self.floor.smt,
            version=self.run(version()),
            efficiency_pct=pct,
        )
        assert not isinstance(outcome, DomainError), outcome

    @invariant()
    def never_over_capacity(self) -> None:
        if not hasattr(self, "floor"):
            return

        async def read() -> None:
            async with self.sessions() as session:
                rows = list(await session.execute(select(WorkCentreDay)))
                active = {
                    (wc, day): minutes
                    for wc, day, minutes in await session.execute(
                        select(
                            CapacityOverride.work_centre_id,
                            CapacityOverride.day,
                            func.sum(CapacityOverride.minutes),
                        )
                        .where(CapacityOverride.released_at.is_(None))
                        .group_by(CapacityOverride.work_centre_id, CapacityOverride.day)
                    )
                }
                for (row,) in rows:
                    # over capacity only by what a manager confirmed, and only then
                    extra = row.override_minutes
                    assert extra == active.get((row.work_centre_id, row.day), 0)
                    assert extra == 0 or getattr(self, "confirmed", False)
                    assert 0 <= row.planned_minutes <= row.capacity_minutes + extra
                    if row.day >= capacity.today():
                        centre = await session.get(WorkCentre, row.work_centre_id)
                        assert centre is not None
                        fresh = await capacity.capacities(session, centre, row.day, row.day)
                        assert row.capacity_minutes == fresh[row.day]
                assert await capacity.drift(session) == []
                booked = dict(
                    (
                        await session.execute(
                            select(
                                OperationBooking.operation_id, func.sum(OperationBooking.minutes)
                            ).group_by(OperationBooking.operation_id)
                        )
                    ).all()
                )
                for job_id in self.jobs:
                    ops = await routings.job_operations(session, job_id)
                    for op in ops:
                        assert booked.get(op.id, 0) in (0, op.planned_minutes)
                    if all(op.id in booked for op in ops):
                        days = {
                            op.id: list(
                                await session.scalars(
                                    select(OperationBooking.day)
                                    .where(OperationBooking.operation_id == op.id)
                                    .order_by(OperationBooking.day)
                                )
                            )
                            for op in ops
                        }
                        for before, after in itertools.pairwise(ops):
                            assert days[after.id][0] >= days[before.id][-1]

        self.run(read())


def test_booked_load_never_exceeds_capacity(base_settings: Settings, engine: AsyncEngine) -> None:
    # own engine on the machine's own event loop; `engine` guarantees the migrated schema
    with asyncio.Runner() as runner:
        own_engine = create_engine(base_settings)
        PlanningBoard.runner = runner
        PlanningBoard.engine = own_engine
        PlanningBoard.sessions = create_session_factory(own_engine)
        try:
            run_state_machine_as_test(
                PlanningBoard,
                settings=settings(
                    max_examples=12,
                    stateful_step_count=15,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow],
                ),
            )
        finally:
            runner.run(_empty(own_engine))
            runner.run(own_engine.dispose())


pytestmark = pytest.mark.slow
