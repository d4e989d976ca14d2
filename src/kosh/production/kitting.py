"""Kitting a job: picking its material onto the MFG floor with the job's number as the
pick reference, one line at a time or every line's shortfall at once, and the guard that
refuses to give a job more than it needs unless someone says so.

Every pick goes through `kosh.stock.service.add_pick` (oldest lots first, guarded
decrements, ledger rows), inside this module's transaction: "kit all" picks every line or
none. `guard_over_kit` is subscribed to `events.STOCK_PICKED` in `kosh.wiring`, so a pick
made anywhere (the pick page, the API, a scanner) with a job's number is checked the same
way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import queries as part_queries
from kosh.core import audit, events
from kosh.core.db import after_commit, idempotent_transaction
from kosh.core.errors import ConflictError, NotFoundError
from kosh.core.messages import format_number
from kosh.production import planning
from kosh.production.metrics import KITTING, OVER_KIT
from kosh.production.models import Job, JobLine
from kosh.stock import queries as stock_queries
from kosh.stock import service as stock_service
from kosh.stock.errors import InsufficientStockError

KITTABLE_STATUSES = ("planned", "released", "in_progress")
log = structlog.get_logger(__name__)


class OverKitError(ConflictError):
    """The pick would give the job more of a part than its lines require."""

    code = "over_kit"


class KitShortError(ConflictError):
    """Kit all: some lines cannot be picked in full, so nothing was picked."""

    code = "kit_short"


@dataclass(frozen=True)
class KitPick:
    part_number: str
    qty: int
    pcns: list[str]


@dataclass(frozen=True)
class Kitting:
    job: Job
    picks: list[KitPick]


async def kittable_job(session: AsyncSession, job_id: int) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"No job with id {job_id}.", code="job_not_found")
    if job.status not in KITTABLE_STATUSES:
        raise ConflictError(
            f"Job {job.number} is {job.status.replace('_', ' ')}; only open jobs are kitted.",
            code="invalid_transition",
            details={"status": job.status},
        )
    return job


async def pick_for_line(
    session: AsyncSession,
    job: Job,
    line: planning.LinePlan,
    qty: int,
    *,
    pcn: str | None = None,
    allow_over_kit: bool = False,
) -> stock_service.Pick:
    """Pick `qty` of the line's part onto the floor with the job's number (joins the
    caller's transaction; the over-kit guard runs on the STOCK_PICKED event)."""
    return await stock_service.add_pick(
        session,
        part_number=line.part_number,
        qty=qty,
        warehouse_id=job.warehouse_id,
        reference=job.number,
        pcn=pcn,
        allow_over_kit=allow_over_kit,
    )


async def _pick(
    session: AsyncSession,
    job: Job,
    line: planning.LinePlan,
    qty: int,
    *,
    pcn: str | None = None,
    allow_over_kit: bool = False,
) -> KitPick:
    picked = await pick_for_line(session, job, line, qty, pcn=pcn, allow_over_kit=allow_over_kit)
    return KitPick(part_number=line.part_number, qty=qty, pcns=[m.pcn for m in picked.lines])


@idempotent_transaction
async def kit_line(
    session: AsyncSession,
    *,
    job_id: int,
    line_id: int,
    qty: int | None = None,
    pcn: str | None = None,
    allow_over_kit: bool = False,
) -> Kitting:
    """Pick `qty` (default: what the line still lacks) of one line's part for the job.

    Rules: the job exists (404) and is open (409 invalid_transition); the line is the
    job's (404 job_line_not_found); the line lacks something when no `qty` is given (409
    already_kitted); more than the line needs is 409 over_kit saying how much over, unless
    `allow_over_kit`; not enough stock is 409 insufficient_stock. Nothing changes on
    refusal."""
    job = await kittable_job(session, job_id)
    plan = await planning.job_plan(session, job)
    line = next((line for line in plan.lines if line.line_id == line_id), None)
    if line is None:
        raise NotFoundError(
            f"Job {job.number} has no line with id {line_id}.", code="job_line_not_found"
        )
    if qty is None:
        if line.outstanding == 0:
            raise ConflictError(
                f"Line {line.line_no} ({line.part_number}) of job {job.number} is kitted already.",
                code="already_kitted",
            )
        qty = line.outstanding
    picked = await _pick(session, job, line, qty, pcn=pcn, allow_over_kit=allow_over_kit)
    _count_after_commit(session, "line", job.number, [picked])
    return Kitting(job=job, picks=[picked])


def _count_after_commit(
    session: AsyncSession, kind: str, number: str, picks: list[KitPick]
) -> None:
    async def count() -> None:
        KITTING.labels(kind, "kitted").inc()
        log.info("job_kitted", kind=kind, job=number, units=sum(p.qty for p in picks))

    after_commit(session, count)


@idempotent_transaction
async def kit_all(session: AsyncSession, *, job_id: int, scan_confirm: bool = False) -> Kitting:
    """Pick what every line of the job still lacks, oldest lots first, all or nothing.

    Rules: the job exists (404) and is open (409 invalid_transition); with `scan_confirm`
    (the site's KOSH_KIT_SCAN_CONFIRM) nothing is picked blind: 409 scan_confirm_required
    pointing to the job's pick list (`pick_list`); when some line
    cannot be picked in full, nothing is picked and the answer is 409 kit_short listing
    each such part with what it needs and what is available (`short`); a job with nothing
    left to pick is 409 already_kitted."""
    job = await kittable_job(session, job_id)
    if scan_confirm:
        KITTING.labels("all", "scan_required").inc()
        raise ConflictError(
            f"This site confirms kitting by scanning: open the pick list of job {job.number} "
            "and scan each line's PCN.",
            code="scan_confirm_required",
            details={"pick_list": f"/jobs/{job.id}/pick-list"},
        )
    plan = await planning.job_plan(session, job)
    todo = [line for line in plan.lines if line.outstanding > 0]
    if not todo:
        raise ConflictError(f"Job {job.number} is kitted already.", code="already_kitted")
    picks: list[KitPick] = []
    short: list[dict[str, Any]] = []
    for line in todo:
        try:
            picks.append(await _pick(session, job, line, line.outstanding))
        except InsufficientStockError as exc:
            # Nothing of this line moved (take_fifo checks before it moves); keep going
            # so the answer names every short part, then roll back the lines that did.
            short.append(
                {
                    "part_id": line.part_id,
                    "part_number": line.part_number,
                    "needed": line.outstanding,
                    "available": int(exc.details.get("available", 0)),
                }
            )
    if short:
        listed = "; ".join(
            f"{s['part_number']} needs {format_number(s['needed'])}, "
            f"{format_number(s['available'])} available"
            for s in short
        )
        KITTING.labels("all", "short").inc()
        log.info("job_kit_short", job=job.number, short=[s["part_number"] for s in short])
        raise KitShortError(
            f"Job {job.number} cannot be kitted in full, so nothing was picked: {listed}.",
            details={"short": short},
        )
    await audit.record(
        session,
        action="job.kit_all",
        entity_type="job",
        entity_id=job.id,
        after={"picks": [{"part_number": p.part_number, "qty": p.qty} for p in picks]},
    )
    _count_after_commit(session, "all", job.number, picks)
    return Kitting(job=job, picks=picks)


# built once: it runs on every pick
_KITTABLE_JOBS = select(Job).where(
    Job.number.in_(bindparam("kit_references", expanding=True)),
    Job.status.in_(KITTABLE_STATUSES),
)


async def guard_over_kit(session: AsyncSession, picks: list[Any]) -> None:
    """Subscriber of `events.STOCK_PICKED`: refuse (409 over_kit) a pick whose reference
    is an open job when the job's kitted quantity of the part now exceeds what its lines
    require (a part the job does not use requires 0), unless the pick allowed it; an
    allowed over-kit is audited with how much over."""
    allowed: dict[tuple[str, int], bool] = defaultdict(bool)
    for reference, part_id, allow in picks:
        allowed[(reference, part_id)] |= bool(allow)
    references = sorted({ref for ref, _ in allowed})
    jobs = {
        job.number: job
        for job in await session.scalars(_KITTABLE_JOBS, {"kit_references": references})
    }
    if not jobs:
        return
    required: dict[tuple[int, int], int] = defaultdict(int)
    for job_id, part_id, qty in await session.execute(
        select(JobLine.job_id, JobLine.part_id, JobLine.required).where(
            JobLine.job_id.in_([job.id for job in jobs.values()])
        )
    ):
        required[(job_id, part_id)] += qty
    kitted: dict[tuple[str, int], int] = defaultdict(int)
    for total in await stock_queries.lot_totals_for_references(
        session, references=list(jobs), kinds=("pick",)
    ):
        kitted[(total.reference, total.part_id)] += total.qty
    over = [
        (jobs[ref], part_id, allow)
        for (ref, part_id), allow in sorted(allowed.items())
        if ref in jobs and kitted[(ref, part_id)] > required[(jobs[ref].id, part_id)]
    ]
    if not over:
        return
    parts = await part_queries.parts_by_ids(session, [part_id for _, part_id, _ in over])
    for job, part_id, allow in over:
        need = required[(job.id, part_id)]
        have = kitted[(job.number, part_id)]
        number = parts[part_id].number if part_id in parts else str(part_id)
        details = {
            "job_number": job.number,
            "part_id": part_id,
            "part_number": number,
            "required": need,
            "kitted": have,
            "over": have - need,
        }
        if not allow:
            OVER_KIT.labels("refused").inc()
            raise OverKitError(
                f"Job {job.number} needs {format_number(need)} of {number}; this pick "
                f"would kit {format_number(have)}, {format_number(have - need)} more than "
                "it needs. Confirm the over-kit to pick them anyway.",
                details=details,
            )
        OVER_KIT.labels("confirmed").inc()
        log.info("job_over_kit_confirmed", **details)
        await audit.record(
            session, action="job.over_kit", entity_type="job", entity_id=job.id, after=details
        )


# A pick with a job's number never gives the job more than it needs unless confirmed.
# the probe (kosh.core.events): is any pick's reference a job that can be kitted?
_ANY_KITTABLE_JOB = events.Probe(
    expression=select(Job.id)
    .where(
        Job.number.in_(bindparam("kit_probe_references", expanding=True)),
        Job.status.in_(KITTABLE_STATUSES),
    )
    .exists(),
    params=lambda picks: {"kit_probe_references": sorted({str(pick[0]) for pick in picks})},
)
events.subscribe(events.STOCK_PICKED, guard_over_kit, _ANY_KITTABLE_JOB)
