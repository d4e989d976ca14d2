"""Reading BOM spreadsheets: the real files in shared/data/bom, every format, hostile files."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kosh.bom.bomfile import BomRead, ReadOptions, read_bom
from kosh.bom.cells import parse_quantity
from kosh.bom.designators import parse_designators
from kosh.bom.errors import FileTooLargeError, SpreadsheetError
from kosh.bom.filetype import FileKind, FileLimits, check_file
from tests.bom import files

LIMITS = FileLimits(max_bytes=25 << 20, max_uncompressed_bytes=256 << 20, max_ratio=200)
HEADER = ["Reference", "Qty", "Part Number", "Description"]


def read(path: Path, limits: FileLimits = LIMITS, max_rows: int = 250_000, **options) -> BomRead:  # type: ignore[no-untyped-def]
    return read_bom(check_file(path, limits), ReadOptions(**options), max_rows=max_rows)


def named_mapping(result: BomRead) -> dict[str, str]:
    return {field: result.column_name(index) for field, index in result.mapping.items()}


def refused(path: Path, limits: FileLimits = LIMITS) -> str:
    with pytest.raises((SpreadsheetError, FileTooLargeError)) as caught:
        read(path, limits)
    return caught.value.code


# --- the real spreadsheets ---------------------------------------------------------------

# file, kind, sheet, header row, mapping, data rows read, lines, errors, warnings: each
# figure checked by hand against the file (openpyxl / a text editor).
REAL_FILES = [
    (
        "cea-leti_pick-remove4reuse_BOM_hierarchical.xlsx", "xlsx", "Structure", 1,
        {"part_number": "Reference", "qty": "Quantity", "description": "Description"},
        46, 42, 0, 1,
    ),
    (
        "exaspim_mechanical_BOM.csv", "csv", None, 1,
        {"part_number": "PART NUMBER", "qty": "QTY.", "description": "DESCRIPTION"},
        92, 90, 2, 0,
    ),
    (
        "exaspim_mechanical_BOM.xlsx", "xlsx", "in", 1,
        {
            "part_number": "SOLIDWORKS PART NUMBER", "qty": "QTY.", "mpn": "CATALOG PART NUMBER",
            "description": "DESCRIPTION", "manufacturer": "CATALOG",
        },
        92, 92, 0, 0,
    ),
    (
        "fomu_evt3b_kicad_bom_ungrouped.csv", "csv", None, 1,
        {
            "refdes": "Reference", "qty": "Count", "mpn": "MPN", "value": "Value",
            "description": "Description", "footprint": "Footprint",
            "manufacturer": "Manufacturer", "dnp": "DNP", "part_number": "Value",
        },
        62, 21, 0, 41,
    ),
    (
        "glasgow_revC3_kicad_bom.csv", "csv", None, 1,
        {
            "refdes": "Reference", "qty": "Quantity", "mpn": "MPN", "value": "Value",
            "footprint": "Footprint", "manufacturer": "Mfg", "dnp": "DNP", "part_number": "MPN",
        },
        57, 52, 1, 4,
    ),
    (
        "glasgow_revC3_kicad_bom_with_ragged_rows.csv", "csv", None, 1,
        {
            "refdes": "Reference", "qty": "Quantity", "mpn": "MPN", "value": "Value",
            "footprint": "Footprint", "manufacturer": "Mfg", "dnp": "DNP", "part_number": "MPN",
        },
        70, 52, 14, 4,
    ),
    (
        "kicost_test3_cost_sheet_merged_headers.xlsx", "xlsx", "test3", 6,
        {
            "refdes": "Refs", "qty": "Qty", "mpn": "Manf#", "value": "Value",
            "description": "Desc", "footprint": "Footprint", "manufacturer": "Manf",
            "part_number": "Manf#",
        },
        65, 0, 41, 0,
    ),
    (
        "low-cost-feeder_mechanical_bom.csv", "csv", None, 1,
        {"part_number": "Part Name", "qty": "Quantity", "notes": "Note"},
        28, 27, 1, 0,
    ),
    (
        "muonpi_cdu-lite_bom_multisheet.xlsx", "xlsx", "cdu-lite Parts Placed by JLC", 1,
        {
            "refdes": "Ref", "qty": "Qnty", "value": "Value", "footprint": "Footprint",
            "part_number": "JLC Part Number",
        },
        38, 34, 0, 4,
    ),
    (
        "muonpi_cdu-lite_jlcpcb_bom.xlsx", "xlsx", "cdu-lite-bom", 1,
        {
            "refdes": "Designator", "value": "Comment", "footprint": "Footprint",
            "part_number": "LCSC",
        },
        46, 45, 0, 1,
    ),
    (
        "openremise_s3main_bom_titleblock.xlsx", "xlsx", "Sheet1", 6,
        {
            "refdes": "*Designator", "qty": "*Qty", "mpn": "*Mfg Part #",
            "description": "Description / Value", "footprint": "*Package/Footprint",
            "manufacturer": "Manufacturer", "notes": "Your Instructions / Notes",
            "part_number": "*Mfg Part #",
        },
        60, 58, 2, 0,
    ),
]  # fmt: skip


def test_every_real_file_is_covered(data_dir: Path) -> None:
    on_disk = {p.name for p in (data_dir / "bom").iterdir() if p.suffix != ".md"}
    assert on_disk == {row[0] for row in REAL_FILES}


@pytest.mark.parametrize(
    ("name", "kind", "sheet", "header_row", "mapping", "rows", "lines", "errors", "warnings"),
    REAL_FILES,
)
def test_real_file(
    data_dir: Path,
    name: str,
    kind: str,
    sheet: str | None,
    header_row: int,
    mapping: dict[str, str],
    rows: int,
    lines: int,
    errors: int,
    warnings: int,
) -> None:
    result = read(data_dir / "bom" / name)

    assert result.kind == kind
    assert result.sheet == sheet
    assert result.header_row == header_row
    assert named_mapping(result) == mapping
    assert result.rows_read == rows
    assert len(result.lines) == lines
    assert (result.error_count, result.warning_count) == (errors, warnings)
    assert all(line.qty > 0 and line.part_number for line in result.lines)


def test_hierarchical_bom_merges_repeated_part(data_dir: Path) -> None:
    result = read(data_dir / "bom" / "cea-leti_pick-remove4reuse_BOM_hierarchical.xlsx")

    nut = next(line for line in result.lines if line.part_number == "ecrou_m3")
    assert (nut.qty, nut.rows) == (10, [11, 25])
    assert result.rows_blank == 3  # rows 3, 12 and 31


def test_jlcpcb_quantity_counted_from_designators(data_dir: Path) -> None:
    result = read(data_dir / "bom" / "muonpi_cdu-lite_jlcpcb_bom.xlsx")

    caps = next(line for line in result.lines if line.part_number == "C49678")
    assert caps.qty == 15
    assert caps.refdes[:2] == ["C100", "C102"]
    assert "qty" not in result.mapping


def test_fractional_quantity_is_a_row_error(data_dir: Path) -> None:
    result = read(data_dir / "bom" / "low-cost-feeder_mechanical_bom.csv")

    (problem,) = result.problems
    assert (problem.row, problem.column, problem.severity) == (12, "Quantity", "error")
    assert "1.2 is not a whole number" in problem.message


def test_kicost_formula_quantities_can_be_unmapped(data_dir: Path) -> None:
    path = data_dir / "bom" / "kicost_test3_cost_sheet_merged_headers.xlsx"
    cached_zero = read(path)
    assert {p.message for p in cached_zero.problems if p.column == "Qty"} == {
        "the quantity must be positive, not 0"
    }

    counted = read(path, mapping={"qty": None})

    assert "qty" not in counted.mapping
    c4 = next(line for line in counted.lines if line.part_number == "LMK105BJ104KV-F")
    assert c4.qty == 6  # C4,C14,C15,C26,C27,C29
    assert all(p.message == "the part number is empty" for p in counted.problems)


def test_glasgow_dnp_rows_are_skipped_with_a_warning(data_dir: Path) -> None:
    result = read(data_dir / "bom" / "glasgow_revC3_kicad_bom.csv")

    dnp = [p for p in result.problems if p.column == "DNP"]
    assert [p.row for p in dnp] == [20, 24, 35, 41]
    big = next(line for line in result.lines if line.qty == 73)
    assert len(big.refdes) == 73
    assert any(line.part_number == "CAT24M01YI\u2212GT3" for line in result.lines)


def test_multisheet_sheet_choice(data_dir: Path) -> None:
    path = data_dir / "bom" / "muonpi_cdu-lite_bom_multisheet.xlsx"

    final = read(path, sheet="cdu-lite final assembly")
    extra = read(path, sheet="Aditional components")
    with pytest.raises(SpreadsheetError) as missing:
        read(path, sheet="Sheet9")

    assert final.sheets == [
        "cdu-lite Notes",
        "cdu-lite Parts Placed by JLC",
        "cdu-lite final assembly",
        "Aditional components",
    ]
    assert named_mapping(final)["part_number"] == "Value"
    assert any("does not look like a reference designator" in p.message for p in final.problems)
    assert any("a heading or note" in p.message for p in final.problems)
    assert extra.lines == []
    assert "no part-number column" in extra.problems[0].message
    assert missing.value.code == "sheet_not_found"
    assert missing.value.details["sheets"] == final.sheets


def test_header_row_and_mapping_overrides(data_dir: Path) -> None:
    path = data_dir / "bom" / "openremise_s3main_bom_titleblock.xlsx"

    chosen = read(path, header_row=6, mapping={"part_number": "Description / Value"})
    by_letter = read(path, mapping={"part_number": "F", "notes": None})
    wrong_row = read(path, header_row=2)
    unknown = read(path, mapping={"colour": "A"})
    missing = read(path, mapping={"part_number": "Price"})

    assert chosen.header_row == 6
    assert named_mapping(chosen)["part_number"] == "Description / Value"
    assert named_mapping(by_letter)["part_number"] == "Description / Value"
    assert "notes" not in by_letter.mapping
    assert wrong_row.lines == []
    assert wrong_row.error_count >= 1
    assert unknown.problems[0].column == "colour"
    assert missing.problems[0].message == "no column 'Price' in the header row"


# --- every format, and where the data starts ----------------------------------------------

ROWS = [
    ["KOSH test BOM"],
    [],
    ["", "", ""],
    HEADER,
    ["R1 R2", 2, "RES-10K", "Resistor 10k"],
    ["C1", 1, "CAP-100N", "Capacitor 100n"],
]


@pytest.mark.parametrize("maker", ["xlsx", "xls", "ods", "csv"])
def test_every_format_reads_the_same(tmp_path: Path, maker: str) -> None:
    make = {"xlsx": files.xlsx, "xls": files.xls, "ods": files.ods, "csv": files.csv_file}[maker]
    # The name lies on purpose: the type comes from the content.
    path = make(tmp_path / "upload.bin", ROWS)

    result = read(path)

    assert result.kind == maker
    assert result.header_row == 4
    assert [(line.part_number, line.qty, line.refdes) for line in result.lines] == [
        ("RES-10K", 2, ["R1", "R2"]),
        ("CAP-100N", 1, ["C1"]),
    ]
    assert [line.row for line in result.lines] == [5, 6]


def test_xlsm_is_recognised(tmp_path: Path) -> None:
    path = files.xlsx(tmp_path / "book.xlsx", [HEADER, ["R1", 1, "P1", ""]])
    import zipfile

    macro = tmp_path / "book.xlsm"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(macro, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml", 1)
            target.writestr(item, data)

    assert check_file(macro, LIMITS).kind is FileKind.XLSM


@pytest.mark.parametrize("maker", ["xlsx", "xls"])
def test_data_starting_off_a1_keeps_row_numbers_and_letters(tmp_path: Path, maker: str) -> None:
    def build(sheet):  # type: ignore[no-untyped-def]
        sheet["C3"], sheet["D3"], sheet["E3"] = "Ref", "Qty", "PN"
        sheet["C4"], sheet["D4"], sheet["E4"] = "R1", 1, "P-1"

    if maker == "xlsx":
        path = files.xlsx_with(tmp_path / "off.xlsx", build)
    else:
        path = files.xls(
            tmp_path / "off.xls", [[], [], ["", "", "Ref", "Qty", "PN"], ["", "", "R1", 1, "P-1"]]
        )

    result = read(path, mapping={"part_number": "E"})

    assert result.header_row == 3
    assert result.lines[0].row == 4
    assert result.columns()[0]["letter"] == "C"


def test_merged_cells_fill_down_and_formulas_without_cache(tmp_path: Path) -> None:
    def build(sheet):  # type: ignore[no-untyped-def]
        sheet.append(["BOM title"])
        sheet.merge_cells("A1:D1")
        sheet.append(HEADER)
        sheet.append(["R1", 1, "RES-1", "merged description"])
        sheet.append(["R2", 1, "RES-2", None])
        sheet.merge_cells("D3:D4")
        sheet.append(["C1 C2", "=1+1", "CAP-1", "formula qty, no cached value"])

    result = read(files.xlsx_with(tmp_path / "merged.xlsx", build))

    assert result.header_row == 2
    assert [line.description for line in result.lines[:2]] == ["merged description"] * 2
    cap = result.lines[2]
    assert cap.qty == 2  # counted from the designators, with a warning
    assert any(p.row == 5 and "counted 2 designators" in p.message for p in result.problems)


def test_wrong_types_are_reported_per_row(tmp_path: Path) -> None:
    rows = [
        HEADER,
        ["R1", "abc", "P-1", ""],
        ["R2", dt.date(2024, 1, 5), "P-2", ""],
        ["R3", True, "P-3", ""],
        ["R4", -3, "P-4", ""],
        ["R5", 0, "P-5", ""],
        ["R6", 2.5, "P-6", ""],
        ["R7", "1,5", "P-7", ""],
        ["R8", 10**10, "P-8", ""],
        ["R9", " 1 ", 12345.0, ""],
        ["R10", "", "P-10", ""],
        ["", "", "", "just a note"],
        ["R11", 1, "x" * 65, ""],
        ["R12", 1, "ANY", ""],
    ]

    result = read(files.xlsx(tmp_path / "types.xlsx", rows))

    errors = {p.row: p.message for p in result.problems if p.severity == "error"}
    assert errors == {
        2: "'abc' in the quantity column is not a number",
        3: "a date or time (2024-01-05) is not a quantity",
        4: "'TRUE' is not a quantity",
        5: "the quantity must be positive, not -3",
        6: "the quantity must be positive, not 0",
        7: errors[7],
        8: errors[8],
        9: "the quantity 10,000,000,000 is larger than 1,000,000,000",
        13: "the part number is longer than 64 characters",
        14: "'ANY' is a placeholder, not a part number",
    }
    assert "2.5 is not a whole number" in errors[7]
    assert "1,5 is not a whole number" in errors[8]
    assert [(line.part_number, line.qty) for line in result.lines] == [("12345", 1), ("P-10", 1)]
    assert result.rows_skipped == 1  # the note row


def test_duplicates_merge_or_flag(tmp_path: Path) -> None:
    path = files.csv_file(
        tmp_path / "dup.csv",
        [HEADER, ["R1", 1, "P-1", ""], ["R2", 1, "P-2", ""], ["R3 R1", 2, "P-1", ""]],
    )

    merged = read(path)
    flagged = read(path, duplicates="flag")

    assert [(line.part_number, line.qty) for line in merged.lines] == [("P-1", 3), ("P-2", 1)]
    assert merged.lines[0].refdes == ["R1", "R3", "R1"]
    assert any("designator R1 is also on row 2" in p.message for p in merged.problems)
    assert flagged.error_count == 1
    assert "duplicate line" in next(p.message for p in flagged.problems if p.severity == "error")


def test_designator_count_differs_from_quantity_is_a_warning(tmp_path: Path) -> None:
    path = files.csv_file(tmp_path / "count.csv", [HEADER, ["R1-R4", 3, "P-1", ""]])

    result = read(path)

    assert result.lines[0].qty == 3
    assert result.lines[0].refdes == ["R1", "R2", "R3", "R4"]
    assert result.problems[0].message == "4 designators for quantity 3"
    assert result.problems[0].severity == "warning"


# --- CSV encodings and delimiters ---------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "delimiter", "expected"),
    [
        ("utf-8", ",", "utf-8"),
        ("utf-8-sig", ";", "utf-8-sig"),
        ("cp1252", ";", "cp1252"),
        ("utf-16", "\t", "utf-16"),
        ("utf-8", "|", "utf-8"),
    ],
)
def test_csv_encoding_and_delimiter(
    tmp_path: Path, encoding: str, delimiter: str, expected: str
) -> None:
    rows = [
        ["Stückliste Regler ÄÖÜ"],
        HEADER,
        ["C1, C2", 2, "KONDENSATOR-µF", "Kondensator 4,7 µF"],
        ["R1", 1, "WIDERSTAND-Ω" if encoding != "cp1252" else "WIDERSTAND-O", "Widerstand"],
    ]
    path = files.csv_file(tmp_path / "bom.txt", rows, encoding=encoding, delimiter=delimiter)

    result = read(path)

    assert (result.encoding, result.delimiter) == (expected, delimiter)
    assert result.header_row == 2
    assert result.lines[0].part_number == "KONDENSATOR-µF"
    assert result.lines[0].refdes == ["C1", "C2"]
    assert result.lines[0].description == "Kondensator 4,7 µF"


def test_unicode_part_numbers_survive(tmp_path: Path) -> None:
    rows = [HEADER, ["U1", 1, "CAT24M01YI\u2212GT3", "EEPROM"], ["D1", 1, "LED-😀", "Émoji LED"]]

    result = read(files.xlsx(tmp_path / "u.xlsx", rows))

    assert [line.part_number for line in result.lines] == ["CAT24M01YI\u2212GT3", "LED-😀"]
    assert result.lines[1].description == "Émoji LED"


# --- hostile files --------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    assert refused(path) == "empty_file"


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = files.csv_file(tmp_path / "big.csv", [HEADER] + [["R1", 1, "P", ""]] * 100)
    limits = FileLimits(max_bytes=100, max_uncompressed_bytes=1 << 20, max_ratio=200)

    with pytest.raises(FileTooLargeError) as caught:
        check_file(path, limits)

    assert caught.value.status == 413


def test_corrupt_zip(tmp_path: Path) -> None:
    real = files.xlsx(tmp_path / "real.xlsx", [HEADER, ["R1", 1, "P", ""]])
    assert refused(files.corrupt_xlsx(tmp_path / "cut.xlsx", real)) == "corrupt_file"


def test_zip_without_directory_tail_garbage(tmp_path: Path) -> None:
    path = tmp_path / "junk.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(random.Random(4).randrange(256) for _ in range(5000)))
    assert refused(path) == "corrupt_file"


def test_encrypted_xlsx_and_ods(tmp_path: Path) -> None:
    assert refused(files.encrypted_xlsx(tmp_path / "enc.xlsx", [HEADER])) == "encrypted_file"
    assert refused(files.ods(tmp_path / "enc.ods", [HEADER], encrypted=True)) == "encrypted_file"


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    assert refused(files.zip_bomb(tmp_path / "bomb.xlsx")) == "zip_bomb"


def test_zip_bomb_by_declared_total(tmp_path: Path) -> None:
    limits = FileLimits(max_bytes=25 << 20, max_uncompressed_bytes=8 << 20, max_ratio=100_000)
    assert refused(files.zip_bomb(tmp_path / "bomb.xlsx", member_bytes=16 << 20), limits) == (
        "expands_too_large"
    )


def test_zip_whose_directory_lies_about_sizes(tmp_path: Path) -> None:
    assert refused(files.lying_zip(tmp_path / "lie.xlsx")) == "corrupt_file"


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\x00\x01\x02\x03\x04\x05" * 100,
        b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">',
        b"<html><body><table><tr><td>Ref</td></tr></table></body></html>",
    ],
)
def test_not_a_spreadsheet(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bom.xlsx"
    path.write_bytes(content)
    assert refused(path) == "unsupported_file_type"


def test_word_document_in_a_zip(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "bom.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")

    with pytest.raises(SpreadsheetError) as caught:
        check_file(path, LIMITS)

    assert "Word document" in caught.value.message


def test_csv_with_nul_after_the_sniffed_head(tmp_path: Path) -> None:
    text = "Reference,Qty,Part Number\n" + "R1,1,P-1\n" * 10_000 + "R2,1,P\x00-2\n"
    path = tmp_path / "nul.csv"
    path.write_text(text)

    result = read(path)

    assert [line.part_number for line in result.lines] == ["P-1", "P-2"]  # control bytes dropped


def test_csv_field_larger_than_the_csv_limit(tmp_path: Path) -> None:
    path = tmp_path / "field.csv"
    path.write_text('Reference,Qty,Part Number\nR1,1,"' + "x" * 200_000 + '"\n')
    assert refused(path) == "corrupt_file"


def test_too_many_rows(tmp_path: Path) -> None:
    path = files.csv_file(tmp_path / "rows.csv", [HEADER] + [["R1", 1, "P", ""]] * 30)
    with pytest.raises(SpreadsheetError) as caught:
        read(path, max_rows=10)
    assert caught.value.code == "too_many_rows"


def test_no_header_row(tmp_path: Path) -> None:
    path = files.csv_file(tmp_path / "nohead.csv", [["a", "b"], ["1", "2"]])

    result = read(path)

    assert result.header_row is None
    assert "no header row found" in result.problems[0].message


# --- big files stream with bounded memory ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("maker", ["xlsx", "csv"])
def test_100k_rows_stream_with_bounded_memory(tmp_path: Path, maker: str) -> None:
    def rows():  # type: ignore[no-untyped-def]
        yield HEADER
        for n in range(100_000):
            yield [f"R{n + 1}", 1, f"P-{n % 500}", "ungrouped resistor"]

    make = files.xlsx if maker == "xlsx" else files.csv_file
    path = make(tmp_path / f"big.{maker}", rows())

    # The read runs in a child process that reports its own peak RSS before and after, so
    # memory is measured as the operating system sees it (Python objects and the Rust
    # reader alike) without tracemalloc, which slowed this test about tenfold.
    summary = _read_in_child(path)

    assert summary["rows_read"] == 100_000
    assert summary["lines"] == 500
    assert summary["qty"] == 100_000
    assert summary["rows_merged"] == 99_500
    assert summary["problems"] == 1_000
    assert summary["problems_truncated"]
    # Rows are streamed, never all held: 100k rows kept as Python lists of four cells would
    # add ~12 MB. The csv reader grows ~2 MB; calamine holds the xlsx sheet itself (~25 MB
    # measured), so each bound sits below "that plus every row held".
    bound = (32 if maker == "xlsx" else 8) * 1024 * 1024
    assert summary["rss_growth"] < bound, summary


_CHILD = """
import json, resource, sys
from pathlib import Path
from kosh.bom.bomfile import ReadOptions, read_bom
from kosh.bom.filetype import check_file
from tests.bom.test_spreadsheet import LIMITS

def peak():  # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

checked = check_file(Path(sys.argv[1]), LIMITS)
before = peak()
result = read_bom(checked, ReadOptions(max_problems=1_000), max_rows=250_000)
after = peak()
print(json.dumps({
    "rows_read": result.rows_read,
    "lines": len(result.lines),
    "qty": sum(line.qty for line in result.lines),
    "rows_merged": result.rows_merged,
    "problems": len(result.problems),
    "problems_truncated": result.problems_truncated,
    "rss_growth": after - before,
    "rss_peak": after,
}))
"""


def _read_in_child(path: Path) -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


# --- small pieces -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names", "odd", "error"),
    [
        ("C1 C2,C3; C4 ", ["C1", "C2", "C3", "C4"], [], None),
        ("R1-R4", ["R1", "R2", "R3", "R4"], [], None),
        ("R7-9", ["R7", "R8", "R9"], [], None),
        ("R1..R3", ["R1", "R2", "R3"], [], None),
        ("R4-R1", [], [], "the range R4-R1 runs backwards"),
        ("R1-R99999999", [], [], "the range R1-R99999999 names more than 10,000 designators"),
        ("to J310", ["to", "J310"], ["to"], None),
        ("U$1 LED401 MK1", ["U$1", "LED401", "MK1"], [], None),
        ("", [], [], None),
    ],
)
def test_designators(text: str, names: list[str], odd: list[str], error: str | None) -> None:
    parsed = parse_designators(text)
    assert (parsed.names, parsed.odd, parsed.error) == (names, odd, error)


@pytest.mark.parametrize(
    ("cell", "value"),
    [(4, 4), (4.0, 4), ("15", 15), (" 3 ", 3), ("+2", 2), ("7.00", 7), ("", None), (None, None)],
)
def test_quantities_accepted(cell: object, value: int | None) -> None:
    parsed = parse_quantity(cell)  # type: ignore[arg-type]
    assert (parsed.value, parsed.error) == (value, None)


@pytest.mark.parametrize(
    "cell", ["12abc", "1e3", 0.5, "0,5", -1, "-1", 0, False, float("nan"), 10**12, "½"]
)
def test_quantities_refused(cell: object) -> None:
    parsed = parse_quantity(cell)  # type: ignore[arg-type]
    assert parsed.value is None
    assert parsed.error


def outcome(path: Path) -> int:
    """200 for a readable result, else the refusal's status (which must be a 4xx)."""
    try:
        read(path)
    except (SpreadsheetError, FileTooLargeError) as exc:
        return exc.status
    return 200


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(content=st.binary(min_size=0, max_size=4096))
def test_any_bytes_read_or_refused_cleanly(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz.xlsx"
    path.write_bytes(content)
    status = outcome(path)
    assert status == 200 or 400 <= status < 500


@FUZZ
@given(content=st.binary(min_size=30, max_size=3000), cut=st.integers(0, 100))
def test_damaged_xlsx_read_or_refused_cleanly(tmp_path: Path, content: bytes, cut: int) -> None:
    source = files.xlsx(tmp_path / "src.xlsx", [HEADER, ["R1", 1, "P-1", "x"]])
    data = bytearray(source.read_bytes())
    start = len(data) * cut // 100
    data[start : start + len(content)] = content
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(bytes(data))
    status = outcome(path)
    assert status == 200 or 400 <= status < 500
