"""The cycle-count plan: which locations to count next, with ABC classification by value.

ABC: each part's consumption value over the last `value_days` (units picked, consumed or
shipped from the warehouse, times its unit cost; no cost counts as 0) ranks the parts.
The most valuable parts that together make up the first `a_share` of the total value
(80 % by default) are class A, the next `b_share` (15 %) class B, the rest (and parts
used up by nothing) class C. A location takes the best class of the parts it holds (an
empty one is C), and is due for counting `days_<class>` after it was last counted (A
every 30 days, B 90, C 180 by default): A stock is suggested more often. Never counted
is due first; then the longest overdue; then A before B before C; then by code.

Read-only; the thresholds come from settings (KOSH_CYCLE_COUNT_*).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import queries as part_queries
from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.documents.queries import last_counted
from kosh.locations import service as location_service
from kosh.stock import queries as stock_queries
from kosh.stock.service import STOCKABLE_KINDS

MAX_PLAN_LOCATIONS = 100_000
CLASSES = ("A", "B", "C")
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CountPolicy:
    a_share: Decimal = Decimal("0.80")
    b_share: Decimal = Decimal("0.15")
    value_days: int = 365
    days_a: int = 30
    days_b: int = 90
    days_c: int = 180

    @classmethod
    def from_settings(cls, settings: Settings) -> CountPolicy:
        return cls(
            a_share=settings.cycle_count_a_share,
            b_share=settings.cycle_count_b_share,
            value_days=settings.cycle_count_value_days,
            days_a=settings.cycle_count_days_a,
            days_b=settings.cycle_count_days_b,
            days_c=settings.cycle_count_days_c,
        )

    def interval(self, abc: str) -> int:
        return {"A": self.days_a, "B": self.days_b}.get(abc, self.days_c)


@dataclass(frozen=True)
class PartClass:
    part_id: int
    part_number: str
    units: int
    value: Decimal
    share: Decimal  # of the total value, this part included (cumulative, by rank)
    abc: str


def classify(values: dict[int, Decimal], *, policy: CountPolicy) -> dict[int, str]:
    """Part id -> A, B or C by value (pure). A part is A while the value ranked above it
    is under `a_share` of the total (so the most valuable part is always A), B while it
    is under `a_share + b_share`; parts of no value are C."""
    total = sum(values.values(), Decimal(0))
    answer: dict[int, str] = {}
    before = Decimal(0)
    for part_id, value in sorted(values.items(), key=lambda item: (-item[1], item[0])):
        if value <= 0 or total <= 0:
            answer[part_id] = "C"
            continue
        share = before / total
        answer[part_id] = (
            "A"
            if share < policy.a_share
            else "B"
            if share < policy.a_share + policy.b_share
            else "C"
        )
        before += value
    return answer


async def part_classes(
    session: AsyncSession, *, warehouse_id: int, policy: CountPolicy
) -> list[PartClass]:
    """Every part used up in the warehouse in the policy's window, most valuable first."""
    used = await stock_queries.consumption_by_part(
        session, since=utcnow() - timedelta(days=policy.value_days), warehouse_id=warehouse_id
    )
    parts = await part_queries.parts_by_ids(session, list(used))
    values = {
        part_id: units * (parts[part_id].unit_cost or Decimal(0))
        if part_id in parts
        else Decimal(0)
        for part_id, units in used.items()
    }
    classes = classify(values, policy=policy)
    total = sum(values.values(), Decimal(0))
    answer: list[PartClass] = []
    running = Decimal(0)
    for part_id in sorted(values, key=lambda p: (-values[p], p)):
        running += values[part_id]
        answer.append(
            PartClass(
                part_id=part_id,
                part_number=parts[part_id].number if part_id in parts else str(part_id),
                units=used[part_id],
                value=values[part_id],
                share=(running / total) if total else Decimal(0),
                abc=classes[part_id],
            )
        )
    return answer


@dataclass(frozen=True)
class PlanEntry:
    location_id: int
    code: str
    kind: str
    last_counted_at: datetime | None
    abc: str
    interval_days: int
    due_at: datetime | None  # None: never counted, due now

    @property
    def overdue(self) -> bool:
        return self.due_at is None or self.due_at <= utcnow()


async def plan(
    session: AsyncSession,
    *,
    warehouse_id: int,
    limit: int = 20,
    policy: CountPolicy | None = None,
) -> list[PlanEntry]:
    """The warehouse's active stock locations in the order to count them (see the module
    docstring): never counted first, then by due date, class and code."""
    policy = policy or CountPolicy()
    locations, _ = await location_service.list_locations(
        session, warehouse_id=warehouse_id, active=True, limit=MAX_PLAN_LOCATIONS
    )
    stockable = [loc for loc in locations if loc.kind in STOCKABLE_KINDS]
    ids = [loc.id for loc in stockable]
    counted = await last_counted(session, ids)
    classes = {
        c.part_id: c.abc
        for c in await part_classes(session, warehouse_id=warehouse_id, policy=policy)
    }
    held = await stock_queries.parts_by_location(session, ids)
    entries = []
    for loc in stockable:
        abc = min((classes.get(p, "C") for p in held.get(loc.id, ())), default="C")
        interval = policy.interval(abc)
        last = counted.get(loc.id)
        entries.append(
            PlanEntry(
                location_id=loc.id,
                code=loc.code,
                kind=loc.kind,
                last_counted_at=last,
                abc=abc,
                interval_days=interval,
                due_at=None if last is None else last + timedelta(days=interval),
            )
        )
    entries.sort(key=lambda e: (e.due_at is not None, e.due_at or _NEVER, e.abc, e.code))
    return entries[:limit]
