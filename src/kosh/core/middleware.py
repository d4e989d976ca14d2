"""Pure-ASGI middleware at the edge: request context, headers, body limits, timeouts.

Pure ASGI (not BaseHTTPMiddleware) because these wrap every request and must not buffer
streamed responses.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import structlog
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kosh.core.actor import SYSTEM, set_actor
from kosh.core.config import Settings
from kosh.core.error_tracking import report_request_error
from kosh.core.errors import (
    PROBLEM_JSON,
    DomainError,
    ErrorPageRenderer,
    problem_body,
    wants_html,
)
from kosh.core.metrics import HTTP_IN_FLIGHT, HTTP_LATENCY, HTTP_REQUESTS
from kosh.core.request_context import accept_or_make_request_id, set_request
from kosh.core.types import is_digits

log = structlog.get_logger("kosh.http")

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Web-store webhooks: WooCommerce's creation ping is a form body sent without a reliable
# Content-Type and must get a 200; the route checks its own bodies (signature, JSON).
_ANY_BODY_TYPE = ("/api/v1/storefront/woocommerce/",)
_BODY_TYPES = (
    "application/json",
    "application/problem+json",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    code: str,
    headers: dict[str, str] | None = None,
) -> None:
    body = json.dumps(problem_body(status=status, title=title, detail=detail, code=code)).encode()
    raw_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(settings: Settings, path: str) -> list[tuple[bytes, bytes]]:
    # Logging out of a single sign-on session redirects the form's POST to the provider.
    forms = "'self'" + (f" {_origin(settings.oidc_issuer)}" if settings.oidc_issuer else "")
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
        f"base-uri 'self'; form-action {forms}; frame-ancestors 'none'"
    )
    headers = [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(self), geolocation=(), microphone=()"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if settings.is_production:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


class BodyTooLargeError(StarletteHTTPException):
    """Raised from `receive` when a body outgrows its limit. An HTTPException because FastAPI
    re-raises those from body parsing unchanged (anything else becomes a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The body is larger than {limit} bytes.")


class RequestContextMiddleware:
    """Request id, structured access log, metrics, security headers, time limit, last-resort 500.

    Exceptions escaping the routes end here (this wraps FastAPI's own handlers), so the
    answer is a problem+json body, or the error page when a browser asked for a page."""

    def __init__(
        self, app: ASGIApp, settings: Settings, render_page: ErrorPageRenderer | None = None
    ) -> None:
        self.app = app
        self.settings = settings
        self.render_page = render_page

    async def _internal_error(self, scope: Scope, send: Send, started: bool) -> None:
        log.exception("unhandled_error", path=scope["path"])
        report_request_error(scope)
        if not started:
            await self._answer(
                scope,
                send,
                500,
                "Internal error",
                "Something went wrong on our side. Quote the request id when reporting it.",
                "internal_error",
            )

    async def _answer(
        self,
        scope: Scope,
        send: Send,
        status: int,
        title: str,
        detail: str,
        code: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        request = Request(scope)
        if self.render_page is not None and wants_html(request):
            try:
                body = problem_body(status=status, title=title, detail=detail, code=code)
                response = self.render_page(request, body)
                response.headers.update(headers or {})
            except Exception:
                log.exception("error_page_failed")
            else:
                await response(scope, _no_body, send)
                return
        await send_problem(send, status, title, detail, code, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_or_make_request_id(header(scope, b"x-request-id"))
        client = scope.get("client")
        client_ip = client[0] if client else None
        set_request(request_id, client_ip)
        set_actor(SYSTEM)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=request_id, client_ip=client_ip, user=None
        )
        scope.setdefault("state", {})["request_id"] = request_id

        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}
        extra_headers = [(b"x-request-id", request_id.encode())]
        extra_headers += security_headers(self.settings, scope["path"])

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                existing = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra_headers if k not in existing
                ]
            await send(message)

        HTTP_IN_FLIGHT.inc()
        budget = asyncio.timeout(self.settings.request_timeout)
        try:
            async with budget:
                await self.app(scope, receive, send_wrapper)
        except DomainError as exc:
            if not status_holder["started"]:
                await self._answer(
                    scope, send_wrapper, exc.status, exc.title, exc.message, exc.code, exc.headers
                )
        except BodyTooLargeError as exc:
            if not status_holder["started"]:
                await self._answer(
                    scope, send_wrapper, 413, "Payload too large", exc.detail, "payload_too_large"
                )
        except TimeoutError:
            if not budget.expired():
                # a time-out inside the app (a client call, say) is a failure of its own
                await self._internal_error(scope, send_wrapper, bool(status_holder["started"]))
            else:
                log.warning("request_timeout", path=scope["path"])
                if not status_holder["started"]:
                    await self._answer(
                        scope,
                        send_wrapper,
                        503,
                        "Request timed out",
                        "The request took too long and was stopped; try again.",
                        "request_timeout",
                    )
        except Exception:
            await self._internal_error(scope, send_wrapper, bool(status_holder["started"]))
        finally:
            HTTP_IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            status = int(status_holder["status"])
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path)
    return "/static" if scope["path"].startswith("/static/") else "unmatched"


class RequestShapeMiddleware:
    """Refuse oversized bodies (413) and unsupported body types on unsafe API requests (415)."""

    def __init__(
        self, app: ASGIApp, settings: Settings, upload_paths: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.settings = settings
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _UNSAFE:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = (
            self.settings.max_upload_bytes
            if path.startswith(self.upload_paths) and self.upload_paths
            else self.settings.max_body_bytes
        )
        declared = header(scope, b"content-length")
        if declared is not None:
            if not is_digits(declared):
                await send_problem(
                    send,
                    400,
                    "Bad request",
                    "Content-Length is not a number.",
                    "bad_content_length",
                )
                return
            if int(declared) > limit:
                await _too_large(send, limit)
                return
        has_body = (declared is not None and int(declared) > 0) or (
            declared is None and header(scope, b"transfer-encoding") is not None
        )
        if has_body and path.startswith("/api/") and not path.startswith(_ANY_BODY_TYPE):
            content_type = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
            if content_type not in _BODY_TYPES:
                await send_problem(
                    send,
                    415,
                    "Unsupported media type",
                    "Send the body as application/json (or multipart/form-data for files).",
                    "unsupported_media_type",
                )
                return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # A chunked body has no Content-Length to refuse up front.
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, limited_receive, send)


async def _too_large(send: Send, limit: int) -> None:
    await send_problem(
        send,
        413,
        "Payload too large",
        f"The body is larger than {limit} bytes.",
        "payload_too_large",
    )
