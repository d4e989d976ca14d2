"""The real server in a subprocess, for browser tests and anything that needs a socket.

`live_server` (one per test run) starts `kosh serve` on a free port against the test
database, waits for /health/ready and stops the process at the end of the run. The test
database is emptied after every test by the `sessions` fixture, so tests make their own users
(`make_user`); `ADMIN_PASSWORD` only matters for the `admin` account created at start, which
the first test's cleanup removes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

ADMIN_PASSWORD = "live-server-admin-password"
SECRET_KEY = "live-server-secret-key-0123456789-abcdefghijklmnop"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class LiveServer:
    url: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kosh_command() -> list[str]:
    """The `kosh` script next to the running interpreter (.venv/bin/kosh)."""
    script = Path(sys.executable).with_name("kosh")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "kosh.cli"]


def server_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The process environment minus any KOSH_* of the caller, plus the test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOSH_")}
    env.update(
        KOSH_ENV="development",
        KOSH_DATABASE_URL=database_url,
        KOSH_DATA_DIR=str(data_dir),
        KOSH_SECRET_KEY=SECRET_KEY,
        KOSH_ADMIN_PASSWORD=ADMIN_PASSWORD,
        KOSH_RATE_LIMIT="100000/minute",
        KOSH_USER_RATE_LIMIT="100000/minute",
        KOSH_LOGIN_RATE_LIMIT="1000/minute",
        KOSH_LOG_FORMAT="json",
        KOSH_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


def start_server(
    command: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str],
    workdir: Path,
    timeout: float = START_TIMEOUT,
) -> LiveServer:
    """Start `command` (cwd `workdir`, so no stray .env is read) and wait until it is ready."""
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            list(command), cwd=workdir, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
    server = LiveServer(
        url=f"http://127.0.0.1:{port}", port=port, log_path=log_path, process=process
    )
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the server exited with code {process.returncode} before it was ready:\n"
                + server.log_tail(),
                pytrace=False,
            )
        try:
            response = httpx.get(f"{server.url}/health/ready", timeout=2)
            if response.status_code == 200:
                return server
            last_error = f"/health/ready answered {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    stop_server(server)
    pytest.fail(
        f"the server was not ready after {timeout:.0f} s ({last_error}):\n" + server.log_tail(),
        pytrace=False,
    )


def stop_server(server: LiveServer, timeout: float = 10.0) -> None:
    """SIGTERM (graceful shutdown), then SIGKILL if it does not stop in time."""
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=timeout)


@pytest.fixture(scope="session")
def live_server(
    database_url: str,
    engine: AsyncEngine,  # the schema is migrated before the server starts
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """`kosh serve` on a free port against the test database, for the whole run."""
    workdir = tmp_path_factory.mktemp("live-server")
    port = free_port()
    server = start_server(
        [*kosh_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        port=port,
        env=server_env(database_url, workdir / "data"),
        workdir=workdir,
    )
    try:
        yield server
    finally:
        stop_server(server)
