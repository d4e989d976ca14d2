"""Hostile spreadsheet shapes (issue 8.5): refused at upload from their raw bytes, before
python-calamine or the csv module builds anything; imports queue behind a per-process cap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom import runner as bom_runner
from kosh.bom import shape
from kosh.bom.errors import SpreadsheetError
from kosh.bom.filetype import FileLimits, check_file
from kosh.bom.models import BomImport
from kosh.bom.shape import ShapeLimits, WorksheetScanner, column_letters, guarded_lines
from kosh.core.config import Settings
from tests.bom import files
from tests.bom.conftest import Finished, Upload

LIMITS = ShapeLimits(max_rows=250_000, max_columns=1000, max_cells=2_000_000)


def _check(path: Path, limits: ShapeLimits = LIMITS) -> str | None:
    """The refusal code of the file check, None when the file passes."""
    file_limits = FileLimits(
        max_bytes=25 << 20, max_uncompressed_bytes=256 << 20, max_ratio=200, shape=limits
    )
    try:
        check_file(path, file_limits)
    except SpreadsheetError as exc:
        return exc.code
    return None


def _scan(xml: bytes, chunk: int = 1 << 20, limits: ShapeLimits = LIMITS) -> str | None:
    scanner = WorksheetScanner("xl/worksheets/sheet1.xml", limits)
    document = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>" + xml + b"</sheetData></worksheet>"
    )
    try:
        for at in range(0, len(document), chunk):
            scanner.feed(document[at : at + chunk])
        scanner.close()
    except SpreadsheetError as exc:
        return exc.code
    return None


# --- the patterns --------------------------------------------------------------------------


@given(st.integers(0, 16_384), st.integers(1, 16_384))
def test_column_pattern_matches_exactly_the_columns_beyond(limit: int, column: int) -> None:
    tag = f'<c r="{column_letters(column)}7"><v>1</v></c>'.encode()
    assert bool(shape._column_above(limit).search(tag)) == (column > limit)


@given(st.integers(0, 2_000_000), st.integers(1, 2_000_000))
def test_row_pattern_matches_exactly_the_rows_beyond(limit: int, row: int) -> None:
    tag = f'<c r="B{row}" t="n"><v>1</v></c>'.encode()
    assert bool(shape._row_above(limit).search(tag)) == (row > limit)


def test_column_letters() -> None:
    assert [column_letters(n) for n in (1, 26, 27, 702, 703, 1000, 16_384)] == [
        "A", "Z", "AA", "ZZ", "AAA", "ALL", "XFD",
    ]  # fmt: skip


# --- worksheets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        # one far cell: calamine would allocate the whole rectangle (512 GiB, 8 GB)
        (
            b'<row r="1"><c r="A1"><v>1</v></c><c r="XFD1048576"><v>1</v></c></row>',
            "too_many_columns",
        ),
        (
            b'<row r="1"><c r="A1"><v>1</v></c></row>'
            b'<row r="250000"><c r="ALL250000"><v>1</v></c></row>',
            "too_many_cells",
        ),
        (b'<row r="1"><c r="A300000"><v>1</v></c></row>', "too_many_rows"),
        # hidden in the middle of an otherwise ordered sheet
        (
            b"".join(
                b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (n, n) for n in range(1, 3000)
            ).replace(b'r="A1500"', b'r="ZZ240000"'),
            "too_many_cells",
        ),
        # written in ways no spreadsheet program writes, but calamine reads
        (b'<row r="1">' + b"<c><v>1</v></c>" * 1001 + b"</row>", "too_many_columns"),
        (b'<row r="1"><c t="n" r="ZZZ1"><v>1</v></c></row>', "too_many_columns"),
        (b"<row r='1'><c r='XFD1'><v>1</v></c></row>", "too_many_columns"),
        (
            # (the tab-separated reference counts as "by position" too: only ever more)
            b'<row r="1"><c\n r="A1"><v>1</v></c><c\tr="ALL250000"><v>1</v></c></row>',
            "too_many_columns",
        ),
        (b'<row r="1">' + b'<c r="A1"><v>1</v></c >' * 2_000_001 + b"</row>", "too_many_cells"),
        (
            b'<row r="1"><c r="A1" t="inlineStr"><is><t>' + b"x" * 300_000 + b"</t></is></c></row>",
            "cell_too_long",
        ),
    ],
    ids=[
        "512GiB",
        "8GB",
        "rows",
        "hidden",
        "positional",
        "ref-not-first",
        "quotes",
        "odd-space",
        "dup-cells",
        "long-text",
    ],
)
def test_hostile_worksheets_are_refused(xml: bytes, code: str) -> None:
    assert _scan(xml) == code
    assert _scan(xml, chunk=4096) == code  # wherever the chunks are cut


def test_formatted_but_empty_cells_and_rows_do_not_count() -> None:
    # LibreOffice writes styled empty cells up to column 1,024 and empty rows to 1,048,576
    row = b'<row r="1"><c r="A1" t="n"><v>1</v></c>' + b"".join(
        b'<c r="%s1" s="3"/>' % column_letters(n).encode() for n in range(2, 1025)
    )
    empty_rows = b"".join(b'<row r="%d" ht="12.8"></row>' % n for n in range(2, 20_000))
    assert _scan(row + b"</row>" + empty_rows + b'<row r="1048576"></row>') is None


def test_a_prefixed_namespace_is_measured_too() -> None:
    scanner = WorksheetScanner("sheet1.xml", LIMITS)
    with pytest.raises(SpreadsheetError) as refused:
        scanner.feed(
            b'<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<x:sheetData><x:row r="1">' + b"<x:c><x:v>1</x:v></x:c>" * 1001
        )
    assert refused.value.code == "too_many_columns"


@hypothesis_settings(max_examples=25, deadline=None)
@given(st.integers(16, 5000))
def test_where_chunks_are_cut_does_not_matter(chunk: int) -> None:
    rows = b"".join(
        b'<row r="%d"><c r="A%d" t="s"><v>%d</v></c><c r="C%d"><v>2</v></c></row>' % (n, n, n, n)
        for n in range(1, 400)
    )
    small = ShapeLimits(max_rows=1000, max_columns=3, max_cells=1200)
    assert _scan(rows, chunk=chunk, limits=small) is None
    assert _scan(rows + b'<row r="400"><c r="D400"><v>1</v></c></row>', chunk, small) == (
        "too_many_columns"
    )
    assert _scan(rows + b'<row r="401"><c r="A401"><v>1</v></c></row>', chunk, small) == (
        "too_many_cells"
    )


def test_hostile_xlsx_files_are_refused_by_the_file_check(tmp_path: Path) -> None:
    assert _check(files.sparse_xlsx(tmp_path / "a.xlsx", "A1", "XFD1048576")) == (
        "too_many_columns"
    )
    assert _check(files.sparse_xlsx(tmp_path / "b.xlsx", "A1", "ALL250000")) == "too_many_cells"
    wide = files.dense_xlsx(tmp_path / "w.xlsx", columns=16_384, uncompressed=8 << 20)
    assert _check(wide) == "too_many_columns"
    fine = files.xlsx(tmp_path / "ok.xlsx", [["Part Number", "Qty"], ["R-1", 2]])
    assert _check(fine) is None


def test_real_bom_workbooks_pass(data_dir: Path) -> None:
    for path in sorted((data_dir / "bom").glob("*.xlsx")):
        assert _check(path) is None, path.name


# --- CSV -----------------------------------------------------------------------------------


def _guard(text: str, limits: ShapeLimits = LIMITS) -> str | None:
    try:
        for _ in guarded_lines(text.splitlines(keepends=True), delimiter=",", limits=limits):
            pass
    except SpreadsheetError as exc:
        return exc.code
    return None


def test_csv_fields_are_counted_outside_quotes() -> None:
    small = ShapeLimits(max_rows=100, max_columns=5, max_cells=40)
    assert _guard("a,b,c,d,e\r\n1,2,3,4,5\r\n", small) is None
    assert _guard("a,b,c,d,e,f\r\n", small) == "too_many_columns"
    designators = '"' + ",".join(f"R{n}" for n in range(500)) + '"'
    assert _guard(f"Ref,Qty\r\n{designators},500\r\n", small) is None  # quoted commas
    assert _guard('a,"b\r\nc,d,e",f,g\r\n', small) is None  # a record over two lines: 4
    assert _guard('a,"b\r\nc",d,e,f,g\r\n', small) == "too_many_columns"  # 6 fields
    assert _guard("a,b,c,d\r\n" * 10 + "a\r\n", small) == "too_many_cells"


def test_a_million_column_csv_is_refused(tmp_path: Path) -> None:
    path = files.wide_csv(tmp_path / "wide.csv", columns=1_000_000)
    with (
        path.open(encoding="utf-8", newline="") as text,
        pytest.raises(SpreadsheetError) as refused,
    ):
        shape.scan_csv(text, delimiter=",", limits=LIMITS)
    assert refused.value.code == "too_many_columns"


# --- through the API -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_hostile_uploads_are_a_422_and_queue_nothing(
    upload: Upload, tmp_path: Path, session: AsyncSession, kind: str
) -> None:
    # given
    if kind == "csv":
        path = files.wide_csv(tmp_path / "wide.csv", columns=20_000)
    else:
        path = files.sparse_xlsx(tmp_path / "bomb.xlsx", "A1", "XFD1048576")
    # when
    answer = await upload(path, dry_run=True)
    # then
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "too_many_columns"
    assert "KOSH_BOM_MAX_COLUMNS" in answer.json()["detail"]
    assert await session.scalar(select(func.count()).select_from(BomImport)) == 0
    assert list((tmp_path.parent).glob("**/bom-imports/*.upload")) == []


# --- at most N imports read at once --------------------------------------------------------


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.model_copy(update={"bom_max_concurrent_imports": 1})


@pytest.fixture
def gated_reader(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The reader waits for the returned event: imports stay in their slot until set."""
    gate = threading.Event()
    real = bom_runner.read_bom

    def read(*args: Any, **kwargs: Any) -> Any:
        gate.wait(timeout=30)
        return real(*args, **kwargs)

    monkeypatch.setattr(bom_runner, "read_bom", read)
    yield gate
    gate.set()


async def test_imports_beyond_the_cap_wait_queued_and_then_run(
    upload: Upload,
    finished: Finished,
    client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    tmp_path: Path,
    gated_reader: threading.Event,
) -> None:
    import asyncio

    # given: one slot, three uploads
    path = files.csv_file(tmp_path / "bom.csv", [["Part Number", "Qty"], ["R-1", 2]])
    ids = [(await upload(path, dry_run=True)).json()["id"] for _ in range(3)]
    # when
    states: list[dict[str, Any]] = []
    for _ in range(200):  # up to 10 s on a busy machine
        await asyncio.sleep(0.05)
        states = [
            (await client.get(f"/api/v1/boms/imports/{i}", headers=operator_headers)).json()
            for i in ids
        ]
        if [s["phase"] for s in states[1:]] == ["waiting", "waiting"]:
            break
    # then: one reads, the others wait in order and say so
    assert states[0]["status"] == "running"
    assert [(s["status"], s["phase"]) for s in states[1:]] == [("queued", "waiting")] * 2
    assert "this one is next" in states[1]["message"]
    assert "1 wait ahead of this one" in states[2]["message"]
    gated_reader.set()
    results = [await finished(i) for i in ids]
    assert [r["status"] for r in results] == ["succeeded"] * 3
    assert all(r["message"] is None for r in results)


async def test_health_shows_the_import_queue_and_refusals(
    upload: Upload,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    tmp_path: Path,
) -> None:
    # given: a refused bomb, and an import queued 20 minutes ago that never started
    await upload(files.sparse_xlsx(tmp_path / "bomb.xlsx", "A1", "XFD1048576"), dry_run=True)
    from kosh.core.db import utcnow

    old = utcnow() - timedelta(minutes=20)
    session.add(
        BomImport(
            status="queued",
            phase="waiting",
            file_name="stuck.csv",
            options={},
            created_by="t",
            created_at=old,
            heartbeat_at=utcnow(),
        )
    )
    await session.commit()
    # when
    answer = await client.get("/health/detailed", headers=admin_headers)
    # then
    section = answer.json()["checks"]["bom_imports"]
    assert section["ok"] is False
    assert section["queued"] == 1
    assert section["oldest_queued_age_seconds"] >= 1200
    assert section["refused_for_shape"]["too_many_columns"] >= 1


# --- OpenDocument: repeats ---------------------------------------------------------------

_VALUE = (
    '<table:table-cell {}office:value-type="float" office:value="1">'
    "<text:p>1</text:p></table:table-cell>"
)
_EMPTY_TAIL = (
    '<table:table-row table:number-rows-repeated="1048570">'
    '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
)


@pytest.mark.parametrize(
    ("table", "code"),
    [
        # 800 bytes, 99,000,000 cells (3 GB): under calamine's own limit of 100,000,000
        (
            '<table:table-row table:number-rows-repeated="99000">'
            + _VALUE.format('table:number-columns-repeated="1000" ')
            + "</table:table-row>",
            "too_many_cells",
        ),
        (
            "<table:table-row>"
            + _VALUE.format('table:number-columns-repeated="16384" ')
            + "</table:table-row>",
            "too_many_columns",
        ),
        # one value far below a long run of empty rows
        (
            "<table:table-row>"
            + _VALUE.format("")
            + "</table:table-row>"
            + _EMPTY_TAIL
            + "<table:table-row>"
            + _VALUE.format("")
            + "</table:table-row>",
            "too_many_rows",
        ),
        # LibreOffice's own tail of empty rows and columns after the data: fine
        (
            "<table:table-row>" + _VALUE.format("") * 6 + "</table:table-row>" + _EMPTY_TAIL,
            None,
        ),
    ],
    ids=["99M-cells", "wide", "far-row", "libreoffice-tail"],
)
def test_ods_repeats_are_counted(tmp_path: Path, table: str, code: str | None) -> None:
    assert _check(files.ods_raw(tmp_path / "sheet.ods", table)) == code


# --- xls: the BIFF records ---------------------------------------------------------------


def _xls(path: Path, cells: list[tuple[int, int, object]]) -> Path:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("BOM")
    for row, col, value in cells:
        sheet.write(row, col, value)
    book.save(str(path))
    return path


def test_xls_rectangles_are_measured(tmp_path: Path) -> None:
    # two cells: calamine would hold 65,536 x 256 cells (537 MB, 2.7 s)
    assert _check(_xls(tmp_path / "a.xls", [(0, 0, 1), (65535, 255, 1)])) == "too_many_cells"
    narrow = ShapeLimits(max_rows=250_000, max_columns=100, max_cells=2_000_000)
    assert _check(_xls(tmp_path / "b.xls", [(0, 0, "x"), (3, 200, "y")]), narrow) == (
        "too_many_columns"
    )
    fine = _xls(tmp_path / "c.xls", [(0, 0, "Part Number"), (0, 1, "Qty"), (1, 0, "R1")])
    assert _check(fine) is None


@hypothesis_settings(max_examples=400, deadline=None)
@given(st.text(alphabet='a,"\n\r', max_size=60), st.integers(1, 6))
def test_csv_guard_counts_fields_as_the_csv_module_does(text: str, limit: int) -> None:
    import csv
    import io

    small = ShapeLimits(max_rows=1000, max_columns=limit, max_cells=10_000)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=","))
    except csv.Error:
        return  # the reader refuses it anyway (corrupt_file)
    widest = max((len(row) for row in rows), default=0)
    refused = _guard_raw(text, small)
    if widest > limit:
        assert refused == "too_many_columns"  # never fewer than the reader makes
    else:
        assert refused is None


def _guard_raw(text: str, limits: ShapeLimits) -> str | None:
    import io

    try:
        for _ in guarded_lines(io.StringIO(text, newline=""), delimiter=",", limits=limits):
            pass
    except SpreadsheetError as exc:
        return exc.code
    return None


def test_a_quote_inside_a_field_does_not_hide_the_delimiters() -> None:
    small = ShapeLimits(max_rows=100, max_columns=5, max_cells=40)
    assert _guard('x"a,b,c,d,e,f\r\n', small) == "too_many_columns"  # csv: 6 fields
    assert _guard('"a""b,c",d\r\n', small) is None  # 2 fields
    assert _guard('"a"x,b,c,d,e,f\r\n', small) == "too_many_columns"
