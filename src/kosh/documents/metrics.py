"""Prometheus metrics of warehouse documents."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DOCUMENTS_POSTED = Counter(
    "kosh_documents_posted_total", "Warehouse documents posted (reversals included)", ["type"]
)
DOCUMENT_POST_REFUSED = Counter(
    "kosh_document_post_refused_total", "Postings refused as a whole", ["type", "code"]
)
DOCUMENT_LINES_POSTED = Counter(
    "kosh_document_lines_posted_total", "Ledger rows written by document postings", ["type"]
)
DOCUMENT_POST_SECONDS = Histogram(
    "kosh_document_post_seconds",
    "Time to post a document (one transaction)",
    ["type"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
STOCKTAKE_COUNTS = Counter(
    "kosh_stocktake_counts_total", "Counts recorded on stocktakes", ["outcome"]
)
OPENING_IMPORT_ROWS = Counter(
    "kosh_opening_stock_rows_total", "Opening-stock import rows", ["outcome"]
)
OPENING_IMPORTS = Counter(
    "kosh_opening_imports_total",
    "Opening-stock imports finished, by outcome (succeeded, failed, abandoned)",
    ["outcome"],
)
OPENING_IMPORTS_RUNNING = Gauge(
    "kosh_opening_imports_running",
    "Opening-stock imports running",
    multiprocess_mode="livesum",
)
