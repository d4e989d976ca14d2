"""Read-only BOM queries shared by the API and the pages: lists, detail, comparison,
import state and the CSV / xlsx exports. They join the parts table read-only to show part
numbers (as the stock queries do); every write goes through the catalog service."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.bom.models import Bom, BomImport, BomImportProblem, BomLine
from kosh.bom.schemas import (
    BomComparison,
    BomDetail,
    BomLineRead,
    BomRead,
    ImportProblemRead,
    ImportRead,
    LineChange,
)
from kosh.bom.service import PREVIEW_ERRORS, get_bom_or_raise
from kosh.catalog.models import Part
from kosh.core.errors import NotFoundError

_EXPORT_CHUNK = 5000
EXPORT_HEADER = ["Line", "Part Number", "Description", "Qty", "Unit", "Reference", "Notes"]


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def _line_counts(session: AsyncSession, bom_ids: list[int]) -> dict[int, int]:
    if not bom_ids:
        return {}
    rows = await session.execute(
        select(BomLine.bom_id, func.count())
        .where(BomLine.bom_id.in_(bom_ids))
        .group_by(BomLine.bom_id)
    )
    return {bom_id: int(count) for bom_id, count in rows}


def _bom_read(bom: Bom, assembly_number: str, line_count: int) -> BomRead:
    return BomRead(
        id=bom.id,
        assembly_part_id=bom.assembly_part_id,
        assembly_part_number=assembly_number,
        revision=bom.revision,
        status=bom.status,
        notes=bom.notes,
        source=bom.source,
        version=bom.version,
        line_count=line_count,
        created_by=bom.created_by,
        created_at=bom.created_at,
        updated_at=bom.updated_at,
    )


async def bom_read(session: AsyncSession, bom: Bom) -> BomRead:
    number = await session.scalar(select(Part.number).where(Part.id == bom.assembly_part_id))
    counts = await _line_counts(session, [bom.id])
    return _bom_read(bom, number or "", counts.get(bom.id, 0))


async def list_boms(
    session: AsyncSession,
    *,
    q: str | None = None,
    status: str | None = None,
    assembly_part_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[BomRead], int]:
    query = select(Bom, Part.number).join(Part, Part.id == Bom.assembly_part_id)
    if q:
        query = query.where(
            or_(Part.number.ilike(_like(q), escape="\\"), Bom.revision.ilike(_like(q), escape="\\"))
        )
    if status:
        query = query.where(Bom.status == status)
    if assembly_part_id is not None:
        query = query.where(Bom.assembly_part_id == assembly_part_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = (
        await session.execute(
            query.order_by(Part.number, Bom.revision.desc(), Bom.id).limit(limit).offset(offset)
        )
    ).all()
    counts = await _line_counts(session, [bom.id for bom, _ in rows])
    items = [_bom_read(bom, number, counts.get(bom.id, 0)) for bom, number in rows]
    return items, int(total or 0)


async def active_boms_for(session: AsyncSession, assembly_part_id: int) -> list[BomRead]:
    items, _ = await list_boms(session, assembly_part_id=assembly_part_id, limit=200)
    return items


async def bom_lines(session: AsyncSession, bom_id: int) -> list[BomLineRead]:
    rows = await session.execute(
        select(BomLine, Part.number, Part.description, Part.unit)
        .join(Part, Part.id == BomLine.part_id)
        .where(BomLine.bom_id == bom_id)
        .order_by(BomLine.line_no)
    )
    return [
        BomLineRead(
            id=line.id,
            line_no=line.line_no,
            part_id=line.part_id,
            part_number=number,
            description=description,
            unit=unit,
            qty=line.qty,
            refdes=line.refdes,
            notes=line.notes,
        )
        for line, number, description, unit in rows
    ]


async def bom_detail(session: AsyncSession, bom_id: int) -> BomDetail:
    bom = await get_bom_or_raise(session, bom_id)
    head = await bom_read(session, bom)
    return BomDetail(**head.model_dump(), lines=await bom_lines(session, bom_id))


async def compare(session: AsyncSession, base_id: int, other_id: int) -> BomComparison:
    """Lines added, removed and changed (qty, designators or notes) from base to other,
    matched by part."""
    base = await bom_detail(session, base_id)
    other = await bom_detail(session, other_id)
    before = {line.part_id: line for line in base.lines}
    after = {line.part_id: line for line in other.lines}
    added, removed, changed = [], [], []
    unchanged = 0
    for part_id, line in after.items():
        old = before.get(part_id)
        if old is None:
            added.append(_change(None, line))
        elif (old.qty, _norm(old.refdes), old.notes) != (line.qty, _norm(line.refdes), line.notes):
            changed.append(_change(old, line))
        else:
            unchanged += 1
    for part_id, line in before.items():
        if part_id not in after:
            removed.append(_change(line, None))
    return BomComparison(
        base=BomRead(**base.model_dump(exclude={"lines"})),
        other=BomRead(**other.model_dump(exclude={"lines"})),
        added=added,
        removed=removed,
        changed=changed,
        unchanged=unchanged,
    )


def _norm(refdes: str) -> list[str]:
    return sorted(refdes.split())


def _change(old: BomLineRead | None, new: BomLineRead | None) -> LineChange:
    line = new if new is not None else old
    if line is None:
        raise ValueError("a change needs a line before or after")
    return LineChange(
        part_number=line.part_number,
        description=line.description,
        qty_from=old.qty if old else None,
        qty_to=new.qty if new else None,
        refdes_from=old.refdes if old else None,
        refdes_to=new.refdes if new else None,
        notes_from=old.notes if old else None,
        notes_to=new.notes if new else None,
    )


# --- imports --------------------------------------------------------------------------------


async def get_import_or_raise(session: AsyncSession, import_id: int) -> BomImport:
    row = await session.get(BomImport, import_id)
    if row is None:
        raise NotFoundError(f"No BOM import with id {import_id}.", code="bom_import_not_found")
    return row


async def import_read(session: AsyncSession, row: BomImport) -> ImportRead:
    problems = await session.scalars(
        select(BomImportProblem)
        .where(BomImportProblem.import_id == row.id)
        .order_by(BomImportProblem.id)
        .limit(PREVIEW_ERRORS)
    )
    errors = [
        ImportProblemRead(row=p.row, column=p.column, message=p.message, severity=p.severity)
        for p in problems
    ]
    stored = row.error_count + row.warning_count
    return ImportRead(
        id=row.id,
        status=row.status,
        phase=row.phase,
        dry_run=row.dry_run,
        file_name=row.file_name,
        file_kind=row.file_kind,
        rows_total=row.rows_total,
        rows_done=row.rows_done,
        lines_count=row.lines_count,
        error_count=row.error_count,
        warning_count=row.warning_count,
        errors=errors,
        errors_truncated=row.problems_truncated or stored > len(errors),
        errors_csv=f"/api/v1/boms/imports/{row.id}/errors.csv",
        bom_id=row.bom_id,
        message=row.message,
        options=row.options,
        preview=row.result,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


async def recent_imports(session: AsyncSession, *, limit: int = 20) -> list[BomImport]:
    rows = await session.scalars(select(BomImport).order_by(BomImport.id.desc()).limit(limit))
    return list(rows)


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(
        ["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in values]
    )
    return buffer.getvalue()


async def problems_csv(
    sessions: async_sessionmaker[AsyncSession], import_id: int
) -> AsyncIterator[str]:
    """The whole problem report as CSV, read in chunks (one short session per chunk)."""
    yield "\ufeff" + _csv_line(["Row", "Column", "Severity", "Problem"])
    after = 0
    while True:
        async with sessions() as session:
            chunk = list(
                await session.execute(
                    select(
                        BomImportProblem.id,
                        BomImportProblem.row,
                        BomImportProblem.column,
                        BomImportProblem.severity,
                        BomImportProblem.message,
                    )
                    .where(BomImportProblem.import_id == import_id, BomImportProblem.id > after)
                    .order_by(BomImportProblem.id)
                    .limit(_EXPORT_CHUNK)
                )
            )
        if not chunk:
            return
        after = chunk[-1][0]
        yield "".join(
            _csv_line([row, column or "", severity, message])
            for _, row, column, severity, message in chunk
        )


async def _line_chunks(
    sessions: async_sessionmaker[AsyncSession], bom_id: int
) -> AsyncIterator[list[tuple[int, str, str, int, str, str, str]]]:
    after = 0
    while True:
        async with sessions() as session:
            result = await session.execute(
                select(
                    BomLine.line_no,
                    Part.number,
                    Part.description,
                    BomLine.qty,
                    Part.unit,
                    BomLine.refdes,
                    BomLine.notes,
                )
                .join(Part, Part.id == BomLine.part_id)
                .where(BomLine.bom_id == bom_id, BomLine.line_no > after)
                .order_by(BomLine.line_no)
                .limit(_EXPORT_CHUNK)
            )
            chunk: list[tuple[int, str, str, int, str, str, str]] = [
                (row[0], row[1], row[2], row[3], row[4], row[5], row[6]) for row in result
            ]
        if not chunk:
            return
        after = chunk[-1][0]
        yield chunk


async def lines_csv(sessions: async_sessionmaker[AsyncSession], bom_id: int) -> AsyncIterator[str]:
    yield "\ufeff" + _csv_line(EXPORT_HEADER)
    async for chunk in _line_chunks(sessions, bom_id):
        yield "".join(_csv_line(list(row)) for row in chunk)


def _xlsx_text(value: str) -> str:
    """The text with the characters XML 1.0 cannot hold (C0 controls but tab, CR and LF)
    replaced by U+FFFD, so any stored value exports."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return str(ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))


async def lines_xlsx(sessions: async_sessionmaker[AsyncSession], bom_id: int, path: Path) -> None:
    """Write the BOM to an xlsx file with openpyxl's write-only mode (constant memory)."""
    import asyncio

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("BOM")
    sheet.append(EXPORT_HEADER)

    def text_cell(value: object) -> object:
        if isinstance(value, str):
            # Text stored before the edge refused control characters (or by a path that
            # does not check) would make openpyxl raise IllegalCharacterError mid-export.
            value = _xlsx_text(value)
        # A string starting with '=' would be written as a formula: keep it text.
        if isinstance(value, str) and value.startswith("="):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            return cell
        return value

    async for chunk in _line_chunks(sessions, bom_id):
        for row in chunk:
            sheet.append([text_cell(value) for value in row])
    await asyncio.to_thread(book.save, str(path))


async def active_bom_ids(session: AsyncSession, part_ids: list[int]) -> dict[int, int]:
    """The active BOM (with at least one line) of each of these parts that has one:
    part id -> BOM id. Purchasing suggests such assemblies as builds, not purchases."""
    if not part_ids:
        return {}
    has_lines = select(BomLine.id).where(BomLine.bom_id == Bom.id).exists()
    rows = await session.execute(
        select(Bom.assembly_part_id, func.min(Bom.id))
        .where(Bom.assembly_part_id.in_(part_ids), Bom.status == "active", has_lines)
        .group_by(Bom.assembly_part_id)
    )
    return {int(part_id): int(bom_id) for part_id, bom_id in rows.all()}
