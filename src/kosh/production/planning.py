"""Material requirements of jobs: required, kitted, consumed, shortage (read-only).

For each job line:
- required    = BOM quantity per assembly x job quantity (fixed when the job is created);
- kitted      = units picked with the job's number as reference (stock ledger, kind pick);
- consumed    = units the job used up at completion;
- outstanding = required - kitted, never below 0 (still to pick);
- on_hand     = units of the part in the warehouse's storage locations (what picks take);
- committed   = what earlier released jobs of the warehouse still have to pick of the part
                (jobs are served in release order);
- available   = on_hand - committed, never below 0;
- shortage    = outstanding - available, never below 0;
- incoming    = what placed purchase orders bring of the shortage by the job's due date
                (`kosh.purchasing.queries.incoming`), which alerts quote.

A planned job counts every released job as earlier, which is what the over-planning guard
at release needs: releasing a job whose lines are short would take material that either
does not exist or is already promised to jobs released before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog.models import Part
from kosh.production.models import OPEN_STATUSES, Job, JobLine
from kosh.purchasing import queries as purchasing_queries
from kosh.stock import movements
from kosh.stock import queries as stock_queries


@dataclass
class LotUse:
    pcn: str
    lot_id: int
    picked: int = 0
    consumed: int = 0


@dataclass
class LinePlan:
    line_id: int
    line_no: int
    part_id: int
    part_number: str
    description: str
    unit: str
    qty_per: int
    required: int
    kitted: int = 0
    consumed: int = 0
    outstanding: int = 0
    on_hand: int = 0
    committed: int = 0
    available: int = 0
    shortage: int = 0
    lots: list[LotUse] = field(default_factory=list)
    # What placed purchase orders bring of the shortage by the job's due date (earliest
    # first, shared between jobs in release order): [{number, qty, expected_date}].
    incoming: list[dict[str, Any]] = field(default_factory=list)

    @property
    def on_order_by_due(self) -> int:
        return sum(int(i["qty"]) for i in self.incoming)

    def incoming_text(self) -> str:
        """ "; 200 due on PO-000123 on 2026-12-14" (empty when nothing is coming)."""
        return "".join(
            f"; {i['qty']} due on {i['number']} on {i['expected_date']}" for i in self.incoming
        )

    def as_shortage(self) -> dict[str, Any]:
        reason = (
            "not enough stock in the warehouse"
            if self.outstanding > self.on_hand
            else "needed by jobs released earlier"
        )
        return {
            "part_id": self.part_id,
            "part_number": self.part_number,
            "required": self.required,
            "kitted": self.kitted,
            "outstanding": self.outstanding,
            "on_hand": self.on_hand,
            "committed_to_earlier_jobs": self.committed,
            "available": self.available,
            "shortage": self.shortage,
            "reason": reason,
            "on_order_by_due": self.on_order_by_due,
            "incoming": self.incoming,
        }


@dataclass
class JobPlan:
    job: Job
    lines: list[LinePlan]

    @property
    def shortages(self) -> list[LinePlan]:
        return [line for line in self.lines if line.shortage > 0]


async def _lines(session: AsyncSession, job_ids: Collection[int]) -> dict[int, list[LinePlan]]:
    if not job_ids:
        return {}
    rows = await session.execute(
        select(JobLine, Part.number, Part.description, Part.unit)
        .join(Part, Part.id == JobLine.part_id)
        .where(JobLine.job_id.in_(list(job_ids)))
        .order_by(JobLine.job_id, JobLine.line_no)
    )
    found: dict[int, list[LinePlan]] = defaultdict(list)
    for line, number, description, unit in rows:
        found[line.job_id].append(
            LinePlan(
                line_id=line.id,
                line_no=line.line_no,
                part_id=line.part_id,
                part_number=number,
                description=description,
                unit=unit,
                qty_per=line.qty_per,
                required=line.required,
                consumed=line.consumed,
            )
        )
    return found


async def _kitting(
    session: AsyncSession, jobs: Iterable[Job]
) -> dict[str, dict[int, dict[int, LotUse]]]:
    """job number -> part id -> lot id -> picks and consumption under that number."""
    totals = await stock_queries.lot_totals_for_references(
        session, references=[job.number for job in jobs], kinds=("pick", "consume")
    )
    kitting: dict[str, dict[int, dict[int, LotUse]]] = defaultdict(lambda: defaultdict(dict))
    for total in totals:
        use = kitting[total.reference][total.part_id].setdefault(
            total.lot_id, LotUse(pcn=total.pcn, lot_id=total.lot_id)
        )
        if total.kind == "pick":
            use.picked += total.qty
        else:
            use.consumed += total.qty
    return kitting


def _open(job: Job) -> bool:
    return job.status in OPEN_STATUSES


def _release_order(job: Job) -> tuple[int, Any, int]:
    # Released jobs in release order; a planned job (being checked for release) comes last.
    if job.released_at is None:
        return (1, 0, job.id)
    return (0, job.released_at, job.id)


async def _open_jobs(session: AsyncSession, warehouse_id: int) -> list[Job]:
    rows = await session.scalars(
        select(Job).where(Job.warehouse_id == warehouse_id, Job.status.in_(OPEN_STATUSES))
    )
    return sorted(rows, key=_release_order)


async def warehouse_plans(
    session: AsyncSession, warehouse_id: int, *, extra: Job | None = None
) -> list[JobPlan]:
    """Plans of the warehouse's open jobs (plus `extra`, e.g. a planned job), with stock
    allocated to jobs in release order."""
    jobs = await _open_jobs(session, warehouse_id)
    if extra is not None and all(job.id != extra.id for job in jobs):
        jobs.append(extra)
    jobs.sort(key=_release_order)
    lines = await _lines(session, [job.id for job in jobs])
    kitting = await _kitting(session, jobs)
    part_ids = {line.part_id for plan_lines in lines.values() for line in plan_lines}
    on_hand = await movements.on_hand(session, part_ids=part_ids, warehouse_id=warehouse_id)
    committed: dict[int, int] = defaultdict(int)
    plans = []
    for job in jobs:
        plan_lines = lines.get(job.id, [])
        for line in plan_lines:
            lots = kitting.get(job.number, {}).get(line.part_id, {})
            line.lots = sorted(lots.values(), key=lambda use: use.lot_id)
            line.kitted = sum(use.picked for use in line.lots)
            line.on_hand = on_hand.get(line.part_id, 0)
            if _open(job) or job.status == "planned":
                line.outstanding = max(line.required - line.kitted, 0)
                line.committed = committed[line.part_id]
                line.available = max(line.on_hand - line.committed, 0)
                line.shortage = max(line.outstanding - line.available, 0)
                committed[line.part_id] += line.outstanding
        plans.append(JobPlan(job=job, lines=plan_lines))
    await _count_incoming(session, warehouse_id, plans)
    return plans


async def _count_incoming(session: AsyncSession, warehouse_id: int, plans: list[JobPlan]) -> None:
    """Cover shortages with what placed purchase orders bring by each job's due date (a
    job without a due date counts every dated PO line), earliest first, jobs in release
    order, so two jobs never count the same units."""
    short_parts = {line.part_id for plan in plans for line in plan.shortages}
    if not short_parts:
        return
    coming = await purchasing_queries.incoming(
        session, part_ids=short_parts, warehouse_id=warehouse_id
    )
    left = {id(i): i.qty for i in coming}
    for plan in plans:
        for line in plan.shortages:
            need = line.shortage
            for po in coming:
                if need == 0:
                    break
                if po.part_id != line.part_id or po.expected_date is None or not left[id(po)]:
                    continue
                if plan.job.due_date is not None and po.expected_date > plan.job.due_date:
                    continue
                take = min(need, left[id(po)])
                left[id(po)] -= take
                need -= take
                line.incoming.append(
                    {
                        "number": po.order_number,
                        "qty": take,
                        "expected_date": po.expected_date.isoformat(),
                    }
                )


async def job_plan(session: AsyncSession, job: Job) -> JobPlan:
    """One job's lines with kitting and (for planned and open jobs) shortages."""
    if job.status == "planned" or _open(job):
        plans = await warehouse_plans(session, job.warehouse_id, extra=job)
        return next(plan for plan in plans if plan.job.id == job.id)
    lines = (await _lines(session, [job.id])).get(job.id, [])
    kitting = await _kitting(session, [job])
    for line in lines:
        line.lots = sorted(
            kitting.get(job.number, {}).get(line.part_id, {}).values(), key=lambda u: u.lot_id
        )
        line.kitted = sum(use.picked for use in line.lots)
    return JobPlan(job=job, lines=lines)


async def open_warehouses_using(
    session: AsyncSession, part_ids: Collection[int] | None
) -> set[int]:
    """Warehouses with an open job that needs one of `part_ids` (all when None)."""
    query = select(Job.warehouse_id).where(Job.status.in_(OPEN_STATUSES))
    if part_ids is not None:
        query = query.join(JobLine, JobLine.job_id == Job.id).where(
            JobLine.part_id.in_(list(part_ids))
        )
    return set(await session.scalars(query.distinct()))


def due_soon(due: date | None, today: date, days: int) -> bool:
    return due is not None and (due - today).days <= days
