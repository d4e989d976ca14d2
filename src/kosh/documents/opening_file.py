"""Opening-stock rows out of a spreadsheet or CSV: pure, no database (blocking: run it in a
thread). The file is checked and read by the BOM import's readers (`kosh.bom.filetype`,
`kosh.bom.spreadsheet`, `kosh.bom.cells`, through their public functions), so size limits,
zip-bomb, encryption and file-type guards are the same.

Columns are found by header (the first of the top 30 rows naming a part and a quantity
column): part number, location, qty, and optionally PCN, date code, supplier, received date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from kosh.bom.cells import as_text, is_blank, parse_quantity
from kosh.bom.errors import SpreadsheetError
from kosh.bom.filetype import FileLimits, check_file
from kosh.bom.spreadsheet import Cell, open_workbook
from kosh.core.types import has_control
from kosh.stock.pcn import is_valid_pcn

HEADER_SCAN_ROWS = 30
MAX_LISTED_ERRORS = 200

HEADERS: dict[str, tuple[str, ...]] = {
    "part_number": ("part number", "part", "part no", "partno", "pn", "item", "sku", "number"),
    "location": ("location", "bin", "loc", "location code", "shelf"),
    "qty": ("qty", "quantity", "count", "on hand", "stock"),
    "pcn": ("pcn", "lot", "label", "reel", "lot number"),
    "date_code": ("date code", "datecode", "dc"),
    "supplier": ("supplier", "vendor", "distributor"),
    "received_at": ("received", "received date", "received at", "date received"),
}
LIMITS = {"part_number": 64, "location": 64, "pcn": 64, "date_code": 32, "supplier": 200}


@dataclass(frozen=True)
class OpeningRow:
    row: int
    part_number: str
    location: str
    qty: int
    pcn: str | None = None
    date_code: str | None = None
    supplier: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass
class ReadProgress:
    rows_read: int = 0


@dataclass
class OpeningFile:
    rows: list[OpeningRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    header_row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    sheet: str | None = None

    def refuse(self, row: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(RowError(row=row, column=column, message=message))


def _normalise(header: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", header.lower()).split())


def map_headers(cells: list[Cell], mapping: dict[str, str] | None = None) -> dict[str, int]:
    """field -> column index for a header row (the first matching column wins). `mapping`
    (field -> header text) names columns whose headers KOSH does not know; a row lacking
    one of them is no header row."""
    wanted = {field: _normalise(header) for field, header in (mapping or {}).items()}
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = _normalise(as_text(cell))
        for target, header in wanted.items():
            if target not in found and name == header:
                found[target] = index
                break
        else:
            for target, names in HEADERS.items():
                if target not in found and target not in wanted and name in names:
                    found[target] = index
                    break
    if not set(wanted) <= set(found):
        return {}
    return found


def parse_mapping(text: str | None) -> dict[str, str]:
    """The `mapping` form field: `field=Header` pairs separated by commas or new lines
    (fields: part_number, location, qty, pcn, date_code, supplier, received_at)."""
    mapping: dict[str, str] = {}
    for item in re.split(r"[,\n]", text or ""):
        if not item.strip():
            continue
        field, sep, header = item.partition("=")
        field = field.strip().lower()
        if not sep or field not in HEADERS or not header.strip() or has_control(header):
            raise ValueError(f"{item.strip()[:40]!r} is not field=Header with a known field")
        mapping[field] = header.strip()
    return mapping


def _received(value: Cell) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = as_text(value)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text[:40]}' is not a date (use YYYY-MM-DD)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def read_opening_file(
    path: Path,
    *,
    limits: FileLimits,
    max_rows: int,
    sheet: str | None = None,
    mapping: dict[str, str] | None = None,
    progress: ReadProgress | None = None,
) -> OpeningFile:
    """Check and read the file; row problems are collected (never raised), file problems
    raise SpreadsheetError / FileTooLargeError (4xx). `progress.rows_read` counts the rows
    read so far (another thread may watch it)."""
    checked = check_file(path, limits)
    answer = OpeningFile()
    with open_workbook(checked, max_rows=max_rows) as book:
        name = sheet
        if name is None and book.sheet_names:
            visible = [n for n in book.sheet_names if n not in book.hidden]
            name = (visible or book.sheet_names)[0]
        opened = book.open_sheet(name)
        answer.sheet = opened.name
        columns: dict[str, int] | None = None
        for row_number, cells in opened.rows:
            if columns is None:
                candidate = map_headers(cells, mapping)
                if {"part_number", "qty"} <= set(candidate):
                    columns = candidate
                    answer.header_row = row_number
                    answer.columns = {k: as_text(cells[v]) for k, v in candidate.items()}
                elif row_number >= HEADER_SCAN_ROWS:
                    break
                continue
            _read_row(answer, row_number, cells, columns)
            if progress is not None:
                progress.rows_read += 1
    if answer.header_row is None:
        raise SpreadsheetError(
            "No header row found: the file needs a part number column and a quantity column "
            "(and a location column) in its first 30 rows.",
            code="header_not_found",
        )
    if "location" not in answer.columns:
        raise SpreadsheetError("The file has no location column.", code="location_column_missing")
    return answer


def _read_row(answer: OpeningFile, row: int, cells: list[Cell], columns: dict[str, int]) -> None:
    def cell(name: str) -> Cell:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else None

    if all(is_blank(c) for c in cells):
        return
    texts: dict[str, str] = {}
    for name, limit in LIMITS.items():
        text = as_text(cell(name))
        if len(text) > limit:
            answer.refuse(row, name, f"longer than {limit} characters")
            return
        if has_control(text):
            answer.refuse(row, name, "holds control characters")
            return
        texts[name] = text
    if not texts["part_number"]:
        answer.refuse(row, "part_number", "the part number is empty")
        return
    if not texts["location"]:
        answer.refuse(row, "location", "the location is empty")
        return
    qty = parse_quantity(cell("qty"))
    if qty.value is None:
        answer.refuse(row, "qty", qty.error or "the quantity is empty")
        return
    pcn = texts["pcn"] or None
    if pcn is not None and not is_valid_pcn(pcn):
        answer.refuse(row, "pcn", "a PCN is 1-64 of A-Z, a-z, 0-9, '.', '_', '-'")
        return
    received_at = None
    if not is_blank(cell("received_at")):
        try:
            received_at = _received(cell("received_at"))
        except ValueError as exc:
            answer.refuse(row, "received_at", str(exc))
            return
    answer.rows.append(
        OpeningRow(
            row=row,
            part_number=texts["part_number"],
            location=texts["location"],
            qty=qty.value,
            pcn=pcn,
            date_code=texts["date_code"] or None,
            supplier=texts["supplier"] or None,
            received_at=received_at,
        )
    )
