"""A BOM spreadsheet read into draft lines and a list of problems, without the database.

Pure and synchronous (the import runs it in a worker thread): choose the sheet, find the
header row, map the columns, then stream the data rows once, validating each and
merging lines that name the same part. Memory is bounded by the number of distinct
lines (the BOM itself), a capped problem list and a capped preview, never by the rows.

Row rules:
- blank rows are skipped silently; rows with neither part number nor quantity (section
  headings, "or" alternates without data) are skipped with a warning;
- a DNP/do-not-place mark skips the row with a warning;
- the part number must be present and at most 64 characters;
- the quantity must be a positive whole number (see kosh.bom.cells); without a quantity
  column (JLCPCB) or with an empty cell it is the number of designators;
- designators are expanded (R1-R4); a count that differs from the quantity, a token that
  is no designator, or a designator used twice is a warning;
- a second line for the same part number is merged into the first (quantities added,
  designators joined), or with duplicates="flag" reported as an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from kosh.bom.cells import (
    MAX_QTY,
    as_text,
    is_blank,
    is_marked,
    is_placeholder,
    parse_quantity,
)
from kosh.bom.columns import (
    FIELDS,
    HEADER_SCAN_ROWS,
    MappingError,
    apply_overrides,
    auto_map,
    column_letter,
    detect_header,
)
from kosh.bom.designators import parse_designators
from kosh.bom.filetype import CheckedFile, FileKind
from kosh.bom.shape import ShapeLimits
from kosh.bom.spreadsheet import Cell, Row, SheetRows, Workbook, open_workbook, sheet_not_found

Severity = Literal["error", "warning"]
PART_NUMBER_MAX = 64
TEXT_MAX = 500
SAMPLE_ROWS = 20
MAX_ROWS_PER_LINE = 1000


@dataclass(frozen=True)
class Problem:
    row: int | None
    column: str | None
    message: str
    severity: Severity = "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "message": self.message,
            "severity": self.severity,
        }


@dataclass(slots=True)
class DraftLine:
    part_number: str
    qty: int
    row: int
    refdes: list[str] = field(default_factory=list)
    description: str = ""
    value: str = ""
    mpn: str = ""
    manufacturer: str = ""
    footprint: str = ""
    notes: str = ""
    rows: list[int] = field(default_factory=list)


@dataclass
class ReadOptions:
    sheet: str | None = None
    header_row: int | None = None
    mapping: dict[str, str | None] = field(default_factory=dict)
    duplicates: Literal["merge", "flag"] = "merge"
    preview_rows: int = 100
    max_problems: int = 100_000


@dataclass
class Progress:
    """Shared with the import task: written by the reading thread, read by the event loop."""

    rows_total: int | None = None
    rows_done: int = 0


@dataclass
class BomRead:
    kind: FileKind
    sheets: list[str] = field(default_factory=list)
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int | None = None
    headers: list[str] = field(default_factory=list)
    col_offset: int = 0
    mapping: dict[str, int] = field(default_factory=dict)
    lines: list[DraftLine] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    problems_truncated: bool = False
    error_count: int = 0
    warning_count: int = 0
    rows_read: int = 0
    rows_blank: int = 0
    rows_skipped: int = 0
    rows_invalid: int = 0
    rows_merged: int = 0
    preview: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def column_name(self, index: int) -> str:
        header = self.headers[index] if index < len(self.headers) else ""
        return header or column_letter(self.col_offset + index)

    def columns(self) -> list[dict[str, Any]]:
        return [
            {
                "index": index,
                "letter": column_letter(self.col_offset + index),
                "header": header,
                "field": next((f for f, i in self.mapping.items() if i == index), None),
            }
            for index, header in enumerate(self.headers)
        ]

    def mapping_by_name(self) -> dict[str, str | None]:
        return {
            name: (self.column_name(self.mapping[name]) if name in self.mapping else None)
            for name in FIELDS
        }


class _Collector:
    def __init__(self, result: BomRead, limit: int) -> None:
        self.result = result
        self.limit = limit

    def add(self, problem: Problem) -> None:
        if problem.severity == "error":
            self.result.error_count += 1
        else:
            self.result.warning_count += 1
        if len(self.result.problems) < self.limit:
            self.result.problems.append(problem)
        else:
            self.result.problems_truncated = True


def read_bom(
    checked: CheckedFile,
    options: ReadOptions,
    *,
    max_rows: int,
    progress: Progress | None = None,
    shape: ShapeLimits | None = None,
) -> BomRead:
    """Read and validate the whole file. File-level failures raise SpreadsheetError (also
    a sheet beyond the `shape` limits); everything about rows and columns is reported as
    problems in the result."""
    progress = progress or Progress()
    result = BomRead(kind=checked.kind)
    problems = _Collector(result, options.max_problems)
    with open_workbook(checked, max_rows=max_rows, shape=shape) as book:
        result.sheets = list(book.sheet_names)
        sheet, buffered = _choose_sheet(book, options)
        result.sheet = sheet.name
        result.encoding, result.delimiter = sheet.encoding, sheet.delimiter
        result.col_offset = sheet.col_offset
        progress.rows_total = sheet.rows_total
        header_at = _find_header(buffered, sheet.rows, options, problems)
        if header_at is None:
            return result
        header_number, header_cells = buffered[header_at]
        result.header_row = header_number
        result.headers = [as_text(cell) for cell in header_cells]
        data = buffered[header_at + 1 :]
        while len(data) < SAMPLE_ROWS:
            nxt = next(sheet.rows, None)
            if nxt is None:
                break
            data.append(nxt)
        sample = [cells for _, cells in data[:SAMPLE_ROWS]]
        if not _map_columns(result, options, sample, problems):
            return result
        _read_rows(result, options, _chain(data, sheet.rows), problems, progress)
    return result


def _chain(first: list[Row], rest: Iterator[Row]) -> Iterator[Row]:
    yield from first
    yield from rest


def _choose_sheet(book: Workbook, options: ReadOptions) -> tuple[SheetRows, list[Row]]:
    """The named sheet, else the first visible sheet with a recognisable header row."""
    if book.checked.kind is FileKind.CSV or options.sheet is not None:
        is_workbook = book.checked.kind is not FileKind.CSV
        if options.sheet is not None and is_workbook and options.sheet not in book.sheet_names:
            raise sheet_not_found(options.sheet, book.sheet_names)
        sheet = book.open_sheet(options.sheet)
        return sheet, _take(sheet.rows, _scan_depth(options))
    fallback: tuple[SheetRows, list[Row]] | None = None
    for name in book.sheet_names:
        if name in book.hidden:
            continue
        sheet = book.open_sheet(name)
        rows = _take(sheet.rows, _scan_depth(options))
        if options.header_row is not None or detect_header(rows) is not None:
            return sheet, rows
        if fallback is None and any(_has_data(cells) for _, cells in rows):
            fallback = (sheet, rows)
    if fallback is not None:
        return fallback
    if not book.sheet_names:
        from kosh.bom.errors import SpreadsheetError

        raise SpreadsheetError("The workbook has no sheets.", code="empty_file")
    sheet = book.open_sheet(book.sheet_names[0])
    return sheet, _take(sheet.rows, _scan_depth(options))


def _scan_depth(options: ReadOptions) -> int:
    if options.header_row is not None:
        return max(HEADER_SCAN_ROWS, options.header_row + 1)
    return HEADER_SCAN_ROWS


def _take(rows: Iterator[Row], count: int) -> list[Row]:
    taken: list[Row] = []
    for row in rows:
        taken.append(row)
        if len(taken) >= count:
            break
    return taken


def _has_data(cells: list[Cell]) -> bool:
    return any(not is_blank(cell) for cell in cells)


def _find_header(
    buffered: list[Row], rest: Iterator[Row], options: ReadOptions, problems: _Collector
) -> int | None:
    if options.header_row is not None:
        for index, (number, cells) in enumerate(buffered):
            if number == options.header_row:
                if not _has_data(cells):
                    problems.add(Problem(number, None, "the chosen header row is empty"))
                    return None
                return index
        problems.add(Problem(options.header_row, None, "the chosen header row is not in the sheet"))
        return None
    if not any(_has_data(cells) for _, cells in buffered):
        problems.add(Problem(None, None, "the sheet is empty"))
        return None
    found = detect_header(buffered)
    if found is None:
        problems.add(
            Problem(
                None,
                None,
                "no header row found in the first rows: name the columns (e.g. 'Part Number', "
                "'Qty', 'Reference') or give the header row number",
            )
        )
    return found


def _map_columns(
    result: BomRead, options: ReadOptions, sample: list[list[Cell]], problems: _Collector
) -> bool:
    mapping = auto_map(result.headers, sample)
    try:
        mapping = apply_overrides(
            mapping, result.headers, options.mapping, col_offset=result.col_offset
        )
    except MappingError as exc:
        result.mapping = mapping
        problems.add(Problem(result.header_row, exc.field, exc.message))
        return False
    result.mapping = mapping
    if "part_number" not in mapping:
        problems.add(
            Problem(
                result.header_row,
                None,
                "no part-number column recognised: map one (e.g. the part number, MPN or "
                "value column)",
            )
        )
        return False
    if "qty" not in mapping and "refdes" not in mapping:
        problems.add(
            Problem(
                result.header_row,
                None,
                "no quantity column recognised and no designators to count: map the quantity",
            )
        )
        return False
    return True


def _read_rows(
    result: BomRead,
    options: ReadOptions,
    rows: Iterator[Row],
    problems: _Collector,
    progress: Progress,
) -> None:
    mapping = result.mapping
    by_part: dict[str, DraftLine] = {}
    designator_rows: dict[str, int] = {}
    preview_left = options.preview_rows

    def cell(cells: list[Cell], name: str) -> Cell:
        index = mapping.get(name)
        if index is None or index >= len(cells):
            return ""
        return cells[index]

    names = {name: result.column_name(index) for name, index in mapping.items()}
    mapped = sorted(set(mapping.values()))

    def column(name: str) -> str:
        return names[name]

    def has_data(cells: list[Cell]) -> bool:
        size = len(cells)
        for index in mapped:
            if index < size:
                value = cells[index]
                if value is not None and value != "" and (type(value) is not str or value.strip()):
                    return True
        return False

    for number, cells in rows:
        progress.rows_done += 1
        result.rows_read += 1
        if not has_data(cells):
            result.rows_blank += 1  # nothing in the mapped columns (totals, spacer rows)
            continue
        found: list[Problem] = []
        line, status = _read_row(number, cells, cell, column, mapping, found)
        if line is not None:
            status = _merge(line, by_part, designator_rows, options, column, found) or status
        for problem in found:
            problems.add(problem)
        if status == "skipped":
            result.rows_skipped += 1
        elif status == "error":
            result.rows_invalid += 1
        elif status == "merged":
            result.rows_merged += 1
        if preview_left > 0:
            preview_left -= 1
            result.preview.append(
                {
                    "row": number,
                    "values": {
                        name: _shorten(as_text(cell(cells, name)), 80 if name == "refdes" else 200)
                        for name in mapping
                    },
                    "status": "error"
                    if any(p.severity == "error" for p in found)
                    else ("warning" if found else "ok"),
                    "skipped": status == "skipped",
                    "messages": [p.message for p in found],
                }
            )
    result.lines = list(by_part.values())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _read_row(
    number: int,
    cells: list[Cell],
    cell: Any,
    column: Any,
    mapping: dict[str, int],
    found: list[Problem],
) -> tuple[DraftLine | None, str]:
    part_number = as_text(cell(cells, "part_number"))
    qty_cell = cell(cells, "qty")
    if "dnp" in mapping and is_marked(cell(cells, "dnp")):
        found.append(Problem(number, column("dnp"), "marked do-not-place: not imported", "warning"))
        return None, "skipped"
    refdes_text = as_text(cell(cells, "refdes")) if "refdes" in mapping else ""
    if (
        not part_number
        and is_blank(qty_cell)
        and (not refdes_text or parse_designators(refdes_text).odd)
    ):
        found.append(
            Problem(
                number,
                None,
                "no part number and no quantity (a heading or note?): not imported",
                "warning",
            )
        )
        return None, "skipped"
    errors_before = len(found)
    if not part_number:
        found.append(Problem(number, column("part_number"), "the part number is empty"))
    elif is_placeholder(part_number):
        found.append(
            Problem(
                number,
                column("part_number"),
                f"'{part_number}' is a placeholder, not a part number",
            )
        )
    elif len(part_number) > PART_NUMBER_MAX:
        found.append(
            Problem(
                number,
                column("part_number"),
                f"the part number is longer than {PART_NUMBER_MAX} characters",
            )
        )
    designators = parse_designators(refdes_text) if "refdes" in mapping else None
    if designators is not None:
        if designators.error:
            found.append(Problem(number, column("refdes"), designators.error))
        elif designators.odd:
            shown = ", ".join(repr(token) for token in designators.odd[:5])
            found.append(
                Problem(
                    number,
                    column("refdes"),
                    f"{shown} does not look like a reference designator",
                    "warning",
                )
            )
    names = designators.names if designators is not None and not designators.error else []
    qty: int | None = None
    if "qty" in mapping:
        parsed = parse_quantity(qty_cell)
        if parsed.error:
            found.append(Problem(number, column("qty"), parsed.error))
        qty = parsed.value
        if qty is None and parsed.error is None:
            if names:
                qty = len(names)
                found.append(
                    Problem(
                        number,
                        column("qty"),
                        f"the quantity is empty: counted {qty} designators",
                        "warning",
                    )
                )
            else:
                found.append(Problem(number, column("qty"), "the quantity is empty"))
    elif names:
        qty = len(names)
    else:
        found.append(Problem(number, column("refdes"), "no designators to count"))
    if qty is not None and names and len(names) != qty and "qty" in mapping:
        found.append(
            Problem(
                number,
                column("refdes"),
                f"{len(names)} designators for quantity {qty}",
                "warning",
            )
        )
    if qty is None or any(p.severity == "error" for p in found[errors_before:]):
        return None, "error"
    line = DraftLine(part_number=part_number, qty=qty, row=number, refdes=names, rows=[number])
    size = len(cells)
    for name, index, limit in _text_fields(mapping):
        if index < size:
            setattr(line, name, as_text(cells[index])[:limit])
    return line, "warning" if found else "ok"


_TEXT_LIMITS = (
    ("description", TEXT_MAX),
    ("value", TEXT_MAX),
    ("mpn", 100),
    ("manufacturer", 200),
    ("footprint", 200),
    ("notes", TEXT_MAX),
)
_text_cache: dict[tuple[tuple[str, int], ...], list[tuple[str, int, int]]] = {}


def _text_fields(mapping: dict[str, int]) -> list[tuple[str, int, int]]:
    """(attribute, cell index, length limit) of the mapped text fields (cached per mapping)."""
    key = tuple(sorted(mapping.items()))
    fields = _text_cache.get(key)
    if fields is None:
        fields = [(name, mapping[name], limit) for name, limit in _TEXT_LIMITS if name in mapping]
        if len(_text_cache) > 100:
            _text_cache.clear()
        _text_cache[key] = fields
    return fields


def _merge(
    line: DraftLine,
    by_part: dict[str, DraftLine],
    designator_rows: dict[str, int],
    options: ReadOptions,
    column: Any,
    found: list[Problem],
) -> str | None:
    for name in line.refdes:
        first = designator_rows.setdefault(name, line.row)
        if first != line.row:
            found.append(
                Problem(
                    line.row,
                    column("refdes"),
                    f"designator {name} is also on row {first}",
                    "warning",
                )
            )
    existing = by_part.get(line.part_number)
    if existing is None:
        by_part[line.part_number] = line
        return None
    if options.duplicates == "flag":
        found.append(
            Problem(
                line.row,
                column("part_number"),
                f"part {line.part_number} is already on row {existing.row} (duplicate line)",
            )
        )
        return "error"
    if existing.qty + line.qty > MAX_QTY:
        found.append(Problem(line.row, column("qty"), f"the merged quantity exceeds {MAX_QTY:,}"))
        return "error"
    existing.qty += line.qty
    existing.refdes.extend(line.refdes)
    if line.notes and line.notes not in existing.notes:
        existing.notes = f"{existing.notes}; {line.notes}".strip("; ")[:TEXT_MAX]
    if len(existing.rows) < MAX_ROWS_PER_LINE:
        existing.rows.append(line.row)
    found.append(
        Problem(
            line.row,
            column("part_number"),
            f"same part as row {existing.row}: merged into that line",
            "warning",
        )
    )
    return "merged"
