"""Prometheus counters of purchasing: orders, receipts, reversals, barcode reads."""

from __future__ import annotations

from prometheus_client import Counter

ORDERS = Counter(
    "kosh_purchase_orders_total",
    "Purchase order steps (create, placed, cancelled, ...)",
    ["action"],
)
RECEIPTS = Counter(
    "kosh_purchase_receipts_total", "Bags received against purchase orders", ["kind"]
)
RECEIVED_UNITS = Counter(
    "kosh_purchase_received_units_total", "Base units received against purchase orders"
)
REVERSALS = Counter("kosh_purchase_receipt_reversals_total", "Receipts reversed by a manager")
REFUSED = Counter(
    "kosh_purchase_receipts_refused_total", "Receipts refused, by error code", ["code"]
)
BARCODES = Counter(
    "kosh_purchase_barcodes_total", "Distributor labels decoded, by format or outcome", ["outcome"]
)
SUGGESTED_ORDERS = Counter(
    "kosh_purchase_suggested_orders_total", "Draft purchase orders made from reorder suggestions"
)
SUGGESTED_JOBS = Counter(
    "kosh_purchase_suggested_jobs_total", "Production jobs planned from reorder suggestions"
)
