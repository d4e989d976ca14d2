"""Spreadsheet files made in the test: every format KOSH reads, and hostile ones."""

from __future__ import annotations

import csv
import io
import struct
import zipfile
from collections.abc import Iterable, Sequence
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
