"""Shop-floor reports, each a header and rows (plain values) for a page, CSV or xlsx:

- `job_hours`: planned vs actual minutes per job (jobs with operations);
- `work_centre_hours`: planned vs actual minutes per work centre;
- `scrap`: good and scrapped units and the scrap rate per operation (with any output);
- `throughput`: per day, operations finished, good and scrapped units and minutes logged.

Actuals are the sums of the immutable time logs (stops, manual rows and reversals), so a
correction shows up in every report. Windows (`start`..`end`) filter by the time log's
day (throughput, actuals) and are at most 366 days.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import NotFoundError, ValidationError, field_error
from kosh.production.models import Job
from kosh.shopfloor import capacity
from kosh.shopfloor.models import JobOperation, TimeLog, WorkCentre

MAX_DAYS = 366
MAX_ROWS = 5000
KINDS = ("job_hours", "work_centre_hours", "scrap", "throughput")
TITLES = {
    "job_hours": "Planned vs actual hours per job",
    "work_centre_hours": "Planned vs actual hours per work centre",
    "scrap": "Scrap rate per operation",
    "throughput": "Throughput per day",
}


@dataclass(frozen=True)
class Report:
    kind: str
    title: str
    start: date
    end: date
    header: list[str]
    rows: list[list[Any]]


def window(start: date | None, end: date | None) -> tuple[date, date]:
    """Default the last 30 days up to today; at most 366 days (422)."""
    end = end or capacity.today()
    start = start or end - timedelta(days=29)
    if end < start:
        raise ValidationError("`to` is before `from`.", errors=[field_error(["to"], "before from")])
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationError(
            f"Ask for at most {MAX_DAYS} days.",
            errors=[field_error(["to"], f"at most {MAX_DAYS} days after from")],
        )
    return start, end


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"))


def _rate(scrap: int, good: int) -> Decimal | None:
    total = scrap + good
    return (Decimal(scrap) * 100 / total).quantize(Decimal("0.1")) if total else None


async def _actuals_by_operation(
    session: AsyncSession, start: date, end: date
) -> dict[int, tuple[int, int, int]]:
    since, until = _bounds(start, end)
    rows = await session.execute(
        select(
            TimeLog.operation_id,
            func.sum(TimeLog.minutes),
            func.sum(TimeLog.good_qty),
            func.sum(TimeLog.scrap_qty),
        )
        .where(TimeLog.at >= since, TimeLog.at < until)
        .group_by(TimeLog.operation_id)
    )
    return {op: (int(m or 0), int(g or 0), int(s or 0)) for op, m, g, s in rows}


async def _operations(session: AsyncSession, ids: Sequence[int]) -> list[Any]:
    if not ids:
        return []
    return list(
        await session.execute(
            select(JobOperation, Job.number, WorkCentre.code)
            .join(Job, Job.id == JobOperation.job_id)
            .join(WorkCentre, WorkCentre.id == JobOperation.work_centre_id)
            .where(JobOperation.id.in_(list(ids)))
            .order_by(Job.number, JobOperation.seq)
        )
    )


async def report(
    session: AsyncSession, kind: str, start: date | None = None, end: date | None = None
) -> Report:
    """One report over the window (404 report_not_found for an unknown kind)."""
    if kind not in KINDS:
        raise NotFoundError(f"No report {kind}.", code="report_not_found")
    first, last = window(start, end)
    actual = await _actuals_by_operation(session, first, last)
    ops = await _operations(session, sorted(actual))
    header: list[str]
    rows: list[list[Any]] = []
    if kind == "job_hours":
        header = ["Job", "Operations", "Planned (h)", "Actual (h)", "Variance (h)"]
        per_job: dict[str, list[int]] = {}
        for op, number, _ in ops:
            totals = per_job.setdefault(number, [0, 0, 0])
            totals[0] += 1
            totals[1] += op.planned_minutes
            totals[2] += actual[op.id][0]
        for number, (count, planned, done) in sorted(per_job.items()):
            rows.append([number, count, _hours(planned), _hours(done), _hours(done - planned)])
    elif kind == "work_centre_hours":
        header = ["Work centre", "Operations", "Planned (h)", "Actual (h)", "Variance (h)"]
        per_wc: dict[str, list[int]] = {}
        for op, _, code in ops:
            totals = per_wc.setdefault(code, [0, 0, 0])
            totals[0] += 1
            totals[1] += op.planned_minutes
            totals[2] += actual[op.id][0]
        for code, (count, planned, done) in sorted(per_wc.items()):
            rows.append([code, count, _hours(planned), _hours(done), _hours(done - planned)])
    elif kind == "scrap":
        header = ["Job", "Seq", "Operation", "Work centre", "Good", "Scrap", "Scrap rate (%)"]
        for op, number, code in ops:
            _, good, scrap = actual[op.id]
            if good or scrap:
                rows.append([number, op.seq, op.name, code, good, scrap, _rate(scrap, good)])
    else:
        header = ["Day", "Operations finished", "Good", "Scrap", "Minutes logged"]
        rows = await _throughput(session, first, last)
    return Report(kind, TITLES[kind], first, last, header, rows[:MAX_ROWS])


async def _throughput(session: AsyncSession, start: date, end: date) -> list[list[Any]]:
    since, until = _bounds(start, end)
    logged = await session.execute(
        select(
            func.date(TimeLog.at),
            func.sum(TimeLog.good_qty),
            func.sum(TimeLog.scrap_qty),
            func.sum(TimeLog.minutes),
        )
        .where(TimeLog.at >= since, TimeLog.at < until)
        .group_by(func.date(TimeLog.at))
    )
    per_day: dict[date, list[int]] = {}
    for day, good, scrap, minutes in logged:
        per_day[_as_date(day)] = [0, int(good or 0), int(scrap or 0), int(minutes or 0)]
    finished = await session.execute(
        select(func.date(JobOperation.finished_at), func.count())
        .where(JobOperation.finished_at >= since, JobOperation.finished_at < until)
        .group_by(func.date(JobOperation.finished_at))
    )
    for day, count in finished:
        per_day.setdefault(_as_date(day), [0, 0, 0, 0])[0] = int(count)
    return [[day.isoformat(), *values] for day, values in sorted(per_day.items())]


def _as_date(value: object) -> date:
    """SQLite answers date() as text; PostgreSQL as a date."""
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _text(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # never a formula in a spreadsheet
    return "" if value is None else value


def as_csv(data: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(data.header)
    for row in data.rows:
        writer.writerow([_text(v) for v in row])
    return "\ufeff" + buffer.getvalue()


def as_xlsx(data: Report) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet(data.kind[:31])
    sheet.append(data.header)
    for row in data.rows:
        sheet.append(
            [
                ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(_text(v)))
                if isinstance(v, str)
                else (float(v) if isinstance(v, Decimal) else v)
                for v in row
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
