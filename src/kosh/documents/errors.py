"""Document errors: the codes a caller acts on."""

from __future__ import annotations

from kosh.core.errors import ConflictError, DomainError, NotFoundError, field_error


def document_not_found(document_id: int) -> NotFoundError:
    return NotFoundError(f"No document with id {document_id}.", code="document_not_found")


def invalid_status(number: str, status: str, action: str) -> ConflictError:
    return ConflictError(
        f"Document {number} is {status}; it cannot be {action}.",
        code="invalid_status",
        details={"status": status},
    )


def stale_version(number: str, current: int) -> ConflictError:
    return ConflictError(
        f"Document {number} was changed meanwhile; reload and try again.",
        code="stale_version",
        details={"current_version": current},
    )


def on_line(exc: DomainError, line_no: int, number: str) -> DomainError:
    """The same error, naming the document line that caused it (posting refuses a
    document as a whole; the person needs to know which line to fix)."""
    exc.message = f"Line {line_no}: {exc.message}"
    exc.args = (exc.message,)
    exc.details = {**exc.details, "line_no": line_no, "document": number}
    exc.errors = [
        field_error(["lines", line_no, *error.get("loc", [])], str(error.get("msg", "")))
        for error in exc.errors
    ] or [field_error(["lines", line_no], exc.message)]
    return exc


def line_not_found(number: str, line: int) -> NotFoundError:
    return NotFoundError(f"Document {number} has no line {line}.", code="line_not_found")
