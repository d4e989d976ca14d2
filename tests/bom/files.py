"""Spreadsheet files made in the test: every format KOSH reads, and hostile ones."""

from __future__ import annotations

import csv
import io
import struct
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import openpyxl
import xlwt

Rows = Iterable[Sequence[Any]]


def xlsx(path: Path, rows: Rows, *, sheet: str = "BOM", extra_sheets: Sequence[str] = ()) -> Path:
    book = openpyxl.Workbook(write_only=True)
    for name in extra_sheets:
        book.create_sheet(name)
    target = book.create_sheet(sheet)
    for row in rows:
        target.append(list(row))
    book.save(path)
    return path


def xlsx_with(path: Path, build: Any) -> Path:
    """A normal (not write-only) workbook changed by `build(sheet)`: merges, formulas."""
    book = openpyxl.Workbook()
    build(book.active)
    book.save(path)
    return path


def xls(path: Path, rows: Rows, *, sheet: str = "BOM") -> Path:
    book = xlwt.Workbook()
    target = book.add_sheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                target.write(r, c, value)
    book.save(str(path))
    return path


def ods(path: Path, rows: Rows, *, sheet: str = "BOM", encrypted: bool = False) -> Path:
    def cell(value: Any) -> str:
        if value is None or value == "":
            return "<table:table-cell/>"
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (
                f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        return (
            '<table:table-cell office:value-type="string">'
            f"<text:p>{escape(str(value))}</text:p></table:table-cell>"
        )

    body = "".join(
        "<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{escape(sheet)}">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    encryption = '<manifest:encryption-data manifest:checksum-type="SHA1"/>' if encrypted else ""
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        f"{encryption}</manifest:file-entry></manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"),
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return path


def csv_file(
    path: Path,
    rows: Rows,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    newline: str = "\r\n",
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def encrypted_xlsx(path: Path, rows: Rows, password: str = "secret") -> Path:  # noqa: S107
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = io.BytesIO()
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(list(row))
    book.save(plain)
    plain.seek(0)
    with path.open("wb") as out:
        OOXMLFile(plain).encrypt(password, out)
    return path


def zip_bomb(path: Path, *, member_bytes: int = 64 << 20) -> Path:
    """An honest directory declaring one hugely compressed worksheet."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            chunk = b" " * (1 << 20)
            for _ in range(member_bytes >> 20):
                member.write(chunk)
    return path


def lying_zip(path: Path, *, real_bytes: int = 8 << 20, declared: int = 4096) -> Path:
    """A worksheet whose directory claims `declared` bytes but inflates to `real_bytes`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<x/>" * (real_bytes // 4))
    data = bytearray(path.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    # Patch the uncompressed size in the member's local header and its directory entry.
    offset = 0
    while (offset := data.find(b"PK\x03\x04", offset)) != -1:
        length = struct.unpack_from("<H", data, offset + 26)[0]
        if data[offset + 30 : offset + 30 + length] == name:
            struct.pack_into("<I", data, offset + 22, declared)
        offset += 4
    offset = 0
    while (offset := data.find(b"PK\x01\x02", offset)) != -1:
        length = struct.unpack_from("<H", data, offset + 28)[0]
        if data[offset + 46 : offset + 46 + length] == name:
            struct.pack_into("<I", data, offset + 24, declared)
        offset += 4
    path.write_bytes(bytes(data))
    return path


def corrupt_xlsx(path: Path, source: Path) -> Path:
    """A real xlsx cut in half: the ZIP directory at the end is gone."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


# --- hostile shapes (issue 8.5): each must be refused fast and without memory -------------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
    'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    'worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://'
    'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
    '" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://'
    'schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="BOM" '
    'sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://'
    'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
    'http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="'
    'worksheets/sheet1.xml"/></Relationships>'
)


def raw_xlsx(path: Path, sheet_data: Iterable[bytes], *, root: bytes = b"worksheet") -> Path:
    """An xlsx whose one worksheet's <sheetData> is written from raw XML chunks."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            member.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<'
                + root
                + b' xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
                + (
                    b' xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    if b":" in root
                    else b">"
                )
                + b"<sheetData>"
            )
            for chunk in sheet_data:
                member.write(chunk)
            member.write(b"</sheetData></" + root + b">")
    return path


def sparse_xlsx(path: Path, *cells: str) -> Path:
    """A tiny xlsx with a value in each named cell (A1, XFD1048576: a 512 GiB rectangle)."""
    rows: dict[int, list[str]] = {}
    for ref in cells:
        number = int("".join(ch for ch in ref if ch.isdigit()))
        rows.setdefault(number, []).append(ref)
    xml = "".join(
        f'<row r="{number}">' + "".join(f'<c r="{ref}"><v>1</v></c>' for ref in refs) + "</row>"
        for number, refs in sorted(rows.items())
    )
    return raw_xlsx(path, [xml.encode()])


def dense_xlsx(path: Path, *, columns: int, uncompressed: int, seed: int = 1) -> Path:
    """A worksheet of `columns` positional cells a row up to `uncompressed` bytes of XML,
    just random enough to stay under the 200:1 compression-ratio guard (16,384 columns and
    240 MiB make the issue's hostile xlsx, about 1.4 MB on disk)."""
    import random

    rnd = random.Random(seed)
    plain = b"<c><v>7</v></c>" * 39

    def rows() -> Iterator[bytes]:
        size, number = 0, 0
        while size < uncompressed:
            number += 1
            parts = [f'<row r="{number}">'.encode()]
            for _ in range(columns // 40):
                parts += [plain, b"<c><v>%d</v></c>" % rnd.randrange(10)]
            parts += [b"<c><v>7</v></c>" * (columns % 40), b"</row>"]
            row = b"".join(parts)
            size += len(row)
            yield row

    return raw_xlsx(path, rows())


def wide_csv(path: Path, *, columns: int = 1_000_000) -> Path:
    """A CSV whose header and one data row have `columns` fields (13.9 MB at 1M columns)."""
    header = "Part Number,Qty," + ",".join(f"Column {n:07d}" for n in range(columns - 2))
    data = "R-1,1," + ",".join("x" for _ in range(columns - 2))
    path.write_text(header + "\r\n" + data + "\r\n", encoding="utf-8")
    return path


def ods_raw(path: Path, table: str) -> Path:
    """An ods whose one sheet is the given table XML (rows, repeats and all)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet"
        )
        archive.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:'
            'oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:'
            'full-path="/" manifest:media-type="application/vnd.oasis.opendocument.'
            'spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:'
            'media-type="text/xml"/></manifest:manifest>',
        )
        archive.writestr(
            "content.xml",
            '<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:'
            'oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:'
            'opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:'
            'text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table '
            f'table:name="BOM">{table}</table:table></office:spreadsheet></office:body>'
            "</office:document-content>",
        )
    return path
