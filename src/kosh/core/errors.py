"""One exception hierarchy, rendered as problem+json (RFC 9457) or as a readable page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from kosh.core import messages
from kosh.core.metrics import DATABASE_BUSY
from kosh.core.request_context import current_request_id

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """A condition the caller can understand and act on; never a bug."""

    status = 400
    title = "Bad request"
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}
        self.errors = list(errors or [])
        self.headers = headers or {}


class ValidationError(DomainError):
    status, title, code = 422, "Invalid input", "validation_error"


class AuthenticationError(DomainError):
    status, title, code = 401, "Authentication required", "authentication_required"


class PermissionDeniedError(DomainError):
    status, title, code = 403, "Forbidden", "forbidden"


class NotFoundError(DomainError):
    status, title, code = 404, "Not found", "not_found"


class ConflictError(DomainError):
    status, title, code = 409, "Conflict", "conflict"


class RuleViolationError(DomainError):
    status, title, code = 422, "Business rule violated", "rule_violation"


class PayloadTooLargeError(DomainError):
    status, title, code = 413, "Payload too large", "payload_too_large"


class RateLimitedError(DomainError):
    status, title, code = 429, "Too many requests", "rate_limited"


class UnavailableError(DomainError):
    status, title, code = 503, "Service unavailable", "unavailable"


def field_error(loc: Sequence[str | int], msg: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg}


def problem_body(
    *,
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: Sequence[dict[str, Any]] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:kosh:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": current_request_id(),
    }
    if errors:
        body["errors"] = list(errors)
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return body


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        body, status_code=int(body["status"]), headers=headers, media_type=PROBLEM_JSON
    )


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/health", "/metrics")):
        return False
    return "text/html" in request.headers.get("accept", "")


ErrorPageRenderer = Callable[[Request, dict[str, Any]], Response]


def install_error_handlers(app: FastAPI, render_page: ErrorPageRenderer | None = None) -> None:
    def answer(
        request: Request, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        if render_page is not None and wants_html(request):
            response = render_page(request, body)
            for key, value in (headers or {}).items():
                response.headers[key] = value
            return response
        return problem_response(body, headers)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        body = problem_body(
            status=exc.status,
            title=exc.title,
            detail=exc.message,
            code=exc.code,
            errors=exc.errors,
            extra=exc.details,
        )
        return answer(request, body, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [_clean_error(e) for e in exc.errors()]
        if _only_bad_path_ids(exc.errors()):
            # An id no row can have (0, negative, above 2**31 - 1) names nothing: 404, as
            # for an id that does not exist, never a database error.
            body = problem_body(
                status=404,
                title="Not found",
                detail="There is nothing at this address.",
                code="not_found",
            )
            return answer(request, body)
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        body = problem_body(
            status=400 if malformed else 422,
            title="Malformed request body" if malformed else "Invalid input",
            detail="The body is not valid JSON."
            if malformed
            else "Some fields are missing or invalid; see errors.",
            code="malformed_body" if malformed else "validation_error",
            errors=errors,
        )
        return answer(request, body)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {
            404: "Not found",
            405: "Method not allowed",
            413: "Payload too large",
            415: "Unsupported media type",
        }
        code = {
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            415: "unsupported_media_type",
        }.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else "Request refused."
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is nothing at this address."
        body = problem_body(
            status=exc.status_code,
            title=titles.get(exc.status_code, "Request refused"),
            detail=detail,
            code=code,
        )
        return answer(request, body, dict(exc.headers or {}))

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        # A row lock not granted within KOSH_DB_LOCK_TIMEOUT_MS (many clients on one hot
        # row), or SQLite still locked after the retries: nothing was applied, so the
        # client may send the same request (and Idempotency-Key) again.
        if not is_database_busy(exc):
            return await _unexpected(request, exc)
        log.warning("database_busy", path=request.url.path, error_type=type(exc.orig).__name__)
        DATABASE_BUSY.inc()
        body = problem_body(
            status=503,
            title="Service unavailable",
            detail="The stock you asked for is busy with other requests; nothing was changed. "
            "Send the same request again in a moment.",
            code="database_busy",
        )
        return answer(request, body, {"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
        body = problem_body(
            status=500,
            title="Internal error",
            detail="Something went wrong on our side. Quote the request id when reporting it.",
            code="internal_error",
        )
        return answer(request, body)


# lock_not_available (lock_timeout), query_canceled (statement_timeout)
_BUSY_SQLSTATES = frozenset({"55P03", "57014"})


def is_database_busy(exc: DBAPIError) -> bool:
    """True when a statement gave up waiting for a lock: the transaction rolled back whole."""
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        if getattr(candidate, "sqlstate", None) in _BUSY_SQLSTATES:
            return True
    return "database is locked" in str(orig)


_RANGE_ERRORS = frozenset({"greater_than_equal", "less_than_equal", "int_parsing"})


def _only_bad_path_ids(errors: Any) -> bool:
    return bool(errors) and all(
        e.get("loc", ("",))[0] == "path"
        and str(e.get("loc", ("", ""))[-1]).endswith("_id")
        and e.get("type") in _RANGE_ERRORS
        for e in errors
    )


def _clean_error(error: Any) -> dict[str, Any]:
    """Field errors without pydantic's echo of the input (it may be huge or hostile), in
    the words of the message catalogue (never a regex or pydantic's wording)."""
    loc = [part for part in error.get("loc", ()) if part not in ("body",)]
    return {"loc": loc, "msg": messages.for_error(error), "type": error.get("type")}
