"""Production entry point: gunicorn managing uvicorn workers.

    gunicorn -c python:kosh.gunicorn_conf 'kosh.app:create_app()'

The worker class comes from the `uvicorn-worker` package: `uvicorn.workers.UvicornWorker`
still exists in uvicorn but is deprecated in its favour. Command-line flags and
GUNICORN_CMD_ARGS override everything here (`--bind 0.0.0.0:8000 --workers 4`);
WEB_CONCURRENCY sets the worker count. KOSH itself is configured by KOSH_* variables.

The master process applies migrations and creates the first admin account once, before any
worker starts; the application is not preloaded, so every worker opens its own database
pool after the fork (a pool must never be shared across processes).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

bind = ["127.0.0.1:8000"]
worker_class = "uvicorn_worker.UvicornWorker"
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
preload_app = False
# A worker silent for this long is killed and replaced; longer than KOSH_REQUEST_TIMEOUT.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so slow leaks cannot build up; jitter avoids all at once.
max_requests = 10_000
max_requests_jitter = 1_000
# KOSH writes its own structured access log line per request; gunicorn's would duplicate it.
accesslog = None
errorlog = "-"
# gunicorn's runtime control socket has one default path per user, which two instances on one
# host (two app nodes in a test, a blue/green switch) would fight over; KOSH does not use it.
control_socket_disable = True


def prepare_metrics_dir() -> Path:
    """Prometheus multiprocess mode: every worker writes its metrics to files in one directory
    and /metrics adds them up. Must run before anything imports prometheus_client. The
    directory is PROMETHEUS_MULTIPROC_DIR when set (emptied: files of a previous run would
    count twice), otherwise a fresh private temporary directory."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="kosh-metrics-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def on_starting(server: Any) -> None:
    """Configure logging, migrate and bootstrap the admin account once, in the master."""
    prepare_metrics_dir()  # first: the imports below load prometheus_client
    import typer

    from kosh.cli import _bootstrap, load_settings
    from kosh.core.logging import configure_logging

    try:
        settings = load_settings()  # prints what to fix
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    configure_logging(settings)
    _bootstrap(settings)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live gauges (in flight, pool) stop counting; counters stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
