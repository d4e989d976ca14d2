"""The shape of a spreadsheet (rows, columns, cells, longest text), measured before a parser
builds anything from it.

python-calamine turns a sheet into one dense rectangle of 32-byte cells spanning the used
range, so a 1.5 KB xlsx holding only A1 and XFD1048576 asks for 512 GiB and aborts the
process, and a 240 MiB sheet of 16,384 columns costs 17 s and 1.1 GiB before KOSH sees a
row. The CSV reader makes one Python list per row, 1,000,000 strings for a 1M-column line.
So the shape is measured on the raw bytes first, at C speed (regular expressions and
`bytes.count`, never a Python step per cell), and the file is refused the moment a bound
is crossed (422 `too_many_columns`, `too_many_rows`, `too_many_cells`, `cell_too_long`):

- xlsx / xlsm worksheets are scanned while `kosh.bom.filetype` inflates them for the
  zip-bomb check anyway: cell references beyond the last allowed column or row are found
  by a pattern that matches only them; the used rectangle (highest column x highest row,
  counting cells and rows written without a reference by position) must hold at most
  `max_cells`; no text may run longer than `MAX_TEXT_BYTES`; the shared-strings table
  holds at most `max_cells` strings in at most `SHARED_STRING_BYTES_PER_CELL` x
  `max_cells` bytes.
- CSV lines are counted field by field (delimiters outside quotes) before the csv module
  splits them, and the same guard stands in front of the reader;
- ods repeats and xls records are measured in kosh.bom.sheetshape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import structlog

from kosh.bom.errors import SpreadsheetError
from kosh.bom.metrics import SHEETS_REFUSED

log = structlog.get_logger(__name__)

# Excel holds at most 32,767 characters in a cell; as UTF-8 with XML escapes that is well
# under 256 KiB. A longer run of text (or of one tag) is no spreadsheet anyone typed.
MAX_TEXT_BYTES = 256 * 1024
# A worksheet may hold at most this much XML per allowed cell (64 MiB at the default
# 2,000,000 cells; a real cell takes 20 to 50 bytes), its shared strings half of that.
# This also bounds the time the scan can take before it refuses a file (about 1 s).
SHEET_BYTES_PER_CELL = 32
SHARED_STRING_BYTES_PER_CELL = 16
WORKSHEET_MEMBER = re.compile(r"xl/(?:work|macro|dialog)sheets/[^/]+\.xml")
SHARED_STRINGS_MEMBER = "xl/sharedStrings.xml"

_ROOT = re.compile(
    rb"<([A-Za-z_][\w.-]*:)?(?:worksheet|sst|dialogsheet|macrosheet|document-content)[\s>/]"
)
_REF = (b" r=",)
_CELL_ROW = re.compile(rb"""\sr=["'][A-Z]{1,3}0*([0-9]{1,9})["']""")


@lru_cache(maxsize=64)
def _tags(prefix: bytes, name: bytes) -> tuple[bytes, ...]:
    """The usual ways a start tag `<name` ends its name."""
    return tuple(b"<" + prefix + name + end for end in (b" ", b">", b"/"))


@lru_cache(maxsize=64)
def _unreferenced(prefix: bytes) -> re.Pattern[bytes]:
    """A <c> or <row> start tag whose first attribute is not r= (or written oddly), or an
    end tag `</c >` the cheap count would miss."""
    tag = re.escape(prefix)
    return re.compile(b"<" + tag + rb"""(?:c|row)(?! r=["'])[\s/>]|</""" + tag + rb"c\s")


def _count(data: bytes, needles: tuple[bytes, ...], start: int = 0, end: int | None = None) -> int:
    stop = len(data) if end is None else end
    return sum(data.count(needle, start, stop) for needle in needles)


def _long_run(data: bytes) -> bool:
    """True when some run without `<` or `>` is at least MAX_TEXT_BYTES long (and maybe
    when one is half as long): probed every half of that length, two finds a probe."""
    step = MAX_TEXT_BYTES // 2
    for probe in range(0, len(data), step):
        ends = [at for at in (data.find(b"<", probe), data.find(b">", probe)) if at >= 0]
        if (min(ends) if ends else len(data)) - probe >= step:
            return True
    return False


@dataclass(frozen=True)
class ShapeLimits:
    max_rows: int
    max_columns: int
    max_cells: int


def column_letters(number: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA, 1000 -> ALL (bijective base 26)."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _greater(digits: str, low: str, high: str, zero: str) -> bytes:
    """A pattern matching exactly the numerals (in the digit range low..high) greater than
    `digits`, for numerals written without leading zeros: longer ones, or as long and
    greater at the first differing place."""
    size = len(digits)
    choices = [f"[{zero}-{high}][{low}-{high}]{{{size},}}"]
    for place, char in enumerate(digits):
        if char < high:
            following = f"[{low}-{high}]{{{size - place - 1}}}"
            choices.append(f"{re.escape(digits[:place])}[{chr(ord(char) + 1)}-{high}]{following}")
    return "|".join(choices).encode()


# Only cells with content count: calamine skips value-less cells (`<c r="AMJ7" s="3"/>`,
# which LibreOffice writes up to column 1,024 for a formatted row) and empty rows (it
# writes them down to row 1,048,576), so a reference counts only in a tag that is not
# self-closing.
_OPEN_TAG_END = rb"""["'][^>]*(?<!/)>"""


@lru_cache(maxsize=256)
def _column_above(number: int) -> re.Pattern[bytes]:
    """A cell reference (r="...", any quotes, after any space) whose column is beyond
    column `number`. The literal `r=` comes first so the search skips ahead fast."""
    letters = _greater(column_letters(number), "A", "Z", "A")
    return re.compile(rb"""r=["'](?<=\sr=["'])(?:""" + letters + rb")[0-9]+" + _OPEN_TAG_END)


@lru_cache(maxsize=256)
def _row_above(number: int) -> re.Pattern[bytes]:
    """A cell reference (r="B7") whose row is beyond row `number`."""
    digits = _greater(str(number), "0", "9", "1")
    return re.compile(rb"""r=["'](?<=\sr=["'])[A-Z]{1,3}0*(?:""" + digits + rb")" + _OPEN_TAG_END)


def _highest(
    data: bytes, known: int, cap: int, above: Callable[[int], re.Pattern[bytes]]
) -> int | None:
    """The highest value in `data` given the lower bound `known`: one search when nothing is
    higher, a binary search over patterns otherwise; None when something is above `cap`."""
    if not above(known).search(data):
        return known
    if above(cap).search(data):
        return None
    low, high = known, cap  # something is above `low`; nothing is above `high`
    while high - low > 1:
        middle = (low + high) // 2
        if above(middle).search(data):
            low = middle
        else:
            high = middle
    return high


def _last_cell_row(data: bytes, prefix: bytes) -> int | None:
    """The row of the last cell with content in `data` (cells come in order: a cheap
    first guess, checked by `_row_above`)."""
    close = data.rfind(b"</" + prefix + b"c>")
    if close < 0:
        return None
    start = data.rfind(b"<" + prefix + b"c ", max(0, close - MAX_TEXT_BYTES), close)
    if start < 0:
        return None
    found = _CELL_ROW.search(data, start, data.find(b">", start) + 1)
    return int(found.group(1)) if found else None


def refuse(code: str, message: str, **details: object) -> SpreadsheetError:
    SHEETS_REFUSED.labels(reason=code).inc()
    log.warning("bom_sheet_refused", reason=code, **details)
    return SpreadsheetError(message, code=code, details=dict(details) or None)


def too_many_columns(columns: int, limits: ShapeLimits, where: str) -> SpreadsheetError:
    return refuse(
        "too_many_columns",
        f"{where} has more than {limits.max_columns:,} columns (at least {columns:,}); "
        "delete the unused columns or raise KOSH_BOM_MAX_COLUMNS.",
        columns=columns,
        limit=limits.max_columns,
    )


def too_many_cells(cells: int, limits: ShapeLimits, where: str) -> SpreadsheetError:
    return refuse(
        "too_many_cells",
        f"{where} spans more than {limits.max_cells:,} cells (at least {cells:,}); delete "
        "what is not part of the BOM (far-away notes, formatting of whole rows or columns) or "
        "raise KOSH_BOM_MAX_CELLS.",
        cells=cells,
        limit=limits.max_cells,
    )


def too_many_rows(rows: int, limits: ShapeLimits, where: str) -> SpreadsheetError:
    return refuse(
        "too_many_rows",
        f"{where} has more than {limits.max_rows:,} rows; split the BOM or raise "
        "KOSH_BOM_MAX_ROWS.",
        rows=rows,
        limit=limits.max_rows,
    )


def too_large(max_bytes: int, limits: ShapeLimits, where: str) -> SpreadsheetError:
    return refuse(
        "too_many_cells",
        f"{where} is larger than {max_bytes:,} bytes of XML, more than "
        f"{limits.max_cells:,} cells (KOSH_BOM_MAX_CELLS) can need.",
        limit=max_bytes,
    )


def cell_too_long(where: str) -> SpreadsheetError:
    return refuse(
        "cell_too_long",
        f"{where} holds a text longer than any spreadsheet cell can ({MAX_TEXT_BYTES:,} bytes "
        "without a break); the file is refused.",
        limit=MAX_TEXT_BYTES,
    )


class ChunkScanner:
    """Fed one ZIP member's XML in order, in chunks of any size; the complete tags of each
    chunk are measured, the rest waits for the next chunk. Memory: a chunk and a tail."""

    where = "The workbook"

    def __init__(self, limits: ShapeLimits, max_bytes: int) -> None:
        self.limits = limits
        self.max_bytes = max_bytes
        self.size = 0
        self.prefix: bytes | None = None  # the root element's namespace prefix (b"x:")
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes, self.limits, self.where)
        data = self._tail + chunk
        if self.prefix is None:
            root = _ROOT.search(data, 0, 8192)
            if root is None and len(data) < 8192:
                self._tail = data
                return
            self.prefix = (root.group(1) or b"") if root else b""
        end = data.rfind(b">") + 1
        self._tail = data[end:]
        if len(self._tail) > MAX_TEXT_BYTES:
            raise cell_too_long(self.where)
        if end:
            block = data[:end]
            if _long_run(block):
                raise cell_too_long(self.where)
            self.scan(block)

    def close(self) -> None:
        if self.prefix is None:
            self.prefix = b""
        if self._tail.strip():
            self.scan(self._tail + b">")
        self._tail = b""

    def scan(self, data: bytes) -> None:
        raise NotImplementedError


class WorksheetScanner(ChunkScanner):
    """A worksheet: the rectangle calamine would allocate must fit the limits."""

    def __init__(self, name: str, limits: ShapeLimits) -> None:
        super().__init__(limits, SHEET_BYTES_PER_CELL * limits.max_cells)
        self.where = f"The sheet '{name.rsplit('/', 1)[-1]}'"
        self.cells = 0
        self.max_col = 0  # highest column of a cell with a reference (1 = A)
        self.max_row = 0  # highest row of a row or cell with a reference
        self.rows_by_position = 0  # <row> elements without r=
        self.widest_by_position = 0  # most cells without r= in one row
        self._row_by_position = 0  # cells without r= in the row being read

    def scan(self, data: bytes) -> None:
        limits, prefix = self.limits, self.prefix or b""
        by_position = _unreferenced(prefix).search(data) is not None
        if by_position:
            # Cells or rows without r= first in their tag (no spreadsheet program writes
            # them, calamine reads them): every `<c` counts, which can only count too many.
            cells = data.count(b"<" + prefix + b"c")
        else:
            cells = data.count(b"</" + prefix + b"c>")  # cells with content
        self.cells += cells
        if self.cells > limits.max_cells:
            raise too_many_cells(self.cells, limits, self.where)
        highest_col = _highest(data, self.max_col, limits.max_columns, _column_above)
        if highest_col is None:
            raise too_many_columns(limits.max_columns + 1, limits, self.where)
        self.max_col = highest_col
        guess = _last_cell_row(data, prefix)
        if guess is not None and guess <= limits.max_rows:
            self.max_row = max(self.max_row, guess)
        highest_row = _highest(data, self.max_row, limits.max_rows, _row_above)
        if highest_row is None:
            raise too_many_rows(limits.max_rows + 1, limits, self.where)
        self.max_row = highest_row
        if by_position:
            self._count_by_position(data)
        elif data.find(b"<" + prefix + b"row") >= 0:
            self._row_by_position = 0
        width = self.max_col + self.widest_by_position
        height = self.max_row + self.rows_by_position
        if width > limits.max_columns:
            raise too_many_columns(width, limits, self.where)
        if height > limits.max_rows:
            raise too_many_rows(height, limits, self.where)
        if width * height > limits.max_cells:
            raise too_many_cells(width * height, limits, self.where)

    def _count_by_position(self, data: bytes) -> None:
        """Rows and cells without a reference follow the one before: count them per row
        (a Python step per row, never per cell). A reference not written first in its tag
        counts as missing here, which only makes the estimate larger."""
        tag = b"<" + (self.prefix or b"") + b"row"
        cell = b"<" + (self.prefix or b"") + b"c"
        starts = [
            at
            for at in _find_all(data, tag)
            if data[at + len(tag) : at + len(tag) + 1] in (b" ", b">", b"/", b"\n", b"\t", b"\r")
        ]
        bounds = [0, *starts, len(data)]
        for index in range(len(bounds) - 1):
            begin, end = bounds[index], bounds[index + 1]
            row_refs = 0
            if index > 0:  # a new row starts at `begin`
                self._row_by_position = 0
                head = data[begin : data.find(b">", begin) + 1]
                row_refs = _count(head, _REF)
                if not row_refs:
                    self.rows_by_position += 1
            cells = data.count(cell, begin, end)
            with_ref = data.count(b" r=", begin, end) - row_refs
            self._row_by_position += max(0, cells - with_ref)
            if self._row_by_position > self.widest_by_position:
                self.widest_by_position = self._row_by_position
                if self.max_col + self.widest_by_position > self.limits.max_columns:
                    raise too_many_columns(
                        self.max_col + self.widest_by_position, self.limits, self.where
                    )


def _find_all(data: bytes, needle: bytes) -> Iterator[int]:
    at = data.find(needle)
    while at >= 0:
        yield at
        at = data.find(needle, at + 1)


class SharedStringsScanner(ChunkScanner):
    """The workbook's shared-strings table: calamine holds it whole in memory."""

    where = "The workbook's text table"

    def __init__(self, limits: ShapeLimits) -> None:
        super().__init__(limits, SHARED_STRING_BYTES_PER_CELL * limits.max_cells)
        self.strings = 0

    def scan(self, data: bytes) -> None:
        self.strings += _count(data, _tags(self.prefix or b"", b"si"))
        if self.strings > self.limits.max_cells:
            raise too_many_cells(self.strings, self.limits, self.where)


# --- CSV ----------------------------------------------------------------------------------


def guarded_lines(
    lines: Iterable[str], *, delimiter: str, limits: ShapeLimits, quote: str = '"'
) -> Iterator[str]:
    """Pass the text lines of a CSV on, refusing (SpreadsheetError) a record with more
    fields than `limits.max_columns`, or a file with more than `limits.max_cells` fields,
    before the csv module splits them. Fields are read as the csv module reads them: a
    quote opens a quoted field only at the field's start (elsewhere it is a character),
    `""` inside one is a quote, and a quoted field may span lines (the record goes on).
    A line without quotes is counted in one step; one with quotes field by field, up to
    the limit."""
    where = "The CSV file"
    max_columns = limits.max_columns
    cells = 0
    fields = 1  # of the record being read
    quoted = False  # inside a quoted field (it went on from the line before)
    for line in lines:
        if not quoted and quote not in line:
            fields += line.count(delimiter)
        else:
            fields, quoted = _quoted_fields(line, delimiter, quote, fields, quoted, max_columns)
        if fields > max_columns:
            raise too_many_columns(fields, limits, where)
        if not quoted:
            cells += fields
            if cells > limits.max_cells:
                raise too_many_cells(cells, limits, where)
            fields = 1
        yield line


def _quoted_fields(
    line: str, delimiter: str, quote: str, fields: int, quoted: bool, limit: int
) -> tuple[int, bool]:
    """Fields of a record after `line` (csv's default dialect), stopping past `limit`."""
    position, size = 0, len(line)
    field_start = not quoted  # a line outside quotes starts a record, so a field
    while fields <= limit:
        if quoted:
            at = line.find(quote, position)
            while 0 <= at < size - 1 and line[at + 1] == quote:  # "" is a quote
                at = line.find(quote, at + 2)
            if at < 0:
                return fields, True  # the field goes on on the next line
            position, quoted, field_start = at + 1, False, False
            continue
        if field_start and line.startswith(quote, position):
            position, quoted = position + 1, True
            continue
        at = line.find(delimiter, position)
        if at < 0:
            return fields, False
        fields, position, field_start = fields + 1, at + 1, True
    return fields, quoted


def scan_csv(lines: Iterable[str], *, delimiter: str, limits: ShapeLimits) -> None:
    """Run the CSV guard over the whole file (at upload, so a hostile file is a 422)."""
    for _line in guarded_lines(lines, delimiter=delimiter, limits=limits):
        pass
