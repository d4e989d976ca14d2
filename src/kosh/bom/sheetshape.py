"""Shapes of OpenDocument (ods) and legacy Excel (xls) sheets, measured before calamine
expands them (see kosh.bom.shape for why and for the limits and refusals).

- ods: calamine expands repeated rows and cells (`table:number-rows-repeated`) into its
  rectangle, so an 800-byte file can ask for 99,000,000 cells (3 GB, 21 s), under
  calamine's own limit of 100,000,000 cells;
- xls: the sheet's rectangle is at most 65,536 x 256 cells (537 MB), and two cells are
  enough to ask for all of it.
"""

from __future__ import annotations

import re
import struct

from kosh.bom.shape import (
    SHARED_STRINGS_MEMBER,
    SHEET_BYTES_PER_CELL,
    WORKSHEET_MEMBER,
    ChunkScanner,
    ShapeLimits,
    SharedStringsScanner,
    WorksheetScanner,
    too_many_cells,
    too_many_columns,
    too_many_rows,
)

_ODS_TAG = re.compile(
    rb"<(/?)(?:[A-Za-z_][\w.-]*:)?(table-row|table-cell|covered-table-cell|table)(?=[\s/>])"
    rb"([^>]*?)(/?)>"
)
_ODS_REPEAT = re.compile(rb"""number-(?:rows|columns)-repeated=["']0*([0-9]{1,12})["']""")


class OdsContentScanner(ChunkScanner):
    """An ods's content.xml: the rectangle of the cells with content, repeats counted,
    must fit the limits; empty repeated cells and rows (LibreOffice writes them to the
    sheet's end) do not count. One Python step per tag: ods files are small unless their
    repeats make them big."""

    def __init__(self, limits: ShapeLimits) -> None:
        super().__init__(limits, SHEET_BYTES_PER_CELL * limits.max_cells)
        self.where = "The sheet"
        self._start_sheet()

    def _start_sheet(self) -> None:
        self.row = 0  # rows before the current one (repeats counted)
        self.row_repeat = 1
        self.col = 0
        self.row_has_value = False
        self.max_row = 0
        self.max_col = 0
        self.cells = 0

    def scan(self, data: bytes) -> None:
        for match in _ODS_TAG.finditer(data):
            closing, name, attributes, empty = match.groups()
            if name == b"table":
                if not closing:
                    self._start_sheet()
                continue
            if name == b"table-row":
                if closing:
                    self._end_row()
                else:
                    self.row_repeat, self.col, self.row_has_value = _repeat(attributes), 0, False
                    if empty:
                        self._end_row()
                continue
            if closing:
                continue
            repeat = _repeat(attributes)
            if not empty:  # a cell with content (LibreOffice writes empty cells as <.../>)
                self.max_col = max(self.max_col, self.col + repeat)
                self.cells += repeat * self.row_repeat
                self.row_has_value = True
                self._check()
            self.col += repeat

    def _end_row(self) -> None:
        if self.row_has_value:
            self.max_row = max(self.max_row, self.row + self.row_repeat)
            self._check()
        self.row += self.row_repeat
        self.row_repeat, self.col, self.row_has_value = 1, 0, False

    def _check(self) -> None:
        limits = self.limits
        if self.max_col > limits.max_columns:
            raise too_many_columns(self.max_col, limits, self.where)
        if self.max_row > limits.max_rows:
            raise too_many_rows(self.max_row, limits, self.where)
        if self.cells > limits.max_cells:
            raise too_many_cells(self.cells, limits, self.where)
        if self.max_col * max(self.max_row, self.row + self.row_repeat) > limits.max_cells:
            raise too_many_cells(
                self.max_col * max(self.max_row, self.row + self.row_repeat), limits, self.where
            )


def _repeat(attributes: bytes) -> int:
    found = _ODS_REPEAT.search(attributes)
    return max(1, int(found.group(1))) if found else 1


Scanner = WorksheetScanner | SharedStringsScanner | OdsContentScanner

# BIFF8 (xls) records that put a value in a cell: row u16, column u16 first (MULRK: first
# column, then 6 bytes a cell, last column at the end). BLANK / MULBLANK hold no value.
_BIFF_BOF = 0x0809
_BIFF_CELLS = frozenset({0x0006, 0x00D6, 0x00FD, 0x0203, 0x0204, 0x0205, 0x027E})
_BIFF_MULRK = 0x00BD


def scan_biff(workbook: bytes, limits: ShapeLimits) -> None:
    """An xls workbook stream: each sheet's rectangle of cells with a value must fit the
    limits (calamine allocates it whole: 65,536 x 256 cells are 537 MB). A Python step per
    record; the stream is at most the upload limit."""
    where = "A sheet of the workbook"
    offset, size = 0, len(workbook)
    max_row = max_col = cells = 0
    while offset + 4 <= size:
        record, length = struct.unpack_from("<HH", workbook, offset)
        body = offset + 4
        offset = body + length
        if record == _BIFF_BOF:
            max_row = max_col = cells = 0  # a new sheet (or the globals) begins
            continue
        if record in _BIFF_CELLS and length >= 4:
            row, col = struct.unpack_from("<HH", workbook, body)
            last = col
            cells += 1
        elif record == _BIFF_MULRK and length >= 6:
            row, col = struct.unpack_from("<HH", workbook, body)
            (last,) = struct.unpack_from("<H", workbook, body + length - 2)
            cells += max(1, last - col + 1)
        else:
            continue
        max_row, max_col = max(max_row, row + 1), max(max_col, last + 1)
        if max_col > limits.max_columns:
            raise too_many_columns(max_col, limits, where)
        if max_row > limits.max_rows:
            raise too_many_rows(max_row, limits, where)
        if cells > limits.max_cells or max_row * max_col > limits.max_cells:
            raise too_many_cells(max(cells, max_row * max_col), limits, where)


def scanner_for(member: str, limits: ShapeLimits, *, ods: bool = False) -> Scanner | None:
    """The scanner for a ZIP member of an xlsx/xlsm (or of an ods), or None when its shape
    does not matter."""
    if ods:
        return OdsContentScanner(limits) if member == "content.xml" else None
    if WORKSHEET_MEMBER.fullmatch(member):
        return WorksheetScanner(member, limits)
    if member == SHARED_STRINGS_MEMBER:
        return SharedStringsScanner(limits)
    return None
