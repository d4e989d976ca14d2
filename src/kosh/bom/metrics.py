"""Prometheus metrics of BOM imports."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

IMPORTS = Counter("kosh_bom_imports_total", "BOM imports finished, by outcome", ["outcome"])
IMPORT_DURATION = Histogram(
    "kosh_bom_import_duration_seconds",
    "Time from an import's start to its end",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
SHEETS_REFUSED = Counter(
    "kosh_bom_sheets_refused_total",
    "Uploaded spreadsheets refused for their shape (columns, rows, cells, text length)",
    ["reason"],
)
IMPORTS_WAITING = Gauge(
    "kosh_bom_imports_waiting",
    "BOM imports queued behind KOSH_BOM_MAX_CONCURRENT_IMPORTS",
    multiprocess_mode="livesum",
)
IMPORTS_RUNNING = Gauge(
    "kosh_bom_imports_running", "BOM imports being read", multiprocess_mode="livesum"
)
