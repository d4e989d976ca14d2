"""Errors of the BOM feature: unreadable files and import rules, as problem+json."""

from __future__ import annotations

from typing import Any

from kosh.core.errors import DomainError, PayloadTooLargeError


class SpreadsheetError(DomainError):
    """The uploaded file cannot be read as a BOM spreadsheet (the caller can fix the file)."""

    status, title, code = 422, "Unreadable spreadsheet", "unreadable_spreadsheet"

    def __init__(self, message: str, *, code: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=code, details=details)


class FileTooLargeError(PayloadTooLargeError):
    """The upload (or what it would expand to) exceeds a configured limit."""

    def __init__(self, message: str, *, code: str = "file_too_large") -> None:
        super().__init__(message, code=code)
