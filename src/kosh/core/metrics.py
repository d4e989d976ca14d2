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
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

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
# only checkouts that found no idle connection and queued (kosh.core.fair_pool)
DB_POOL_WAIT = Histogram(
    "kosh_db_pool_wait_seconds",
    "Time a request queued for a database connection when none was idle",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DATABASE_BUSY = Counter(
    "kosh_database_busy_total",
    "Requests answered 503 because a row lock was not granted in time (nothing applied)",
)
RATE_LIMITED = Counter("kosh_rate_limited_total", "Requests refused by a rate limit", ["scope"])
LOGIN_ATTEMPTS = Counter("kosh_login_attempts_total", "Login attempts", ["outcome"])
IDEMPOTENT_REPLAYS = Counter("kosh_idempotent_replays_total", "Responses replayed from a key")
# answers a use case wrote in its own statement: kept (what was sent), or rewritten (it was not)
ANSWERS_WRITTEN_AHEAD = Counter(
    "kosh_idempotency_answers_written_ahead_total",
    "Idempotent answers written by the use case's own statement, by outcome",
    ["outcome"],
)
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
    registry.register(WorkerProcessCollector(Path(multiprocess_dir() or ".")))
    return generate_latest(registry)


_PID_FILE = re.compile(r"_(\d+)\.db$")


class WorkerProcessCollector(Collector):
    """`process_*` metrics (CPU, memory, open files) of every live process that writes to the
    multiprocess directory, one series per process with a `pid` label: prometheus-client's
    own ProcessCollector only sees the process that answers the scrape."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def live_pids(self) -> list[int]:
        pids = set()
        for path in self.directory.glob("*.db"):
            match = _PID_FILE.search(path.name)
            if match and Path(f"/proc/{match.group(1)}").exists():
                pids.add(int(match.group(1)))
        return sorted(pids)

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for pid in self.live_pids():
            collector = ProcessCollector(pid=_fixed(pid), registry=None)
            for family in collector.collect():
                target = merged.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for sample in family.samples:
                    labels = {**sample.labels, "pid": str(pid)}
                    target.add_sample(sample.name, labels, sample.value)
        yield from merged.values()


def _fixed(pid: int) -> Callable[[], int]:
    return lambda: pid


# Single sign-on and two-factor login (kosh.auth.oidc, kosh.auth.twofactor).
SSO_LOGINS = Counter(
    "kosh_sso_logins_total", "Single sign-on (OpenID Connect) logins by outcome", ["outcome"]
)
TWO_FACTOR_CHECKS = Counter(
    "kosh_two_factor_checks_total", "Two-factor codes checked, by outcome", ["outcome"]
)
