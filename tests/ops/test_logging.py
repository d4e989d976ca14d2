"""Structured logs: JSON lines on stdout and in a rotated file plus an error file, each line
carrying request_id, user and client_ip. Runs in a subprocess: logging setup is global."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from kosh.core.config import Settings

SCRIPT = """
import asyncio, os
import httpx
from kosh.app import create_app
from kosh.auth.deps import CurrentPrincipal
from kosh.core.config import get_settings
from kosh.core.logging import configure_logging

async def main():
    settings = get_settings()
    configure_logging(settings)
    app = create_app(settings)

    async def crash(principal: CurrentPrincipal):
        raise RuntimeError("kaboom-secret-detail")

    app.add_api_route("/api/v1/_test/crash", crash)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.5", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        auth = {"authorization": "Bearer " + os.environ["TEST_TOKEN"]}
        me = await client.get("/api/v1/auth/me", headers={**auth, "x-request-id": "log-req-000001"})
        assert me.status_code == 200, me.text
        crash_id = {"x-request-id": "log-req-000002"}
        crash = await client.get("/api/v1/_test/crash", headers={**auth, **crash_id})
        assert crash.status_code == 500
        assert "kaboom" not in crash.text
    await app.state.engine.dispose()

asyncio.run(main())
"""


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _find(lines: list[dict[str, Any]], event: str, request_id: str) -> dict[str, Any]:
    for line in lines:
        if line.get("event") == event and line.get("request_id") == request_id:
            return line
    raise AssertionError(f"no {event} line for {request_id} in {lines}")


async def test_json_logs_carry_request_user_and_ip(
    settings: Settings, make_user, token_for, tmp_path: Path
) -> None:
    user = await make_user("operator", username="logger")
    token = await token_for(user, ["read"])
    log_file = tmp_path / "logs" / "kosh.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KOSH_")},
        "KOSH_LOG_FORMAT": "json",
        "KOSH_LOG_FILE": str(log_file),
        "KOSH_DATABASE_URL": settings.effective_database_url,
        "KOSH_DATA_DIR": str(tmp_path),
        "KOSH_MIGRATE_ON_START": "false",
        "TEST_TOKEN": token,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()

    # stdout: one JSON object per line
    out = _lines(stdout.decode())
    request = _find(out, "request", "log-req-000001")
    assert request["user"] == "logger"
    assert request["client_ip"] == "203.0.113.5"
    assert request["route"] == "/api/v1/auth/me"
    assert request["status"] == 200
    assert request["level"] == "info"
    assert "timestamp" in request

    error = _find(out, "unhandled_error", "log-req-000002")
    assert error["level"] == "error"
    assert error["user"] == "logger"
    assert error["client_ip"] == "203.0.113.5"
    assert "kaboom-secret-detail" in error["exception"]  # the detail is in the log only
    assert _find(out, "request", "log-req-000002")["status"] == 500

    # the main file has every line, the error file only errors
    in_file = _lines(log_file.read_text())
    assert _find(in_file, "request", "log-req-000001")["user"] == "logger"
    errors = _lines(log_file.with_suffix(".error.log").read_text())
    assert errors
    assert {line["level"] for line in errors} == {"error"}
    assert _find(errors, "unhandled_error", "log-req-000002")["client_ip"] == "203.0.113.5"
