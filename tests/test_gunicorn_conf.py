"""The production entry point: gunicorn with uvicorn workers, as the README and runbook say."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from kosh import gunicorn_conf
from tests.support.live_server import (
    ADMIN_PASSWORD,
    free_port,
    server_env,
    start_server,
    stop_server,
)
from tests.support.platform import scratch_database_url

__all__ = ["scratch_database_url"]


def test_uses_the_maintained_uvicorn_worker() -> None:
    from uvicorn_worker import UvicornWorker

    assert gunicorn_conf.worker_class == "uvicorn_worker.UvicornWorker"
    assert UvicornWorker.__module__.startswith("uvicorn_worker")
    assert gunicorn_conf.preload_app is False  # each worker opens its own database pool
    assert gunicorn_conf.timeout > 30  # longer than the default KOSH_REQUEST_TIMEOUT


def test_two_workers_on_an_empty_database_migrate_once_and_serve(
    scratch_database_url: str, tmp_path: Path
) -> None:
    # given an empty database and the documented command line
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(gunicorn),
        "-c",
        "python:kosh.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "kosh.app:create_app()",
    ]

    # when gunicorn starts
    server = start_server(
        command,
        port=port,
        env=server_env(scratch_database_url, tmp_path / "data"),
        workdir=tmp_path,
    )
    try:
        # then the database is migrated (ready), pages and the API answer
        answers = [httpx.get(f"{server.url}/health/ready", timeout=5) for _ in range(6)]
        assert {a.status_code for a in answers} == {200}
        login = httpx.get(f"{server.url}/login", timeout=5)
        assert login.status_code == 200
        assert "Log in" in login.text
        token = httpx.post(
            f"{server.url}/api/v1/auth/login",
            json={"username": "admin", "password": ADMIN_PASSWORD},
            timeout=5,
        )
        assert token.status_code == 200, token.text
    finally:
        stop_server(server)
    log = server.log_path.read_text()
    assert "Using worker: uvicorn_worker.UvicornWorker" in log
    assert log.count("Booting worker with pid") == 2
    assert "DeprecationWarning" not in log
    assert server.process.returncode == 0
