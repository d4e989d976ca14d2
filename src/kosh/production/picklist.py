"""A job's pick list, confirmed by scanning: for each line still to kit, which PCN from
which bin and how many (the FIFO suggestion, from stock's queries), and the confirmation
of one line by scanning the PCN label.

The scanned PCN must be the one KOSH suggests (the oldest lot with stock in storage): a
PCN of another part, or an unknown one, is refused naming the expected PCN and bin; a
younger lot of the right part is taken only with a reason, which is audited. A confirmed
scan picks through `kitting`'s pick (oldest lots first within the lot, guarded decrements,
ledger rows, the over-kit guard) in an idempotent transaction. With `KOSH_KIT_SCAN_CONFIRM`
on, "kit all" goes through this list instead of picking blind.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import after_commit, idempotent_transaction
from kosh.core.errors import ConflictError, NotFoundError, field_error
from kosh.core.messages import format_number
from kosh.production import kitting, planning
from kosh.production.metrics import KITTING, PICK_SCAN
from kosh.production.models import Job
from kosh.stock import queries as stock_queries
from kosh.stock import service as stock_service

log = structlog.get_logger(__name__)


class WrongPcnError(ConflictError):
    """The scanned label is not a lot of the line's part."""

    code = "wrong_pcn"


class NotFifoError(ConflictError):
    """The scanned lot is the right part but not the oldest; a reason lets it be taken."""

    code = "not_fifo"


@dataclass(frozen=True)
class Suggestion:
    pcn: str
    location_code: str
    qty: int


@dataclass(frozen=True)
class PickListLine:
    line_id: int
    line_no: int
    part_number: str
    description: str
    outstanding: int
    suggestions: list[Suggestion]

    @property
    def short(self) -> int:
        """Units the storage bins cannot give this line now."""
        return self.outstanding - sum(s.qty for s in self.suggestions)


@dataclass(frozen=True)
class PickList:
    job: Job
    lines: list[PickListLine]


@dataclass(frozen=True)
class ScanConfirmation:
    job: Job
    line: PickListLine  # after the pick: what is still to do for the line
    pcn: str
    qty: int
    from_bins: list[str]
    overridden: bool


async def _suggestions(
    session: AsyncSession, job: Job, line: planning.LinePlan
) -> list[Suggestion]:
    if line.outstanding == 0:
        return []
    rows = await stock_queries.fifo_suggestion(
        session, part_id=line.part_id, warehouse_id=job.warehouse_id, qty=line.outstanding
    )
    return [Suggestion(r.pcn, r.from_location_code, r.qty) for r in rows]


async def _line(session: AsyncSession, job: Job, line: planning.LinePlan) -> PickListLine:
    return PickListLine(
        line_id=line.line_id,
        line_no=line.line_no,
        part_number=line.part_number,
        description=line.description,
        outstanding=line.outstanding,
        suggestions=await _suggestions(session, job, line),
    )


async def pick_list(session: AsyncSession, *, job_id: int) -> PickList:
    """Every line of an open job (404 / 409 invalid_transition otherwise), with what it
    still lacks and the FIFO suggestion for it; read-only."""
    job = await kitting.kittable_job(session, job_id)
    plan = await planning.job_plan(session, job)
    return PickList(job=job, lines=[await _line(session, job, line) for line in plan.lines])


def _where(suggestion: Suggestion) -> str:
    return f"PCN {suggestion.pcn} from {suggestion.location_code}"


@idempotent_transaction
async def confirm_line(
    session: AsyncSession,
    *,
    job_id: int,
    line_id: int,
    scanned: str,
    reason: str | None = None,
) -> ScanConfirmation:
    """Confirm one line of the pick list by its scanned PCN and pick it for the job.

    Rules: the job exists and is open, the line is the job's (404 job_line_not_found) and
    still lacks something (409 already_kitted); no stock in storage is 409
    insufficient_stock. The expected PCN (case does not matter) picks what the line lacks
    from that lot, up to what the lot holds in storage. An unknown PCN or one of another
    part is 409 wrong_pcn naming the expected PCN and bin; a younger lot of the part is 409
    not_fifo unless a `reason` is given, then it is picked and the override audited
    (`job.fifo_override`). Nothing moves on refusal."""
    job = await kitting.kittable_job(session, job_id)
    plan = await planning.job_plan(session, job)
    line = next((line for line in plan.lines if line.line_id == line_id), None)
    if line is None:
        raise NotFoundError(
            f"Job {job.number} has no line with id {line_id}.", code="job_line_not_found"
        )
    if line.outstanding == 0:
        raise ConflictError(
            f"Line {line.line_no} ({line.part_number}) of job {job.number} is kitted already.",
            code="already_kitted",
        )
    suggestions = await _suggestions(session, job, line)
    if not suggestions:
        _refused("insufficient_stock")
        raise ConflictError(
            f"No {line.part_number} in the storage bins of this warehouse; nothing to pick.",
            code="insufficient_stock",
            details={"part_number": line.part_number, "needed": line.outstanding, "available": 0},
        )
    expected = suggestions[0]
    wanted = scanned.strip()
    lot = await stock_service.get_lot_by_pcn(session, wanted)
    expected_details = {
        "expected_pcn": expected.pcn,
        "expected_location": expected.location_code,
        "scanned": wanted,
        "part_number": line.part_number,
    }
    if lot is None or lot.part_id != line.part_id:
        _refused("wrong_pcn")
        what = f"PCN {lot.pcn} is not {line.part_number}" if lot else f"No PCN {wanted}"
        raise WrongPcnError(
            f"{what}: scan {_where(expected)} for line {line.line_no}.",
            details=expected_details,
            errors=[field_error(["scanned"], f"expected {expected.pcn}")],
        )
    overridden = lot.pcn != expected.pcn
    if overridden:
        if not reason:
            _refused("not_fifo")
            raise NotFifoError(
                f"PCN {lot.pcn} is not the oldest lot of {line.part_number}: scan "
                f"{_where(expected)}, or give a reason to take {lot.pcn} instead.",
                details=expected_details,
            )
        rows = await stock_queries.fifo_suggestion(
            session,
            part_id=line.part_id,
            warehouse_id=job.warehouse_id,
            qty=line.outstanding,
            lot_id=lot.id,
        )
        if not rows:
            _refused("insufficient_stock")
            raise ConflictError(
                f"PCN {lot.pcn} has no units in the storage bins of this warehouse: scan "
                f"{_where(expected)}.",
                code="insufficient_stock",
                details={**expected_details, "available": 0},
            )
        qty = sum(r.qty for r in rows)
    else:
        qty = sum(s.qty for s in suggestions if s.pcn == lot.pcn)
    picked = await kitting.pick_for_line(session, job, line, qty, pcn=lot.pcn)
    bins = sorted({m.from_location_code for m in picked.lines})
    if overridden:
        await audit.record(
            session,
            action="job.fifo_override",
            entity_type="job",
            entity_id=job.id,
            after={**expected_details, "picked_pcn": lot.pcn, "qty": qty, "reason": reason},
        )
    after = next(a for a in (await planning.job_plan(session, job)).lines if a.line_id == line_id)
    confirmation = ScanConfirmation(
        job=job,
        line=await _line(session, job, after),
        pcn=lot.pcn,
        qty=qty,
        from_bins=bins,
        overridden=overridden,
    )

    async def count() -> None:
        KITTING.labels("scan", "kitted").inc()
        PICK_SCAN.labels("override" if overridden else "confirmed").inc()
        log.info(
            "job_pick_scanned",
            job=job.number,
            line=line.line_no,
            pcn=lot.pcn,
            qty=qty,
            overridden=overridden,
        )

    after_commit(session, count)
    return confirmation


def confirmation_message(done: ScanConfirmation) -> str:
    """What the clerk reads (and a screen reader announces) after a scan."""
    bins = ", ".join(done.from_bins)
    text = f"Line {done.line.line_no}: picked {format_number(done.qty)} of {done.line.part_number} "
    text += f"from PCN {done.pcn} ({bins})."
    if done.line.outstanding == 0:
        return text + " Line done."
    if done.line.suggestions:
        return (
            text
            + f" Still {format_number(done.line.outstanding)} to pick: scan "
            + f"{_where(done.line.suggestions[0])}."
        )
    return text + f" Still {format_number(done.line.outstanding)} to pick; none in storage."


def _refused(outcome: str) -> None:
    PICK_SCAN.labels(outcome).inc()
    log.info("job_pick_scan_refused", outcome=outcome)
