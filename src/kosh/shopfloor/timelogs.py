"""Operator time on job operations: start, pause, finish by badge scan; corrections.

Time logs are immutable like the ledger (kosh.shopfloor.models.TimeLog): a start row
opens an interval, a stop row closes it (unique per start, so a second pause or finish
from a stale page finds nothing open and is refused), a manager's correction is a
reversal row plus, when needed, a manual row. Actuals are sums over the rows.

Rules kept here: one operator runs one interval at a time (409 already_running); good
units out of an operation never exceed the good units of the operation before it (or the
job quantity for the first), 422 exceeds_previous_operation; a finished operation takes
no more time (409 operation_done). Locks: the operation, then the employee (the global
order in kosh.shopfloor.capacity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import ConflictError, RuleViolationError, field_error
from kosh.core.request_context import current_request_id
from kosh.production import service as job_service
from kosh.shopfloor import capacity, metrics, people
from kosh.shopfloor.errors import not_found
from kosh.shopfloor.models import Employee, JobOperation, TimeLog

RUNNABLE_JOB_STATUSES = ("released", "in_progress")


@dataclass(frozen=True)
class Actuals:
    minutes: int = 0
    good_qty: int = 0
    scrap_qty: int = 0
    open_intervals: int = 0


async def get_operation_or_raise(session: AsyncSession, operation_id: int) -> JobOperation:
    op = await session.get(JobOperation, operation_id, populate_existing=True)
    if op is None:
        raise not_found("operation with id", operation_id, code="operation_not_found")
    return op


async def get_log_or_raise(session: AsyncSession, log_id: int) -> TimeLog:
    row = await session.get(TimeLog, log_id)
    if row is None:
        raise not_found("time log with id", log_id, code="time_log_not_found")
    return row


def _open_starts() -> Select[TimeLog]:
    closing = aliased(TimeLog)
    return (
        select(TimeLog)
        .outerjoin(closing, and_(closing.start_log_id == TimeLog.id, closing.kind == "stop"))
        .where(TimeLog.kind == "start", closing.id.is_(None))
    )


def open_starts() -> Select[TimeLog]:
    """Start rows no stop has closed yet (the intervals running now)."""
    return _open_starts()


async def open_start(
    session: AsyncSession, *, employee_id: int, operation_id: int | None = None
) -> TimeLog | None:
    """The employee's open interval (on this operation, when given)."""
    query = _open_starts().where(TimeLog.employee_id == employee_id)
    if operation_id is not None:
        query = query.where(TimeLog.operation_id == operation_id)
    found: TimeLog | None = await session.scalar(query.order_by(TimeLog.id).limit(1))
    return found


async def actuals(session: AsyncSession, operation_ids: list[int]) -> dict[int, Actuals]:
    """Minutes, good and scrapped units and open intervals per operation."""
    result = {op: Actuals() for op in operation_ids}
    if not operation_ids:
        return result
    rows = await session.execute(
        select(
            TimeLog.operation_id,
            func.sum(TimeLog.minutes),
            func.sum(TimeLog.good_qty),
            func.sum(TimeLog.scrap_qty),
        )
        .where(TimeLog.operation_id.in_(operation_ids))
        .group_by(TimeLog.operation_id)
    )
    opened: dict[int, int] = dict(
        (
            await session.execute(
                _open_starts()
                .where(TimeLog.operation_id.in_(operation_ids))
                .with_only_columns(TimeLog.operation_id, func.count())
                .group_by(TimeLog.operation_id)
            )
        ).all()
    )
    for op, minutes, good, scrap in rows:
        result[op] = Actuals(int(minutes or 0), int(good or 0), int(scrap or 0), opened.get(op, 0))
    return result


async def _write(session: AsyncSession, row: TimeLog) -> TimeLog:
    row.actor_name = current_actor().name
    row.request_id = current_request_id()
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            "This interval was closed or corrected meanwhile; reload and try again.",
            code="time_log_conflict",
        ) from exc
    metrics.TIME_LOGS.labels(kind=row.kind).inc()
    return row


async def _runnable(session: AsyncSession, op: JobOperation) -> None:
    if op.status == "done":
        raise ConflictError(f"Operation {op.id} is finished.", code="operation_done")
    job = await job_service.get_job_or_raise(session, op.job_id)
    if job.status not in RUNNABLE_JOB_STATUSES:
        raise ConflictError(
            f"Job {job.number} is {job.status.replace('_', ' ')}; release it first.",
            code="job_not_released",
            details={"status": job.status},
        )


async def _allowed(session: AsyncSession, employee: Employee, op: JobOperation) -> None:
    allowed = await people.skills(session, employee.id)
    if allowed and op.work_centre_id not in allowed:
        raise RuleViolationError(
            f"Employee {employee.number} may not run this work centre.",
            code="not_qualified",
            errors=[field_error(["badge"], "not qualified for this work centre")],
        )


@transactional
async def start_operation(
    session: AsyncSession,
    *,
    operation_id: int,
    badge: str | None = None,
    employee_number: str | None = None,
) -> TimeLog:
    """An operator starts (or resumes) an operation: a `start` row.

    Rules: the operation exists (404 operation_not_found), is not finished (409
    operation_done) and its job is released or in progress (409 job_not_released); the
    badge or number names an active employee (404 employee_not_found, 422
    employee_inactive) who may run the work centre (422 not_qualified) and has no interval
    open anywhere (409 already_running, naming the operation). Several operators may run
    one operation."""
    await capacity.lock_operations(session, [operation_id])
    op = await get_operation_or_raise(session, operation_id)
    employee = await people.find_operator(session, badge=badge, employee_number=employee_number)
    await capacity.lock_employee(session, employee.id)
    await _runnable(session, op)
    await _allowed(session, employee, op)
    running = await open_start(session, employee_id=employee.id)
    if running is not None:
        raise ConflictError(
            f"Employee {employee.number} is running operation {running.operation_id}; "
            "pause or finish it first.",
            code="already_running",
            details={"operation_id": running.operation_id},
        )
    row = await _write(
        session, TimeLog(operation_id=op.id, employee_id=employee.id, kind="start", at=utcnow())
    )
    if op.status != "running":
        op.status = "running"
        op.started_at = op.started_at or row.at
        op.version += 1
        await session.flush()
    await audit.record(
        session,
        action="operation.start",
        entity_type="job_operation",
        entity_id=op.id,
        after={"employee_id": employee.id, "time_log_id": row.id},
    )
    return row


async def _check_monotone(session: AsyncSession, op: JobOperation, good_after: int) -> None:
    """Good out of an operation <= good out of the one before (the job qty for the first)."""
    previous = await session.scalar(
        select(JobOperation)
        .where(JobOperation.job_id == op.job_id, JobOperation.seq < op.seq)
        .order_by(JobOperation.seq.desc())
        .limit(1)
    )
    if previous is None:
        job = await job_service.get_job_or_raise(session, op.job_id)
        limit, source = job.qty, "the job quantity"
    else:
        limit = (await actuals(session, [previous.id]))[previous.id].good_qty
        source = f"operation {previous.seq}'s good units"
    if good_after > limit:
        raise RuleViolationError(
            f"That makes {good_after} good units; {source} allow {limit}.",
            code="exceeds_previous_operation",
            errors=[field_error(["good_qty"], f"at most {max(limit - good_after, 0)} more")],
            details={"limit": limit},
        )


@transactional
async def stop_operation(
    session: AsyncSession,
    *,
    operation_id: int,
    badge: str | None = None,
    employee_number: str | None = None,
    good_qty: int = 0,
    scrap_qty: int = 0,
    finish: bool = False,
    reason: str = "",
) -> TimeLog:
    """An operator pauses (`finish=False`, a reason) or finishes an operation: a `stop`
    row closing their open interval with its minutes and quantities.

    Rules: the operator has an interval open on this operation (409 not_running: a stale
    page's second pause or finish); good units stay within the previous operation's
    (422 exceeds_previous_operation); finishing while others still run it is refused (409
    others_running). Finishing marks the operation done."""
    await capacity.lock_operations(session, [operation_id])
    op = await get_operation_or_raise(session, operation_id)
    employee = await people.find_operator(session, badge=badge, employee_number=employee_number)
    await capacity.lock_employee(session, employee.id)
    start = await open_start(session, employee_id=employee.id, operation_id=op.id)
    if start is None:
        raise ConflictError(
            f"Employee {employee.number} is not running operation {op.id}.", code="not_running"
        )
    done = await actuals(session, [op.id])
    await _check_monotone(session, op, done[op.id].good_qty + good_qty)
    if finish and done[op.id].open_intervals > 1:
        raise ConflictError(
            "Other operators are still on this operation; they pause or finish first.",
            code="others_running",
            details={"open_intervals": done[op.id].open_intervals - 1},
        )
    now = utcnow()
    minutes = max(math.ceil((now - start.at).total_seconds() / 60), 0)
    row = await _write(
        session,
        TimeLog(
            operation_id=op.id,
            employee_id=employee.id,
            kind="stop",
            at=now,
            start_log_id=start.id,
            minutes=minutes,
            good_qty=good_qty,
            scrap_qty=scrap_qty,
            reason=reason,
        ),
    )
    still_open = done[op.id].open_intervals - 1
    op.status = "done" if finish else ("running" if still_open else "paused")
    if finish:
        op.finished_at = now
    op.version += 1
    await session.flush()
    await audit.record(
        session,
        action="operation.finish" if finish else "operation.pause",
        entity_type="job_operation",
        entity_id=op.id,
        after={
            "employee_id": employee.id,
            "time_log_id": row.id,
            "minutes": minutes,
            "good_qty": good_qty,
            "scrap_qty": scrap_qty,
            "reason": reason,
        },
    )
    return row


@transactional
async def correct_time_log(
    session: AsyncSession,
    *,
    log_id: int,
    reason: str,
    minutes: int | None = None,
    good_qty: int | None = None,
    scrap_qty: int | None = None,
) -> list[TimeLog]:
    """A manager corrects a stop or manual row: a reversal row negating it and, unless
    everything becomes zero, a manual row with the corrected values (unset values keep
    the original's). Rules: the row exists (404), is a stop or manual row (422
    not_correctable) and was not corrected before (409 already_corrected); a reason is
    required (422); good units stay within the previous operation's (422)."""
    original = await get_log_or_raise(session, log_id)
    if original.kind not in ("stop", "manual"):
        raise RuleViolationError(
            "Only stop and manual rows can be corrected.", code="not_correctable"
        )
    await capacity.lock_operations(session, [original.operation_id])
    await capacity.lock_employee(session, original.employee_id)
    if await session.scalar(select(TimeLog.id).where(TimeLog.reverses_id == original.id)):
        raise ConflictError("This row was corrected already.", code="already_corrected")
    op = await get_operation_or_raise(session, original.operation_id)
    new_minutes = original.minutes if minutes is None else minutes
    new_good = original.good_qty if good_qty is None else good_qty
    new_scrap = original.scrap_qty if scrap_qty is None else scrap_qty
    total_good = (await actuals(session, [op.id]))[op.id].good_qty
    await _check_monotone(session, op, total_good - original.good_qty + new_good)
    rows = [
        await _write(
            session,
            TimeLog(
                operation_id=op.id,
                employee_id=original.employee_id,
                kind="reversal",
                reverses_id=original.id,
                minutes=-original.minutes,
                good_qty=-original.good_qty,
                scrap_qty=-original.scrap_qty,
                reason=reason,
                at=utcnow(),
            ),
        )
    ]
    if new_minutes or new_good or new_scrap:
        rows.append(
            await _write(
                session,
                TimeLog(
                    operation_id=op.id,
                    employee_id=original.employee_id,
                    kind="manual",
                    minutes=new_minutes,
                    good_qty=new_good,
                    scrap_qty=new_scrap,
                    reason=reason,
                    at=utcnow(),
                ),
            )
        )
    await audit.record(
        session,
        action="time_log.correct",
        entity_type="time_log",
        entity_id=original.id,
        before={
            "minutes": original.minutes,
            "good_qty": original.good_qty,
            "scrap_qty": original.scrap_qty,
        },
        after={
            "minutes": new_minutes,
            "good_qty": new_good,
            "scrap_qty": new_scrap,
            "reason": reason,
        },
    )
    return rows


async def time_logs(session: AsyncSession, operation_id: int) -> list[TimeLog]:
    return list(
        await session.scalars(
            select(TimeLog).where(TimeLog.operation_id == operation_id).order_by(TimeLog.id)
        )
    )
