"""Sentry error tracking: a real SDK sending real envelopes to a local HTTP server."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi import Request
from pydantic import SecretStr

from kosh import __version__
from kosh.app import create_app
from kosh.core.actor import Actor, set_actor
from kosh.core.config import Settings
from kosh.core.error_tracking import (
    FILTERED,
    init_error_tracking,
    release,
    report_job_error,
    scrub_event,
)

PASSWORD = "correct-horse-battery-staple"
TOKEN = "kosh_tok_9f8e7d6c5b4a39281706"
EMAIL = "jane.doe@customer.example"
COOKIE = "kosh_session=sess-abcdef0123456789"
REQUEST_ID = "req-sentry-test-0001"


class Envelopes:
    """A stand-in for Sentry's ingest: keeps every envelope POSTed to /api/<project>/envelope/."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.paths: list[str] = []
        self.encodings: list[str] = []
        self.lock = threading.Lock()

    def events(self) -> list[dict[str, Any]]:
        found = []
        with self.lock:
            bodies = list(self.raw)
        for body in bodies:
            lines = body.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found


@pytest.fixture
def envelopes() -> Iterator[tuple[Envelopes, str]]:
    received = Envelopes()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            encoding = self.headers.get("content-encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            with received.lock:
                received.raw.append(body)
                received.paths.append(self.path)
                received.encodings.append(encoding)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    dsn = f"http://publickey@127.0.0.1:{server.server_port}/42"
    try:
        yield received, dsn
    finally:
        client = sentry_sdk.get_client()
        client.close(timeout=2)
        sentry_sdk.get_global_scope().set_client(None)
        server.shutdown()
        server.server_close()


def _wait_for_events(received: Envelopes, timeout: float = 5.0) -> list[dict[str, Any]]:
    sentry_sdk.flush(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = received.events()
        if events:
            return events
        time.sleep(0.05)
    return received.events()


async def test_unhandled_error_arrives_with_context_and_without_secrets_or_pii(
    settings: Settings, envelopes: tuple[Envelopes, str]
) -> None:
    # given KOSH with a DSN pointing at the local ingest server, and a route that fails
    received, dsn = envelopes
    configured = settings.model_copy(
        update={
            "sentry_dsn": SecretStr(dsn),
            "sentry_environment": "staging-test",
            "sentry_release": "kosh@test-release",
        }
    )
    app = create_app(configured)

    async def explode(request: Request) -> None:
        payload = await request.json()
        set_actor(Actor(kind="user", id=42, name="jane"))
        raise RuntimeError(f"could not send the confirmation to {payload['email']}")

    app.add_api_route("/sentry-test/explode", explode, methods=["POST"])

    # when a request carrying a password, a token, a cookie and an e-mail fails
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.post(
                f"/sentry-test/explode?token={TOKEN}",
                json={"username": "jane", "password": PASSWORD, "email": EMAIL},
                headers={
                    "authorization": f"Bearer {TOKEN}",
                    "cookie": COOKIE,
                    "x-request-id": REQUEST_ID,
                    "user-agent": "sentry-test-agent",
                },
            )
    finally:
        await app.state.engine.dispose()
    events = _wait_for_events(received)

    # then the client got the usual problem answer, and exactly one event arrived
    assert response.status_code == 500
    assert response.headers["x-request-id"] == REQUEST_ID
    assert len(events) == 1
    event = events[0]
    assert received.paths[0] == "/api/42/envelope/"
    assert set(received.encodings) <= {"", "gzip"}
    # with request id, release, environment, user id and the route
    assert event["tags"]["request_id"] == REQUEST_ID
    assert event["release"] == "kosh@test-release"
    assert event["environment"] == "staging-test"
    assert event["user"] == {"id": "42"}
    assert event["tags"]["route"] == "/sentry-test/explode"
    assert event["request"]["url"] == "/sentry-test/explode"
    assert event["request"]["headers"]["user-agent"] == "sentry-test-agent"
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == f"could not send the confirmation to {FILTERED}"
    assert exception["stacktrace"]["frames"]
    # and nothing secret or personal, anywhere in what was sent
    everything = b"".join(received.raw)
    for secret in (PASSWORD, TOKEN, EMAIL, COOKIE, "sess-abcdef"):
        assert secret.encode() not in everything, secret
    assert "authorization" not in event["request"]["headers"]
    assert "cookie" not in event["request"]["headers"]


async def test_handled_domain_errors_are_not_sent(
    settings: Settings, envelopes: tuple[Envelopes, str]
) -> None:
    received, dsn = envelopes
    app = create_app(settings.model_copy(update={"sentry_dsn": SecretStr(dsn)}))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            missing = await http.get("/api/v1/no-such-thing")
    finally:
        await app.state.engine.dispose()

    assert missing.status_code == 404
    assert _wait_for_events(received, timeout=1.0) == []


def test_off_without_a_dsn(settings: Settings) -> None:
    assert settings.sentry_dsn is None

    assert init_error_tracking(settings) is False
    assert not sentry_sdk.get_client().is_active()


def test_default_release_names_the_version() -> None:
    assert release() == f"kosh@{__version__}"


def test_scrub_filters_keys_and_strings_at_any_depth() -> None:
    event = {
        "sdk": {"name": "sentry.python"},
        "extra": {
            "order": {"billing": {"email": EMAIL}, "lines": [{"sku": "A-1", "qty": 2}]},
            "Authorization": f"Bearer {TOKEN}",
            "text": f"mail {EMAIL} with Bearer {TOKEN}",
            "X-Csrf-Token": "abc",
        },
    }

    scrubbed = scrub_event(event, {})

    assert scrubbed["sdk"] == {"name": "sentry.python"}
    assert scrubbed["extra"]["order"] == {"billing": FILTERED, "lines": [{"sku": "A-1", "qty": 2}]}
    assert scrubbed["extra"]["Authorization"] == FILTERED
    assert scrubbed["extra"]["X-Csrf-Token"] == FILTERED
    assert scrubbed["extra"]["text"] == f"mail {FILTERED} with Bearer {FILTERED}"


def test_a_failing_worker_job_is_reported_with_its_name(
    settings: Settings, envelopes: tuple[Envelopes, str]
) -> None:
    # given error tracking on, as `kosh worker` starts it
    received, dsn = envelopes
    assert init_error_tracking(settings.model_copy(update={"sentry_dsn": SecretStr(dsn)}))

    # when a job fails while handling a customer's e-mail
    try:
        raise ValueError(f"store refused the update for {EMAIL}")
    except ValueError:
        report_job_error("sync_back")
    events = _wait_for_events(received)

    # then the event names the job and the release, and not the e-mail
    assert len(events) == 1
    assert events[0]["tags"]["job"] == "sync_back"
    assert events[0]["release"] == release()
    assert events[0]["environment"] == settings.env
    assert EMAIL.encode() not in b"".join(received.raw)
