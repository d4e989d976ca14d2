"""Opening stock: a spreadsheet of what a new site already holds, received as one posted
receipt document (all rows or none).

A dry run checks every row against the database (part known or to be created, location
known and usable in the warehouse, PCN new and not twice in the file) and reports exactly
what would be received; it writes nothing. Committing refuses the whole file while any row
has a problem (422 import_rejected with the rows), else posts one receipt document whose
ledger rows carry its number.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.catalog.schemas import PartCreate
from kosh.core import audit
from kosh.core.db import transactional
from kosh.core.errors import RuleViolationError, ValidationError, field_error
from kosh.documents import imports, posting, service
from kosh.documents.metrics import OPENING_IMPORT_ROWS
from kosh.documents.models import Document
from kosh.documents.opening_file import MAX_LISTED_ERRORS, OpeningFile, OpeningRow, RowError
from kosh.locations import service as location_service
from kosh.stock import queries as stock_queries
from kosh.stock.service import STOCKABLE_KINDS

log = structlog.get_logger(__name__)

MAX_LOCATIONS = 100_000
Progress = Callable[[int], Awaitable[None]]
PREVIEW_ROWS = 50


@dataclass
class ImportReport:
    dry_run: bool
    file_name: str
    sheet: str | None
    header_row: int | None
    columns: dict[str, str]
    rows: int
    units: int
    error_count: int
    errors: list[RowError]
    parts_to_create: list[str] = field(default_factory=list)
    preview: list[OpeningRow] = field(default_factory=list)
    # what will be received, per part: (part number, rows / new lots, units)
    by_part: list[tuple[str, int, int]] = field(default_factory=list)
    document: Document | None = None


async def _check_rows(
    session: AsyncSession, parsed: OpeningFile, *, warehouse_id: int, create_parts: bool
) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """Row problems go into `parsed`; answers part ids and location ids by the file's text,
    and the part numbers to create."""
    listed, _ = await location_service.list_locations(
        session, warehouse_id=warehouse_id, limit=MAX_LOCATIONS
    )
    by_code = {loc.code.upper(): loc for loc in listed}
    parts = await part_service.parts_by_numbers(session, {r.part_number for r in parsed.rows})
    taken = await stock_queries.existing_pcns(session, {r.pcn for r in parsed.rows if r.pcn})
    to_create: dict[str, None] = {}
    seen_pcns: dict[str, int] = {}
    locations: dict[str, int] = {}
    good: list[OpeningRow] = []
    for row in parsed.rows:
        location = by_code.get(row.location.upper())
        part = parts.get(row.part_number)
        problem: tuple[str, str] | None = None
        if location is None:
            problem = ("location", f"no location {row.location!r} in this warehouse")
        elif not location.active or location.kind not in STOCKABLE_KINDS:
            problem = ("location", f"location {location.code} cannot hold stock")
        elif part is None and not create_parts:
            problem = ("part_number", f"unknown part {row.part_number!r} (or create parts)")
        elif part is not None and not part.active:
            problem = ("part_number", f"part {part.number} is inactive")
        elif row.pcn is not None and row.pcn in seen_pcns:
            problem = ("pcn", f"PCN {row.pcn} is also on row {seen_pcns[row.pcn]}")
        elif row.pcn is not None and row.pcn in taken:
            problem = ("pcn", f"PCN {row.pcn} exists already")
        if problem is not None or location is None:
            parsed.refuse(row.row, *(problem or ("location", "unknown location")))
            continue
        if row.pcn is not None:
            seen_pcns[row.pcn] = row.row
        if part is None:
            to_create[row.part_number] = None
        locations[row.location] = location.id
        good.append(row)
    parsed.rows = good
    parsed.errors.sort(key=lambda e: e.row)
    return {n: p.id for n, p in parts.items()}, locations, list(to_create)


@transactional
async def import_opening_stock(
    session: AsyncSession,
    *,
    parsed: OpeningFile,
    file_name: str,
    warehouse_id: int,
    dry_run: bool = True,
    create_parts: bool = False,
    import_id: int | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Check (dry run) or receive an opening-stock file as one posted receipt document.

    Rules: the warehouse exists (404) and is active (422); a file without rows is 422
    no_rows; committing a file with any row problem is 422 import_rejected listing the
    rows (at most 200, `error_count` says how many); nothing is received then. Unknown
    parts are created only with `create_parts`. With `import_id` the import job's row is
    marked succeeded in this same transaction (kosh.documents.imports.finish);
    `progress` hears the rows received so far."""
    warehouse = await location_service.get_warehouse_or_raise(session, warehouse_id)
    if not warehouse.active:
        raise RuleViolationError(
            f"Warehouse {warehouse.code} is inactive.", code="warehouse_inactive"
        )
    if not parsed.rows and not parsed.error_count:
        raise ValidationError("The file holds no stock rows.", code="no_rows")
    part_ids, location_ids, to_create = await _check_rows(
        session, parsed, warehouse_id=warehouse.id, create_parts=create_parts
    )
    report = ImportReport(
        dry_run=dry_run,
        file_name=file_name,
        sheet=parsed.sheet,
        header_row=parsed.header_row,
        columns=parsed.columns,
        rows=len(parsed.rows),
        units=sum(r.qty for r in parsed.rows),
        error_count=parsed.error_count,
        errors=parsed.errors,
        parts_to_create=to_create,
        preview=parsed.rows[:PREVIEW_ROWS],
        by_part=_by_part(parsed),
    )
    OPENING_IMPORT_ROWS.labels(outcome="valid").inc(len(parsed.rows))
    OPENING_IMPORT_ROWS.labels(outcome="error").inc(parsed.error_count)
    if dry_run:
        if import_id is not None:
            await imports.finish(
                session, import_id=import_id, result=report_json(report), rows=0, document_id=None
            )
        return report
    if parsed.error_count:
        raise ValidationError(
            f"{parsed.error_count} row(s) have problems; nothing was received.",
            code="import_rejected",
            errors=[
                field_error(["rows", e.row, e.column], e.message)
                for e in parsed.errors[:MAX_LISTED_ERRORS]
            ],
            details={"error_count": parsed.error_count},
        )
    created = await part_service.add_parts(
        session,
        [
            PartCreate(number=number, description="Created by the opening-stock import")
            for number in to_create
        ],
    )
    part_ids.update({p.number: p.id for p in created})
    document = await service.new_document(
        session,
        type="receipt",
        warehouse_id=warehouse.id,
        notes=f"Opening stock from {file_name}",
    )
    lines = [
        posting.ReceiptLine(
            part_id=part_ids[row.part_number],
            part_number=row.part_number,
            qty=row.qty,
            location_id=location_ids[row.location],
            pcn=row.pcn,
            date_code=row.date_code,
            supplier=row.supplier,
            received_at=row.received_at,
            note=f"row {row.row}",
        )
        for row in parsed.rows
    ]
    moved = await posting.receive_bulk(session, document, lines, progress=progress)
    await service.mark_posted(session, document, moved, line_count=len(lines))
    await audit.record(
        session,
        action="document.import",
        entity_type="document",
        entity_id=document.number,
        after={
            "file_name": file_name,
            "rows": report.rows,
            "units": report.units,
            "parts_created": len(created),
        },
    )
    log.info("opening_stock_imported", number=document.number, rows=report.rows)
    report.document = document
    if import_id is not None:
        await imports.finish(
            session,
            import_id=import_id,
            result=report_json(report),
            rows=report.rows,
            document_id=document.id,
        )
    return report


def _by_part(parsed: OpeningFile) -> list[tuple[str, int, int]]:
    totals: dict[str, list[int]] = {}
    for row in parsed.rows:
        entry = totals.setdefault(row.part_number, [0, 0])
        entry[0] += 1
        entry[1] += row.qty
    return [(number, rows, units) for number, (rows, units) in sorted(totals.items())]


def report_json(report: ImportReport) -> dict[str, Any]:
    """The report as the API shows it (kosh.documents.schemas.ImportReportRead)."""
    document = report.document
    return {
        "dry_run": report.dry_run,
        "file_name": report.file_name,
        "sheet": report.sheet,
        "header_row": report.header_row,
        "columns": report.columns,
        "rows": report.rows,
        "units": report.units,
        "error_count": report.error_count,
        "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in report.errors],
        "parts_to_create": report.parts_to_create,
        "by_part": [
            {"part_number": number, "lots": rows, "units": units}
            for number, rows, units in report.by_part
        ],
        "preview": [
            {
                "row": r.row,
                "part_number": r.part_number,
                "location": r.location,
                "qty": r.qty,
                "pcn": r.pcn,
                "date_code": r.date_code,
                "supplier": r.supplier,
                "received_at": r.received_at.isoformat() if r.received_at else None,
            }
            for r in report.preview
        ],
        "document": {
            "id": document.id,
            "number": document.number,
            "status": document.status,
            "lines": report.rows,
        }
        if document is not None
        else None,
    }
