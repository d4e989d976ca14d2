"""Optional error tracking through Sentry (`sentry-sdk`), off unless KOSH_SENTRY_DSN is set.

What is sent: the exception with its stack (no local variables), the request's method, route
and path (no query string, no body, an allow-list of headers), the request id, the user's
numeric id (never a name or e-mail), release and environment; from `kosh worker`, the job's
name. Personal data stays off (the SDK's `send_default_pii` is left unset). Before anything
leaves, a scrub replaces the value of any key that names a secret or a personal field, and
any e-mail address or bearer token in a string, by `[Filtered]`. No integrations are
auto-enabled: errors come from KOSH's own last-resort handler (`kosh.core.middleware`) and
the worker's job loops, once each.
"""

from __future__ import annotations

import re
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.atexit import AtexitIntegration
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST
from sentry_sdk.types import Event
from starlette.types import Scope

from kosh import __version__
from kosh.core.actor import current_actor
from kosh.core.config import Settings
from kosh.core.request_context import current_request_id

FILTERED = "[Filtered]"
# Keys (lower case, '-' as '_') whose values never leave: secrets, then personal fields.
SENSITIVE_KEYS = frozenset(
    {key.lower().replace("-", "_") for key in DEFAULT_DENYLIST + DEFAULT_PII_DENYLIST}
    | {
        "access_token",
        "refresh_token",
        "api_token",
        "idempotency_key",
        "x_csrf_token",
        "secret_key",
        "dsn",
        "email",
        "e_mail",
        "phone",
        "mobile",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "username",
        "company",
        "address",
        "address_1",
        "address_2",
        "street",
        "city",
        "postcode",
        "zip",
        "billing",
        "shipping",
        "customer_note",
        "note",
        "badge",
        "client_ip",
        "ip",
    }
)
KEPT_HEADERS = frozenset({"accept", "content-type", "content-length", "user-agent"})
# Parts of an event that carry no user data and that Sentry needs as they are.
UNTOUCHED = frozenset({"sdk", "platform", "timestamp", "level", "event_id", "release"})
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]+")


def release() -> str:
    return f"kosh@{__version__}"


def init_error_tracking(settings: Settings) -> bool:
    """Start the SDK when a DSN is configured; True when it runs."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        release=settings.sentry_release or release(),
        environment=settings.sentry_environment or settings.env,
        include_local_variables=False,
        max_request_body_size="never",
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[AtexitIntegration(), DedupeIntegration()],
        before_send=scrub_event,
        before_breadcrumb=lambda crumb, hint: None,  # breadcrumbs would carry log lines
        traces_sample_rate=None,
    )
    return True


def report_request_error(scope: Scope) -> None:
    """Send the exception being handled, with the request's context, if tracking is on."""
    if not sentry_sdk.get_client().is_active():
        return
    actor = current_actor()
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    headers = {
        key.decode("latin-1"): value.decode("latin-1")
        for key, value in scope.get("headers", ())
        if key.decode("latin-1").lower() in KEPT_HEADERS
    }
    request = {"method": scope.get("method"), "url": scope.get("path"), "headers": headers}

    def add_request(event: Event, hint: dict[str, Any]) -> Event:
        event["request"] = request
        return event

    with sentry_sdk.new_scope() as error_scope:
        error_scope.set_tag("request_id", current_request_id())
        error_scope.set_tag("route", route)
        error_scope.set_tag("actor_kind", actor.kind)
        if actor.kind != "system" and actor.id is not None:
            error_scope.set_user({"id": str(actor.id)})
        error_scope.set_transaction_name(f"{scope.get('method')} {route}")
        error_scope.add_event_processor(add_request)
        sentry_sdk.capture_exception()


def report_job_error(job: str) -> None:
    """Send the exception being handled in a background job of `kosh worker`, if tracking is
    on (the worker goes on with its next job)."""
    if not sentry_sdk.get_client().is_active():
        return
    with sentry_sdk.new_scope() as error_scope:
        error_scope.set_tag("job", job)
        error_scope.set_tag("actor_kind", current_actor().kind)
        error_scope.set_transaction_name(f"worker {job}")
        sentry_sdk.capture_exception()


def scrub_event(event: Any, hint: Any) -> Any:
    """`before_send`: filter sensitive keys and scrub strings everywhere users' data can be."""
    for key, value in list(event.items()):
        if key not in UNTOUCHED:
            event[key] = _scrub(value, key)
    return event


def _scrub(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower().replace("-", "_") in SENSITIVE_KEYS:
        return FILTERED
    if isinstance(value, dict):
        return {k: _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return _BEARER.sub(r"\1 " + FILTERED, _EMAIL.sub(FILTERED, value))
    return value
