"""What an uploaded BOM file really is, checked before any parser sees it.

The type comes from the content (magic bytes and the container's directory), never from
the file name: a renamed PDF is refused, a CSV called `.xlsx` is read as CSV. ZIP
containers (xlsx, xlsm, xlsb, ods) are checked for decompression bombs twice: first by
the sizes and ratios their directory declares (cheap, refuses the obvious), then by
inflating every member with a byte budget, so a directory that lies cannot get a
gigabyte of XML past the guard (zipfile stops at the declared size and the CRC check
catches the lie). OLE2 compound files are either legacy xls or an encrypted OOXML
package (`EncryptionInfo` + `EncryptedPackage` streams), which we can only refuse.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import olefile

from kosh.bom import sheetshape
from kosh.bom.errors import FileTooLargeError, SpreadsheetError
from kosh.bom.shape import ShapeLimits

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
HEAD_BYTES = 64 * 1024
_CHUNK = 1 << 20
_RATIO_MIN_MEMBER = 1 << 20  # small members may compress absurdly well (empty sheets)
_BIFF_FILEPASS = 0x002F
_BIFF_EOF = 0x000A

_OTHER_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program"),
    (b"{\\rtf", "an RTF document"),
)


class FileKind(StrEnum):
    XLSX = "xlsx"
    XLSM = "xlsm"
    XLSB = "xlsb"
    XLS = "xls"
    ODS = "ods"
    CSV = "csv"

    @property
    def is_workbook(self) -> bool:
        return self is not FileKind.CSV


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int
    max_uncompressed_bytes: int
    max_ratio: int
    max_members: int = 10_000
    shape: ShapeLimits | None = None  # rows / columns / cells of xlsx sheets (kosh.bom.shape)


@dataclass(frozen=True)
class CheckedFile:
    path: Path
    kind: FileKind
    size: int


def check_file(path: Path, limits: FileLimits) -> CheckedFile:
    """Refuse what must not reach a parser; return the file's real kind.

    Raises FileTooLargeError (413) for size limits and SpreadsheetError (422) with codes
    `empty_file`, `unsupported_file_type`, `corrupt_file`, `encrypted_file`, `zip_bomb`,
    and for xlsx/xlsm sheets of a hostile shape `too_many_columns`, `too_many_rows`,
    `too_many_cells`, `cell_too_long` (kosh.bom.shape, kosh.bom.sheetshape).
    """
    size = path.stat().st_size
    if size == 0:
        raise SpreadsheetError("The file is empty.", code="empty_file")
    if size > limits.max_bytes:
        raise FileTooLargeError(
            f"The file has {size:,} bytes; the limit is {limits.max_bytes:,} bytes."
        )
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if head.startswith(ZIP_MAGIC):
        kind = _check_zip(path, limits)
    elif head.startswith(CFB_MAGIC):
        kind = _check_cfb(path, limits)
    else:
        _refuse_known_binary(head)
        if not looks_like_text(head):
            raise SpreadsheetError(
                "This is not a spreadsheet: upload an .xlsx, .xlsm, .xls, .ods or .csv file.",
                code="unsupported_file_type",
            )
        kind = FileKind.CSV
    return CheckedFile(path=path, kind=kind, size=size)


def _refuse_known_binary(head: bytes) -> None:
    for magic, name in _OTHER_FORMATS:
        if head.startswith(magic):
            raise SpreadsheetError(
                f"This is {name}, not a spreadsheet: upload .xlsx, .xlsm, .xls, .ods or .csv.",
                code="unsupported_file_type",
            )
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<?xml", b"<html", b"<!doctype", b"<table")):
        raise SpreadsheetError(
            "This is an XML or HTML file (e.g. 'XML Spreadsheet 2003' or a web page); "
            "save it as .xlsx or .csv and upload again.",
            code="unsupported_file_type",
        )


def looks_like_text(head: bytes) -> bool:
    """True when the first bytes read as text in a common encoding (no binary control bytes)."""
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head:
        return False
    text = (
        head.decode("utf-8", errors="ignore")
        if _is_utf8(head)
        else head.decode("cp1252", "replace")
    )
    if not text.strip():
        return False
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f\x1a")
    return controls <= len(text) // 100


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sample's end is not an error.
        return exc.start >= len(head) - 3 and len(head) >= HEAD_BYTES - 3
    return True


# --- ZIP containers: xlsx, xlsm, xlsb, ods -----------------------------------------------


def _corrupt(what: str) -> SpreadsheetError:
    return SpreadsheetError(
        f"The file is damaged ({what}); open it in your spreadsheet program, save it again "
        "and upload the new copy.",
        code="corrupt_file",
    )


def _check_zip(path: Path, limits: FileLimits) -> FileKind:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_declared_sizes(infos, limits)
            kind = _zip_kind(archive, {info.filename for info in infos})
            _inflate_all(archive, infos, limits, kind)
    except (SpreadsheetError, FileTooLargeError):
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise _corrupt(f"not a readable ZIP container: {_short(exc)}") from None
    except NotImplementedError:
        raise _corrupt("it uses a compression method KOSH cannot read") from None
    except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
        raise SpreadsheetError(
            "The file is password-protected; save it without a password and upload again.",
            code="encrypted_file",
        ) from exc
    return kind


def _check_declared_sizes(infos: list[zipfile.ZipInfo], limits: FileLimits) -> None:
    if len(infos) > limits.max_members:
        raise SpreadsheetError(
            f"The container holds {len(infos):,} entries; a spreadsheet never needs that many.",
            code="zip_bomb",
        )
    if any(info.flag_bits & 0x1 for info in infos):
        raise SpreadsheetError(
            "The file is password-protected; save it without a password and upload again.",
            code="encrypted_file",
        )
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_uncompressed_bytes:
        raise FileTooLargeError(
            f"The spreadsheet would expand to {declared:,} bytes; the limit is "
            f"{limits.max_uncompressed_bytes:,} bytes.",
            code="expands_too_large",
        )
    for info in infos:
        if info.file_size <= _RATIO_MIN_MEMBER:
            continue
        if info.compress_size == 0 or info.file_size / info.compress_size > limits.max_ratio:
            raise SpreadsheetError(
                f"'{_short_name(info.filename)}' is compressed more than {limits.max_ratio}:1, "
                "which no real spreadsheet is; the file is refused as a possible zip bomb.",
                code="zip_bomb",
            )


def _zip_kind(archive: zipfile.ZipFile, names: set[str]) -> FileKind:
    if "xl/workbook.xml" in names:
        types = (
            _read_capped(archive, "[Content_Types].xml", 1 << 20)
            if ("[Content_Types].xml" in names)
            else b""
        )
        return FileKind.XLSM if b"macroenabled" in types.lower() else FileKind.XLSX
    if "xl/workbook.bin" in names:
        return FileKind.XLSB
    mimetype = _read_capped(archive, "mimetype", 200).strip() if "mimetype" in names else b""
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet") or (
        not mimetype and "content.xml" in names and "META-INF/manifest.xml" in names
    ):
        manifest = (
            _read_capped(archive, "META-INF/manifest.xml", 1 << 20)
            if "META-INF/manifest.xml" in names
            else b""
        )
        if b"encryption-data" in manifest:
            raise SpreadsheetError(
                "The file is password-protected; save it without a password and upload again.",
                code="encrypted_file",
            )
        return FileKind.ODS
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        what = "an OpenDocument file that is not a spreadsheet"
    elif "word/document.xml" in names:
        what = "a Word document"
    elif any(name.startswith("ppt/") for name in names):
        what = "a PowerPoint presentation"
    else:
        what = "a ZIP archive that is not a spreadsheet"
    raise SpreadsheetError(
        f"This is {what}: upload .xlsx, .xlsm, .xls, .ods or .csv.",
        code="unsupported_file_type",
    )


def _read_capped(archive: zipfile.ZipFile, name: str, cap: int) -> bytes:
    with archive.open(name) as member:
        return member.read(cap)


def _inflate_all(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: FileLimits, kind: FileKind
) -> None:
    """Inflate every member with a byte budget; zipfile verifies sizes and CRCs on the way.

    The worksheets and the shared strings of an xlsx/xlsm (the content of an ods) go first
    and are measured on the way (kosh.bom.shape), so a sheet of the wrong shape is refused
    after the chunk that shows it, before the rest of the archive is inflated."""
    budget = limits.max_uncompressed_bytes
    measured = limits.shape is not None and kind in (FileKind.XLSX, FileKind.XLSM, FileKind.ODS)
    scanners = {
        info.filename: sheetshape.scanner_for(info.filename, limits.shape, ods=kind is FileKind.ODS)
        for info in infos
        if measured and limits.shape is not None
    }
    ordered = sorted(infos, key=lambda info: scanners.get(info.filename) is None)
    for info in ordered:
        if info.is_dir():
            continue
        scanner = scanners.get(info.filename)
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                budget -= len(chunk)
                if budget < 0:
                    raise FileTooLargeError(
                        "The spreadsheet expands to more than "
                        f"{limits.max_uncompressed_bytes:,} bytes.",
                        code="expands_too_large",
                    )
                if scanner is not None:
                    scanner.feed(chunk)
        if scanner is not None:
            scanner.close()


# --- OLE2 compound files: xls, or an encrypted OOXML package -------------------------------


def _check_cfb(path: Path, limits: FileLimits) -> FileKind:
    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(entry) for entry in ole.listdir(streams=True, storages=False)}
            if "EncryptionInfo" in streams or "EncryptedPackage" in streams:
                raise SpreadsheetError(
                    "The file is password-protected (encrypted); save it without a password "
                    "and upload again.",
                    code="encrypted_file",
                )
            book = next((name for name in ("Workbook", "Book") if name in streams), None)
            if book is None:
                what = "a Word document" if "WordDocument" in streams else "an Office file"
                raise SpreadsheetError(
                    f"This is {what}, not a spreadsheet: upload .xlsx, .xls, .ods or .csv.",
                    code="unsupported_file_type",
                )
            with ole.openstream(book) as stream:
                workbook = stream.read() if limits.shape is not None else stream.read(256 << 10)
    except SpreadsheetError:
        raise
    except Exception as exc:  # olefile raises many types on hostile input
        raise _corrupt(f"not a readable Office file: {_short(exc)}") from None
    if _biff_has_filepass(workbook[: 256 << 10]):
        raise SpreadsheetError(
            "The workbook is password-protected; save it without a password and upload again.",
            code="encrypted_file",
        )
    if limits.shape is not None:
        sheetshape.scan_biff(workbook, limits.shape)
    return FileKind.XLS


def _biff_has_filepass(data: bytes) -> bool:
    """Scan the workbook-globals records for FILEPASS (the xls encryption marker)."""
    offset = 0
    while offset + 4 <= len(data):
        record, length = struct.unpack_from("<HH", data, offset)
        if record == _BIFF_FILEPASS:
            return True
        if record == _BIFF_EOF:
            return False
        offset += 4 + length
    return False


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _short_name(name: str) -> str:
    return name if len(name) <= 60 else "..." + name[-57:]
