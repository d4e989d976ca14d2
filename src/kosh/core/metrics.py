"""Prometheus metrics shared by the platform; features define their own next to their code.

Under gunicorn every worker is its own process: `kosh.gunicorn_conf` sets
PROMETHEUS_MULTIPROC_DIR before anything imports prometheus_client, each worker then writes
its values to files there, and `exposition()` adds them up so one scrape sees all workers.
Gauges say how (`multiprocess_mode`): `livesum` for what each live process holds, `mostrecent`
for a sampled value. Without the variable (`kosh serve`, `kosh worker`, tests) the default
per-process registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from kosh import __version__

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "kosh_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "kosh_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_IN_FLIGHT = Gauge(
    "kosh_http_requests_in_flight", "HTTP requests being answered", multiprocess_mode="livesum"
)
DB_RETRIES = Counter(
    "kosh_db_retries_total", "Units of work re-run after a deadlock or lock timeout", ["use_case"]
)
DB_POOL = Gauge(
    "kosh_db_pool_connections",
    "Database pool connections by state",
    ["state"],
    multiprocess_mode="livesum",
)
RATE_LIMITED = Counter("kosh_rate_limited_total", "Requests refused by a rate limit", ["scope"])
LOGIN_ATTEMPTS = Counter("kosh_login_attempts_total", "Login attempts", ["outcome"])
IDEMPOTENT_REPLAYS = Counter("kosh_idempotent_replays_total", "Responses replayed from a key")
AUDIT_EVENTS = Counter("kosh_audit_events_total", "Audit events written", ["action"])
# A gauge rather than an Info: Info metrics are not collected in multiprocess mode. The series
# is the same as an Info's: kosh_build_info{version="..."} 1.
BUILD_INFO = Gauge("kosh_build_info", "KOSH build", ["version"], multiprocess_mode="max")
BUILD_INFO.labels(version=__version__).set(1)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> bytes:
    """The Prometheus text for /metrics: every gunicorn worker's values in multiprocess mode,
    this process's otherwise."""
    if multiprocess_dir() is None:
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
