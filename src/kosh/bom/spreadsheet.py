"""Rows out of a checked spreadsheet file, streamed one at a time.

Workbooks (xlsx, xlsm, xlsb, xls, ods) are read with python-calamine: it loads one sheet's
cells into compact native memory (fast, and it releases the GIL) and hands rows to Python
one by one, so a 100,000-row sheet never exists as Python lists all at once. CSV goes
through the stdlib reader after its encoding (BOM, else strict UTF-8, else Windows-1252)
and delimiter (the one that gives the most rows of the same width) are found.

Rows come out as `(row_number, cells)` where `row_number` is what a spreadsheet program
shows (1-based, counting title and blank rows) and cells are calamine's values ('' for
empty). Vertically merged cells are filled down, as a reader of the sheet sees them.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import cast

import python_calamine as calamine

from kosh.bom import shape
from kosh.bom.errors import SpreadsheetError
from kosh.bom.filetype import CheckedFile, FileKind
from kosh.bom.shape import ShapeLimits

Cell = str | int | float | bool | date | datetime | time | timedelta | None
Row = tuple[int, list[Cell]]

CSV_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_CHARS = 64 * 1024
_MAX_MERGED_RANGES = 20_000


@dataclass
class SheetRows:
    """One sheet (or the CSV) opened for reading."""

    name: str | None
    rows_total: int | None  # exact for workbooks, an estimate (line count) for CSV
    col_offset: int  # column index of the first cell of every row (0 = column A)
    rows: Iterator[Row]
    encoding: str | None = None
    delimiter: str | None = None


@dataclass
class Workbook:
    """A workbook (or CSV) whose sheets can be listed and opened one after another."""

    checked: CheckedFile
    max_rows: int
    shape: ShapeLimits | None = None
    sheet_names: list[str] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)
    _book: calamine.CalamineWorkbook | None = None

    def open_sheet(self, name: str | None) -> SheetRows:
        if self._book is None:
            return _csv_rows(self.checked.path, self.max_rows, self.shape)
        if name is None:
            raise SpreadsheetError("Choose a sheet.", code="sheet_required")
        if name not in self.sheet_names:
            raise sheet_not_found(name, self.sheet_names)
        return _sheet_rows(self._book, name, self.max_rows, self.shape)

    def check_shape(self) -> None:
        """Refuse a CSV wider or bigger than the shape limits, reading it once without
        splitting it into fields (workbooks were measured by kosh.bom.filetype)."""
        if self._book is not None or self.shape is None:
            return
        encoding, _lines = detect_encoding(self.checked.path)
        with self.checked.path.open(encoding=encoding, errors="replace", newline="") as text:
            delimiter = detect_delimiter(text.read(_SNIFF_CHARS))
            text.seek(0)
            shape.scan_csv(text, delimiter=delimiter, limits=self.shape)


def sheet_not_found(name: str, names: list[str]) -> SpreadsheetError:
    shown = ", ".join(repr(n) for n in names) or "none"
    return SpreadsheetError(
        f"The workbook has no sheet named {name!r}; its sheets are: {shown}.",
        code="sheet_not_found",
        details={"sheets": names},
    )


@contextmanager
def open_workbook(
    checked: CheckedFile, *, max_rows: int, shape: ShapeLimits | None = None
) -> Iterator[Workbook]:
    """Open the file for reading; calamine's native handle is closed on the way out.
    `shape` bounds the columns and cells of what is read (kosh.bom.shape)."""
    if checked.kind is FileKind.CSV:
        yield Workbook(checked=checked, max_rows=max_rows, shape=shape)
        return
    try:
        book = calamine.CalamineWorkbook.from_path(str(checked.path))
    except calamine.PasswordError:
        raise SpreadsheetError(
            "The workbook is password-protected; save it without a password and upload again.",
            code="encrypted_file",
        ) from None
    except (calamine.CalamineError, OSError, ValueError) as exc:
        raise _unreadable(exc) from None
    try:
        metadata = book.sheets_metadata
        names = [sheet.name for sheet in metadata]
        hidden = {
            sheet.name for sheet in metadata if sheet.visible != calamine.SheetVisibleEnum.Visible
        }
        yield Workbook(
            checked=checked,
            max_rows=max_rows,
            shape=shape,
            sheet_names=names,
            hidden=hidden,
            _book=book,
        )
    finally:
        book.close()


def _unreadable(exc: BaseException) -> SpreadsheetError:
    text = str(exc) or type(exc).__name__
    return SpreadsheetError(
        f"The spreadsheet could not be read ({text[:120]}); open it in your spreadsheet "
        "program, save it again and upload the new copy.",
        code="corrupt_file",
    )


# --- workbooks --------------------------------------------------------------------------


def _sheet_rows(
    book: calamine.CalamineWorkbook, name: str, max_rows: int, limits: ShapeLimits | None
) -> SheetRows:
    try:
        sheet = book.get_sheet_by_name(name)
    except calamine.PasswordError:
        raise SpreadsheetError(
            "The sheet is password-protected; save it without a password and upload again.",
            code="encrypted_file",
        ) from None
    except (calamine.CalamineError, OSError, ValueError) as exc:
        raise _unreadable(exc) from None
    start = sheet.start
    if start is None:  # an empty sheet
        return SheetRows(name=name, rows_total=0, col_offset=0, rows=iter(()))
    first_col = start[1]
    if sheet.height > max_rows:
        raise _too_many_rows(max_rows)
    if limits is not None:  # measured before for xlsx; this is the word of the parser
        where = f"The sheet '{name}'"
        if sheet.width > limits.max_columns:
            raise shape.too_many_columns(sheet.width, limits, where)
        if sheet.width * sheet.height > limits.max_cells:
            raise shape.too_many_cells(sheet.width * sheet.height, limits, where)
    try:
        merged = sheet.merged_cell_ranges or []
    except calamine.CalamineError:
        merged = []
    # calamine's iter_rows() starts at row 0 (empty rows above the data come as empty
    # lists) but at the first used column: rows are numbered by position, columns offset.
    rows = _numbered(cast(Iterator[list[Cell]], sheet.iter_rows()), first_col, merged)
    return SheetRows(name=name, rows_total=sheet.height, col_offset=first_col, rows=rows)


def _numbered(
    raw: Iterator[list[Cell]],
    first_col: int,
    merged: list[tuple[tuple[int, int], tuple[int, int]]],
) -> Iterator[Row]:
    vertical = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in merged if r1 > r0]
    if len(vertical) > _MAX_MERGED_RANGES:
        vertical = []
    starts: dict[int, list[tuple[int, int, int, int]]] = {}
    for span in vertical:
        starts.setdefault(span[0], []).append(span)
    active: list[tuple[int, int, int, Cell]] = []  # (last row, first col, last col, value)
    for absolute, cells in enumerate(raw):
        if active:
            active = [span for span in active if span[0] >= absolute]
            for _last, c0, c1, value in active:
                for col in range(c0, c1 + 1):
                    at = col - first_col
                    if 0 <= at < len(cells) and cells[at] in ("", None):
                        cells[at] = value
        for _r0, c0, r1, c1 in starts.pop(absolute, ()):
            at = c0 - first_col
            value = cells[at] if 0 <= at < len(cells) else ""
            if value not in ("", None):
                active.append((r1, c0, c1, value))
        yield absolute + 1, cells


def _too_many_rows(max_rows: int) -> SpreadsheetError:
    return SpreadsheetError(
        f"The sheet has more than {max_rows:,} rows; split the BOM or raise KOSH_BOM_MAX_ROWS.",
        code="too_many_rows",
    )


# --- CSV --------------------------------------------------------------------------------


def detect_encoding(path: Path) -> tuple[str, int]:
    """The file's text encoding and its number of line breaks (an estimate of the rows).

    A byte-order mark wins; else the whole file must decode as UTF-8; else Windows-1252
    (what spreadsheet programs write on Windows), else Latin-1, which decodes anything.
    """
    with path.open("rb") as handle:
        head = handle.read(4)
    for bom, name in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return name, _count_lines(path, name)
    for candidate in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(candidate)()
        lines = 0
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    lines += decoder.decode(chunk).count("\n")
                lines += decoder.decode(b"", final=True).count("\n")
        except UnicodeDecodeError:
            continue
        return candidate, lines
    return "latin-1", _count_lines(path, "latin-1")


def _count_lines(path: Path, encoding: str) -> int:
    with path.open(encoding=encoding, errors="replace", newline="") as text:
        return sum(chunk.count("\n") for chunk in iter(lambda: text.read(1 << 20), ""))


def detect_delimiter(sample: str) -> str:
    """The delimiter that splits the sample into the most rows of one (plural) width."""
    if "\n" in sample.rstrip("\r\n"):
        sample = sample[: sample.rfind("\n") + 1]
    best, best_score = ",", 0
    for delimiter in CSV_DELIMITERS:
        try:
            rows = []
            for row in csv.reader(io.StringIO(sample), delimiter=delimiter):
                rows.append(row)
                if len(rows) >= 50:
                    break
        except csv.Error:
            continue
        widths = Counter(len(row) for row in rows if any(cell.strip() for cell in row))
        if not widths:
            continue
        width, count = max(widths.items(), key=lambda item: (item[1], item[0]))
        score = count if width > 1 else 0
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_rows(path: Path, max_rows: int, limits: ShapeLimits | None) -> SheetRows:
    encoding, lines = detect_encoding(path)
    with path.open(encoding=encoding, errors="replace", newline="") as text:
        sample = text.read(_SNIFF_CHARS)
    delimiter = detect_delimiter(sample)
    estimate = lines + (0 if sample.endswith("\n") or not sample else 1)
    return SheetRows(
        name=None,
        rows_total=estimate,
        col_offset=0,
        rows=_csv_iter(path, encoding, delimiter, max_rows, limits),
        encoding=encoding,
        delimiter=delimiter,
    )


def _csv_iter(
    path: Path, encoding: str, delimiter: str, max_rows: int, limits: ShapeLimits | None
) -> Iterator[Row]:
    with path.open(encoding=encoding, errors="replace", newline="") as text:
        lines: Iterator[str] = iter(text)
        if limits is not None:  # a 1M-field line is refused before csv makes its list
            lines = shape.guarded_lines(text, delimiter=delimiter, limits=limits)
        reader = csv.reader(lines, delimiter=delimiter)
        number = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise SpreadsheetError(
                    f"Row {number + 1} cannot be read as CSV ({exc}).", code="corrupt_file"
                ) from None
            number += 1
            if number > max_rows:
                raise _too_many_rows(max_rows)
            if limits is not None and len(row) > limits.max_columns:  # the guard missed it
                raise shape.too_many_columns(len(row), limits, "The CSV file")
            yield number, list(row)
