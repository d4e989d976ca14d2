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


def on_starting(server: Any) -> None:
    """Configure logging, migrate and bootstrap the admin account once, in the master."""
    import typer

    from kosh.cli import _bootstrap, load_settings
    from kosh.core.logging import configure_logging

    try:
        settings = load_settings()  # prints what to fix
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    configure_logging(settings)
    _bootstrap(settings)
