"""BOM use cases: imports from spreadsheets (start, progress, finish, fail), and editing
BOMs (status, lines, copy to a new revision).

An import is accepted in two steps. The request checks the file (type, size, zip bomb,
encryption, sheet name) and the assembly / revision, and records the import as `queued`;
only after that transaction commits does the background task start (kosh.bom.runner).
The task reads the file in a worker thread, writes progress in short transactions of its
own, and finishes in ONE transaction: the BOM, its lines, any parts the user asked to
create, the import's status and its problem report are committed together or not at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import String, Table, any_, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from kosh.bom.bomfile import BomRead, DraftLine, Problem
from kosh.bom.columns import FIELD_LABELS, FIELDS
from kosh.bom.filetype import CheckedFile, FileLimits, check_file
from kosh.bom.models import Bom, BomImport, BomImportProblem, BomLine
from kosh.bom.schemas import BomLineIn
from kosh.bom.shape import ShapeLimits
from kosh.bom.spreadsheet import open_workbook, sheet_not_found
from kosh.catalog import service as part_service
from kosh.catalog.models import Part
from kosh.catalog.schemas import PartCreate
from kosh.core import audit, messages
from kosh.core.actor import current_actor
from kosh.core.config import Settings
from kosh.core.db import after_commit, transactional, utcnow
from kosh.core.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    field_error,
)

PREVIEW_ERRORS = 1000
_INSERT_CHUNK = 5000
_LOOKUP_CHUNK = 500
_PG_LOOKUP_CHUNK = 50_000
_LINE_COLUMNS = ("bom_id", "line_no", "part_id", "qty", "refdes", "notes")


# --- imports: request ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRequest:
    """What the user asked for, as recorded in the import's `options`."""

    file_name: str
    dry_run: bool = True
    sheet: str | None = None
    header_row: int | None = None
    mapping: dict[str, str | None] = field(default_factory=dict)
    assembly_part_number: str | None = None
    revision: str | None = None
    create_missing_parts: bool = False
    duplicates: Literal["merge", "flag"] = "merge"

    def options(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet,
            "header_row": self.header_row,
            "mapping": dict(self.mapping),
            "assembly_part_number": self.assembly_part_number,
            "revision": self.revision,
            "create_missing_parts": self.create_missing_parts,
            "duplicates": self.duplicates,
        }


def shape_limits(settings: Settings) -> ShapeLimits:
    return ShapeLimits(
        max_rows=settings.bom_max_rows,
        max_columns=settings.bom_max_columns,
        max_cells=settings.bom_max_cells,
    )


def file_limits(settings: Settings) -> FileLimits:
    return FileLimits(
        max_bytes=min(settings.bom_max_upload_bytes, settings.max_upload_bytes),
        max_uncompressed_bytes=settings.bom_max_uncompressed_bytes,
        max_ratio=settings.bom_max_compression_ratio,
        shape=shape_limits(settings),
    )


def inspect_upload(path: Path, settings: Settings, sheet: str | None) -> CheckedFile:
    """The file checks done before an import is accepted (blocking: run it in a thread).
    Raises SpreadsheetError / FileTooLargeError (4xx) for what cannot be imported, among
    them a sheet wider than KOSH_BOM_MAX_COLUMNS or spanning more than KOSH_BOM_MAX_CELLS
    cells (422 too_many_columns / too_many_cells, kosh.bom.shape)."""
    limits = file_limits(settings)
    checked = check_file(path, limits)
    with open_workbook(checked, max_rows=settings.bom_max_rows, shape=limits.shape) as book:
        if sheet is not None and checked.kind.is_workbook and sheet not in book.sheet_names:
            raise sheet_not_found(sheet, book.sheet_names)
        book.check_shape()
    return checked


Starter = Callable[[int, CheckedFile, ImportRequest], None]


async def start_import(
    session: AsyncSession,
    *,
    path: Path,
    request: ImportRequest,
    settings: Settings,
    start: Starter,
    user_id: int | None,
) -> BomImport:
    """Accept an uploaded file for import; `start` runs once the import row is committed.

    Rules: the file must pass the checks (422 / 413, see kosh.bom.filetype); a named sheet
    must exist (422 sheet_not_found); a commit (dry_run false) needs the assembly part
    number and a revision (422); the assembly must exist unless parts may be created
    (404 part_not_found); the revision must be new for the assembly (409 revision_taken).
    """
    checked = await asyncio.to_thread(inspect_upload, path, settings, request.sheet)
    return await _queue_import(
        session, checked=checked, request=request, start=start, user_id=user_id
    )


@transactional
async def _queue_import(
    session: AsyncSession,
    *,
    checked: CheckedFile,
    request: ImportRequest,
    start: Starter,
    user_id: int | None,
) -> BomImport:
    await _check_target(session, request)
    row = BomImport(
        status="queued",
        phase="queued",
        dry_run=request.dry_run,
        file_name=request.file_name[:255],
        file_kind=str(checked.kind),
        file_size=checked.size,
        options=request.options(),
        rows_done=0,
        created_by_id=user_id,
        created_by=current_actor().name,
        heartbeat_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="bom.import.queue",
        entity_type="bom_import",
        entity_id=row.id,
        after={"file_name": row.file_name, "kind": row.file_kind, **row.options},
    )
    import_id = row.id

    async def launch() -> None:
        start(import_id, checked, request)

    after_commit(session, launch)
    return row


async def _check_target(session: AsyncSession, request: ImportRequest) -> None:
    errors = []
    if not request.dry_run:
        if not request.assembly_part_number:
            errors.append(field_error(["assembly_part_number"], "required to commit a BOM"))
        if not request.revision:
            errors.append(field_error(["revision"], "required to commit a BOM"))
    if errors:
        raise ValidationError("Say which assembly and revision the BOM is for.", errors=errors)
    if not request.assembly_part_number:
        return
    assembly = await part_service.get_part_by_number(session, request.assembly_part_number)
    if assembly is None:
        if not request.create_missing_parts:
            await part_service.get_part_by_number_or_raise(
                session, request.assembly_part_number, loc="assembly_part_number"
            )
        return
    if request.revision:
        await _check_revision_free(session, assembly.id, request.revision)


async def _check_revision_free(session: AsyncSession, assembly_id: int, revision: str) -> None:
    taken = await session.scalar(
        select(Bom.id).where(Bom.assembly_part_id == assembly_id, Bom.revision == revision)
    )
    if taken is not None:
        raise ConflictError(
            f"Revision {revision} of this assembly exists already (BOM {taken}).",
            code="revision_taken",
            errors=[field_error(["revision"], "exists already")],
            details={"bom_id": taken},
        )


# --- imports: the background task's steps ----------------------------------------------------


@transactional
async def mark_running(session: AsyncSession, *, import_id: int) -> bool:
    """queued -> running; False when the import is no longer queued (failed meanwhile)."""
    now = utcnow()
    result = await session.execute(
        update(BomImport)
        .where(BomImport.id == import_id, BomImport.status == "queued")
        .values(status="running", phase="reading", message=None, started_at=now, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@transactional
async def mark_waiting(session: AsyncSession, *, import_id: int, message: str) -> None:
    """A queued import waiting for a reading slot: phase `waiting`, the message says where
    it stands, the heartbeat shows its process is alive (its own short transaction)."""
    await session.execute(
        update(BomImport)
        .where(BomImport.id == import_id, BomImport.status == "queued")
        .values(phase="waiting", message=message[:1000], heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@transactional
async def record_progress(
    session: AsyncSession, *, import_id: int, rows_done: int, rows_total: int | None, phase: str
) -> None:
    """Progress and heartbeat of a running import (its own short transaction)."""
    await session.execute(
        update(BomImport)
        .where(BomImport.id == import_id, BomImport.status == "running")
        .values(
            rows_done=rows_done,
            rows_total=rows_total if rows_total is None else max(rows_total, rows_done),
            phase=phase,
            heartbeat_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


@transactional
async def mark_failed(session: AsyncSession, *, import_id: int, message: str) -> bool:
    """Fail a queued or running import with a message saying why (False if it had ended)."""
    result = await session.execute(
        update(BomImport)
        .where(BomImport.id == import_id, BomImport.status.in_(("queued", "running")))
        .values(status="failed", phase="done", message=message[:1000], finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    changed = bool(result.rowcount)  # type: ignore[attr-defined]
    if changed:
        await audit.record(
            session,
            action="bom.import.fail",
            entity_type="bom_import",
            entity_id=import_id,
            after={"message": message[:1000]},
        )
    return changed


ABANDONED_MESSAGE = (
    "The import stopped because the KOSH process running it ended (restart or crash); "
    "nothing was imported. Upload the file again."
)


@transactional
async def fail_abandoned_imports(session: AsyncSession, *, older_than: timedelta) -> int:
    """Fail queued/running imports whose task stopped sending heartbeats (its process died).

    Run at application start and whenever an import is read; a live task refreshes its
    heartbeat at least once a second, so only dead ones pass the threshold."""
    cutoff = utcnow() - older_than
    ids = list(
        await session.scalars(
            select(BomImport.id).where(
                BomImport.status.in_(("queued", "running")), BomImport.heartbeat_at < cutoff
            )
        )
    )
    if not ids:
        return 0
    await session.execute(
        update(BomImport)
        .where(BomImport.id.in_(ids), BomImport.status.in_(("queued", "running")))
        .values(status="failed", phase="done", message=ABANDONED_MESSAGE, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    for import_id in ids:
        await audit.record(
            session,
            action="bom.import.abandon",
            entity_type="bom_import",
            entity_id=import_id,
            after={"message": ABANDONED_MESSAGE},
        )
    return len(ids)


@dataclass(frozen=True, slots=True)
class KnownPart:
    id: int
    number: str
    active: bool


async def known_parts(session: AsyncSession, numbers: Iterable[str]) -> dict[str, KnownPart]:
    """id and active flag of the known part numbers among `numbers` (read-only, light: a
    100k-line BOM must not load 100k ORM objects)."""
    wanted = sorted({number for number in numbers if number})
    found: dict[str, KnownPart] = {}
    postgres = session.get_bind().dialect.name == "postgresql"
    chunk_size = _PG_LOOKUP_CHUNK if postgres else _LOOKUP_CHUNK
    for start in range(0, len(wanted), chunk_size):
        chunk = wanted[start : start + chunk_size]
        if postgres:
            # One array parameter instead of thousands of IN binds (compiles in no time).
            match = Part.number == any_(bindparam("numbers", chunk, type_=ARRAY(String)))
        else:
            match = Part.number.in_(chunk)
        for part_id, number, active in await session.execute(
            select(Part.id, Part.number, Part.active).where(match)
        ):
            found[number] = KnownPart(part_id, number, active)
    return found


async def bulk_insert(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """Insert many rows in the caller's transaction: COPY on PostgreSQL (asyncpg), chunked
    executemany elsewhere. Returns the number of rows."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        records = list(rows)
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=list(columns)
        )
        return len(records)
    count = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(dict(zip(columns, row, strict=True)))
        if len(chunk) == _INSERT_CHUNK:
            await connection.execute(table.insert(), chunk)
            count += len(chunk)
            chunk = []
    if chunk:
        await connection.execute(table.insert(), chunk)
        count += len(chunk)
    return count


@dataclass
class _Resolution:
    parts: dict[str, KnownPart]
    to_create: list[DraftLine]
    assembly: KnownPart | None
    problems: list[Problem]
    errors: int = 0


async def _resolve_parts(
    session: AsyncSession, read: BomRead, request: ImportRequest
) -> _Resolution:
    numbers = [line.part_number for line in read.lines]
    if request.assembly_part_number:
        numbers.append(request.assembly_part_number)
    known = await known_parts(session, numbers)
    column = (
        read.column_name(read.mapping["part_number"]) if "part_number" in read.mapping else None
    )
    found = _Resolution(
        parts=known,
        to_create=[],
        assembly=known.get(request.assembly_part_number or ""),
        problems=[],
    )
    for line in read.lines:
        if request.assembly_part_number and line.part_number == request.assembly_part_number:
            found.problems.append(
                Problem(line.row, column, "the assembly cannot be a line of its own BOM")
            )
            found.errors += 1
            continue
        part = known.get(line.part_number)
        if part is None:
            if request.create_missing_parts:
                found.to_create.append(line)
                found.problems.append(
                    Problem(
                        line.row,
                        column,
                        f"new part {line.part_number!r} will be created",
                        "warning",
                    )
                )
            else:
                found.problems.append(
                    Problem(
                        line.row,
                        column,
                        f"unknown part number {line.part_number!r}: add it to the catalog "
                        "first, or import with 'create missing parts'",
                    )
                )
                found.errors += 1
        elif not part.active:
            found.problems.append(
                Problem(line.row, column, f"part {line.part_number} is inactive", "warning")
            )
    return found


def _preview(read: BomRead, resolution: _Resolution) -> dict[str, Any]:
    by_row = {entry["row"]: entry for entry in read.preview}
    for problem in resolution.problems:
        entry = by_row.get(problem.row)
        if entry is None:
            continue
        entry["messages"].append(problem.message)
        if problem.severity == "error":
            entry["status"] = "error"
        elif entry["status"] == "ok":
            entry["status"] = "warning"
    return {
        "kind": str(read.kind),
        "sheets": read.sheets,
        "sheet": read.sheet,
        "encoding": read.encoding,
        "delimiter": read.delimiter,
        "header_row": read.header_row,
        "columns": read.columns(),
        "mapping": read.mapping_by_name(),
        "fields": [{"name": name, "label": FIELD_LABELS[name]} for name in FIELDS],
        "rows": read.preview,
        "counts": {
            "rows_read": read.rows_read,
            "rows_blank": read.rows_blank,
            "rows_skipped": read.rows_skipped,
            "rows_invalid": read.rows_invalid,
            "rows_merged": read.rows_merged,
            "lines": len(read.lines),
            "parts_to_create": len(resolution.to_create),
        },
        "lines": [
            {
                "row": line.row,
                "part_number": line.part_number,
                "qty": line.qty,
                "refdes": " ".join(line.refdes[:50]),
                "description": line.description or line.value,
            }
            for line in read.lines[:50]
        ],
    }


@transactional
async def finish_import(
    session: AsyncSession, *, import_id: int, read: BomRead, request: ImportRequest
) -> BomImport | None:
    """Record the outcome of a read file, and for a commit create the BOM — one transaction.

    Rules: unknown part numbers are errors unless `create_missing_parts`; the assembly may
    not be one of its lines; any error means nothing is imported (status failed, with the
    problem report); a dry run succeeds with the preview whatever it found. The revision
    is checked again here (409 revision_taken fails the import when someone was faster).
    """
    row = await session.get(BomImport, import_id, with_for_update=True)
    if row is None or row.status != "running":
        return None  # failed meanwhile (abandoned or shut down): nothing to record
    resolution = await _resolve_parts(session, read, request)
    problems = sorted(
        [*read.problems, *resolution.problems],
        key=lambda p: (p.row is None, p.row or 0),
    )
    error_count = read.error_count + resolution.errors
    warning_count = read.warning_count + sum(
        1 for p in resolution.problems if p.severity == "warning"
    )
    row.rows_done = read.rows_read
    row.rows_total = read.rows_read
    row.lines_count = len(read.lines)
    row.error_count = error_count
    row.warning_count = warning_count
    row.problems_truncated = read.problems_truncated
    row.result = _preview(read, resolution)
    row.finished_at = utcnow()
    row.phase = "done"
    await _store_problems(session, import_id, problems)
    if row.dry_run:
        row.status = "succeeded"
    elif error_count:
        row.status = "failed"
        row.message = (
            f"{error_count} error(s) found; nothing was imported. Fix the file or the column "
            "mapping (see the report) and upload again."
        )
    elif not read.lines:
        row.status = "failed"
        row.message = "The file has no BOM lines; nothing was imported."
    else:
        bom = await _create_bom(session, read=read, request=request, resolution=resolution)
        row.status = "succeeded"
        row.bom_id = bom.id
    await audit.record(
        session,
        action="bom.import.finish",
        entity_type="bom_import",
        entity_id=row.id,
        after={
            "status": row.status,
            "lines": row.lines_count,
            "errors": error_count,
            "warnings": warning_count,
            "bom_id": row.bom_id,
        },
    )
    return row


async def _store_problems(
    session: AsyncSession, import_id: int, problems: Sequence[Problem]
) -> None:
    await session.execute(delete(BomImportProblem).where(BomImportProblem.import_id == import_id))
    await bulk_insert(
        session,
        BomImportProblem.__table__,  # type: ignore[arg-type]
        ("import_id", "row", "column", "message", "severity"),
        (
            (import_id, p.row, p.column[:200] if p.column else None, p.message[:500], p.severity)
            for p in problems
        ),
    )


async def _create_bom(
    session: AsyncSession, *, read: BomRead, request: ImportRequest, resolution: _Resolution
) -> Bom:
    if not request.assembly_part_number or not request.revision:
        raise ValidationError("Say which assembly and revision the BOM is for.")
    parts = {number: known.id for number, known in resolution.parts.items()}
    new_parts = _new_parts(resolution.to_create)
    if resolution.assembly is None:
        new_parts.insert(
            0,
            PartCreate(
                number=request.assembly_part_number,
                description=f"Assembly {request.assembly_part_number}",
            ),
        )
    if new_parts:
        for part in await part_service.add_parts(session, new_parts):
            parts[part.number] = part.id
    assembly_id = parts[request.assembly_part_number]
    await _check_revision_free(session, assembly_id, request.revision)
    bom = Bom(
        assembly_part_id=assembly_id,
        revision=request.revision,
        status="draft",
        notes="",
        source=request.file_name[:255],
        created_by=current_actor().name,
    )
    session.add(bom)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            f"Revision {request.revision} was created meanwhile.", code="revision_taken"
        ) from exc
    count = await bulk_insert(
        session,
        BomLine.__table__,  # type: ignore[arg-type]
        _LINE_COLUMNS,
        (
            (bom.id, number, parts[line.part_number], line.qty, " ".join(line.refdes), line.notes)
            for number, line in enumerate(read.lines, start=1)
        ),
    )
    await audit.record(
        session,
        action="bom.create",
        entity_type="bom",
        entity_id=bom.id,
        after={
            "assembly": request.assembly_part_number,
            "revision": bom.revision,
            "lines": count,
            "source": bom.source,
            "parts_created": len(new_parts),
        },
    )
    return bom


def _new_parts(lines: Sequence[DraftLine]) -> list[PartCreate]:
    created = []
    for line in lines:
        try:
            created.append(
                PartCreate(
                    number=line.part_number,
                    description=(line.description or line.value)[:500],
                    manufacturer=line.manufacturer[:200] or None,
                    mpn=line.mpn[:100] or None,
                )
            )
        except PydanticValidationError as exc:
            raise RuleViolationError(
                f"Part {line.part_number!r} (row {line.row}) cannot be created: "
                f"{messages.for_error(exc.errors()[0])}",
                code="part_not_creatable",
            ) from None
    return created


# --- BOM editing ----------------------------------------------------------------------------


async def get_bom_or_raise(session: AsyncSession, bom_id: int) -> Bom:
    bom = await session.get(Bom, bom_id)
    if bom is None:
        raise NotFoundError(f"No BOM with id {bom_id}.", code="bom_not_found")
    return bom


def _check_version(bom: Bom, version: int) -> None:
    if bom.version != version:
        raise ConflictError(
            "The BOM was changed by someone else; reload and try again.",
            code="stale_version",
            details={"current_version": bom.version},
        )


def _check_draft(bom: Bom) -> None:
    if bom.status != "draft":
        raise RuleViolationError(
            f"Only draft BOMs can be edited; this one is {bom.status}. Copy it to a new "
            "revision to change it.",
            code="bom_not_draft",
        )


async def _bump(session: AsyncSession, bom: Bom) -> None:
    bom.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError as exc:
        raise ConflictError(
            "The BOM was changed by someone else; reload and try again.", code="stale_version"
        ) from exc


async def _line_parts(
    session: AsyncSession, bom: Bom, lines: Sequence[BomLineIn]
) -> dict[str, Part]:
    numbers = [line.part_number for line in lines]
    parts = await part_service.parts_by_numbers(session, numbers)
    errors = []
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.part_number not in parts:
            errors.append(field_error(["lines", index, "part_number"], "no such part"))
        elif parts[line.part_number].id == bom.assembly_part_id:
            errors.append(field_error(["lines", index, "part_number"], "is the assembly itself"))
        if line.part_number in seen:
            errors.append(field_error(["lines", index, "part_number"], "is already a line"))
        seen.add(line.part_number)
    if errors:
        raise ValidationError("Some lines are not valid; see errors.", errors=errors)
    return parts


@transactional
async def update_bom(
    session: AsyncSession,
    *,
    bom_id: int,
    version: int,
    status: str | None = None,
    notes: str | None = None,
) -> Bom:
    """Change a BOM's status or notes.

    Rules: `version` must be current (409 stale_version); a BOM never goes back to draft
    (422 invalid_transition); activating needs at least one line (422 bom_empty) and makes
    the assembly's previously active BOM obsolete (one active revision per assembly)."""
    bom = await get_bom_or_raise(session, bom_id)
    _check_version(bom, version)
    before = {"status": bom.status, "notes": bom.notes}
    if status is not None and status != bom.status:
        if status == "draft":
            raise RuleViolationError(
                "A BOM cannot go back to draft; copy it to a new revision.",
                code="invalid_transition",
            )
        if status == "active":
            has_lines = await session.scalar(
                select(BomLine.id).where(BomLine.bom_id == bom.id).limit(1)
            )
            if has_lines is None:
                raise RuleViolationError("A BOM without lines cannot be active.", code="bom_empty")
            previous = list(
                await session.scalars(
                    select(Bom).where(
                        Bom.assembly_part_id == bom.assembly_part_id,
                        Bom.status == "active",
                        Bom.id != bom.id,
                    )
                )
            )
            for other in previous:
                other.status = "obsolete"
                await audit.record(
                    session,
                    action="bom.obsolete",
                    entity_type="bom",
                    entity_id=other.id,
                    before={"status": "active"},
                    after={"status": "obsolete", "replaced_by": bom.id},
                )
        bom.status = status
    if notes is not None:
        bom.notes = notes
    after = {"status": bom.status, "notes": bom.notes}
    if after == before:
        return bom
    await _bump(session, bom)
    await audit.record(
        session,
        action="bom.update",
        entity_type="bom",
        entity_id=bom.id,
        before=before,
        after=after,
    )
    return bom


@transactional
async def put_lines(
    session: AsyncSession, *, bom_id: int, version: int, lines: Sequence[BomLineIn]
) -> Bom:
    """Replace all lines of a draft BOM. Rules: current version (409), draft only (422
    bom_not_draft), known parts, each part once, not the assembly itself (422)."""
    bom = await get_bom_or_raise(session, bom_id)
    _check_version(bom, version)
    _check_draft(bom)
    parts = await _line_parts(session, bom, lines)
    await session.execute(delete(BomLine).where(BomLine.bom_id == bom.id))
    count = await bulk_insert(
        session,
        BomLine.__table__,  # type: ignore[arg-type]
        _LINE_COLUMNS,
        (
            (bom.id, n, parts[line.part_number].id, line.qty, line.refdes, line.notes)
            for n, line in enumerate(lines, start=1)
        ),
    )
    await _bump(session, bom)
    await audit.record(
        session,
        action="bom.lines.put",
        entity_type="bom",
        entity_id=bom.id,
        after={"lines": count},
    )
    return bom


@transactional
async def add_line(session: AsyncSession, *, bom_id: int, version: int, line: BomLineIn) -> BomLine:
    """Add a line at the end of a draft BOM (same rules as put_lines; 422 if the part is
    already a line)."""
    bom = await get_bom_or_raise(session, bom_id)
    _check_version(bom, version)
    _check_draft(bom)
    parts = await _line_parts(session, bom, [line])
    part = parts[line.part_number]
    exists = await session.scalar(
        select(BomLine.id).where(BomLine.bom_id == bom.id, BomLine.part_id == part.id)
    )
    if exists is not None:
        raise ValidationError(
            f"Part {part.number} is already a line of this BOM.",
            code="line_exists",
            errors=[field_error(["part_number"], "is already a line")],
        )
    last = await session.scalar(
        select(BomLine.line_no)
        .where(BomLine.bom_id == bom.id)
        .order_by(BomLine.line_no.desc())
        .limit(1)
    )
    row = BomLine(
        bom_id=bom.id,
        line_no=(last or 0) + 1,
        part_id=part.id,
        qty=line.qty,
        refdes=line.refdes,
        notes=line.notes,
    )
    session.add(row)
    await _bump(session, bom)
    await audit.record(
        session,
        action="bom.line.add",
        entity_type="bom",
        entity_id=bom.id,
        after={"part_number": part.number, "qty": line.qty, "refdes": line.refdes},
    )
    return row


async def _line_or_raise(session: AsyncSession, bom: Bom, line_id: int) -> BomLine:
    line = await session.get(BomLine, line_id)
    if line is None or line.bom_id != bom.id:
        raise NotFoundError(f"BOM {bom.id} has no line {line_id}.", code="bom_line_not_found")
    return line


@transactional
async def update_line(
    session: AsyncSession,
    *,
    bom_id: int,
    line_id: int,
    version: int,
    qty: int | None = None,
    refdes: str | None = None,
    notes: str | None = None,
) -> BomLine:
    """Change one line of a draft BOM (current version, 409; draft only, 422)."""
    bom = await get_bom_or_raise(session, bom_id)
    _check_version(bom, version)
    _check_draft(bom)
    line = await _line_or_raise(session, bom, line_id)
    before = {"qty": line.qty, "refdes": line.refdes, "notes": line.notes}
    if qty is not None:
        line.qty = qty
    if refdes is not None:
        line.refdes = refdes
    if notes is not None:
        line.notes = notes
    after = {"qty": line.qty, "refdes": line.refdes, "notes": line.notes}
    if after != before:
        await _bump(session, bom)
        await audit.record(
            session,
            action="bom.line.update",
            entity_type="bom",
            entity_id=bom.id,
            before={"line": line.line_no, **before},
            after={"line": line.line_no, **after},
        )
    return line


@transactional
async def delete_line(session: AsyncSession, *, bom_id: int, line_id: int, version: int) -> Bom:
    """Remove one line of a draft BOM (current version, 409; draft only, 422)."""
    bom = await get_bom_or_raise(session, bom_id)
    _check_version(bom, version)
    _check_draft(bom)
    line = await _line_or_raise(session, bom, line_id)
    before = {"line": line.line_no, "part_id": line.part_id, "qty": line.qty}
    await session.delete(line)
    await _bump(session, bom)
    await audit.record(
        session, action="bom.line.delete", entity_type="bom", entity_id=bom.id, before=before
    )
    return bom


@transactional
async def copy_bom(
    session: AsyncSession, *, bom_id: int, revision: str, notes: str | None = None
) -> Bom:
    """Copy a BOM with all its lines to a new draft revision (409 revision_taken)."""
    source = await get_bom_or_raise(session, bom_id)
    await _check_revision_free(session, source.assembly_part_id, revision)
    copy = Bom(
        assembly_part_id=source.assembly_part_id,
        revision=revision,
        status="draft",
        notes=source.notes if notes is None else notes,
        source=f"copy of revision {source.revision}",
        created_by=current_actor().name,
    )
    session.add(copy)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"Revision {revision} exists already.", code="revision_taken") from exc
    lines = await session.execute(
        select(BomLine.line_no, BomLine.part_id, BomLine.qty, BomLine.refdes, BomLine.notes)
        .where(BomLine.bom_id == source.id)
        .order_by(BomLine.line_no)
    )
    count = await bulk_insert(
        session,
        BomLine.__table__,  # type: ignore[arg-type]
        _LINE_COLUMNS,
        [(copy.id, *line) for line in lines],
    )
    await audit.record(
        session,
        action="bom.copy",
        entity_type="bom",
        entity_id=copy.id,
        after={"from_bom_id": source.id, "revision": revision, "lines": count},
    )
    return copy


async def get_import(session: AsyncSession, *, import_id: int, stale_after: timedelta) -> BomImport:
    """An import; one whose task died (no heartbeat for `stale_after`) is failed first."""
    row = await session.get(BomImport, import_id)
    if row is None:
        raise NotFoundError(f"No BOM import with id {import_id}.", code="bom_import_not_found")
    if row.status in ("queued", "running") and row.heartbeat_at < utcnow() - stale_after:
        await fail_abandoned_imports(session, older_than=stale_after)
        await session.refresh(row)
    return row
