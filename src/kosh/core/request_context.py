"""Per-request facts (request id, client IP, actor) that logs, audit and errors need."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("kosh_request_id", default=None)
_client_ip: ContextVar[str | None] = ContextVar("kosh_client_ip", default=None)

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def accept_or_make_request_id(incoming: str | None) -> str:
    """Keep a caller's X-Request-ID when it is sane (so traces join up), else make one."""
    if incoming and _SANE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def set_request(request_id: str, client_ip: str | None) -> None:
    _request_id.set(request_id)
    _client_ip.set(client_ip)


def current_request_id() -> str | None:
    return _request_id.get()


def current_client_ip() -> str | None:
    return _client_ip.get()
