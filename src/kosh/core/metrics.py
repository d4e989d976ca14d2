"""Prometheus metrics shared by the platform; features define their own next to their code."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

from kosh import __version__

HTTP_REQUESTS = Counter(
    "kosh_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "kosh_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_IN_FLIGHT = Gauge("kosh_http_requests_in_flight", "HTTP requests being answered")
DB_RETRIES = Counter(
    "kosh_db_retries_total", "Units of work re-run after a deadlock or lock timeout", ["use_case"]
)
DB_POOL = Gauge("kosh_db_pool_connections", "Database pool connections by state", ["state"])
RATE_LIMITED = Counter("kosh_rate_limited_total", "Requests refused by a rate limit", ["scope"])
LOGIN_ATTEMPTS = Counter("kosh_login_attempts_total", "Login attempts", ["outcome"])
IDEMPOTENT_REPLAYS = Counter("kosh_idempotent_replays_total", "Responses replayed from a key")
AUDIT_EVENTS = Counter("kosh_audit_events_total", "Audit events written", ["action"])
BUILD_INFO = Info("kosh_build", "KOSH build")
BUILD_INFO.info({"version": __version__})
