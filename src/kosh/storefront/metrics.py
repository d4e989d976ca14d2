"""Prometheus metrics of the storefront (the worker exposes its own with --metrics-port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOKS = Counter(
    "kosh_storefront_webhooks_total",
    "Webhook deliveries received, by outcome",
    ["outcome"],  # accepted, duplicate, ping, bad_signature, rejected, too_large, unknown_store,
    # unknown_store_throttled (429 per client IP)
)
STORE_CODE_LOADS = Counter(
    "kosh_storefront_store_code_loads_total",
    "Loads of the known store codes from the database (unknown webhook codes cost no more)",
)
ORDERS = Counter(
    "kosh_storefront_orders_total",
    "Staged web orders processed by the worker, by outcome",
    ["outcome"],  # applied, review, ignored, retried, failed (gave up), lost (claimed elsewhere)
)
BATCHES = Counter(
    "kosh_storefront_batches_total",
    "Batches of new paid web orders the worker applied together, by outcome",
    ["outcome"],  # applied, rolled_back (its orders then went one by one)
)
PROCESSING = Histogram(
    "kosh_storefront_processing_seconds",
    "Time to apply one staged web order",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
QUEUE_DEPTH = Gauge(
    "kosh_storefront_queue_depth",
    "Staged web orders by status (sampled)",
    ["status"],
    multiprocess_mode="mostrecent",
)
SYNC_BACK = Counter(
    "kosh_storefront_sync_back_total",
    "Status updates sent back to stores, by outcome",
    ["outcome"],  # sent, retried, failed
)
STOCK_PUSH = Counter(
    "kosh_storefront_stock_push_total",
    "Stock pushes to stores, by outcome",
    ["outcome"],  # sent, retried, failed
)
STOCK_PUSH_ITEMS = Counter(
    "kosh_storefront_stock_push_items_total",
    "Products and variations in stock pushes, by outcome",
    ["outcome"],  # updated, not_in_shop, refused
)
STOCK_PUSH_BATCHES = Counter(
    "kosh_storefront_stock_push_batches_total", "Batch requests sent to stores for stock levels"
)

RECONCILE_DRIFT = Counter(
    "kosh_storefront_stock_drift_total",
    "Shop products whose stock a reconcile found differing from KOSH (and fixed)",
)
REFUNDS = Counter(
    "kosh_storefront_refunds_total",
    "Store refunds read by the worker, by outcome",
    ["outcome"],  # taken (recorded now), known (recorded before), retried, failed
)
REFUND_RELEASED = Counter(
    "kosh_storefront_refund_released_units_total",
    "Reserved units given back because the store refunded them before they shipped",
)
STAGED_BATCH_ROWS = Histogram(
    "kosh_storefront_intake_batch_rows",
    "Webhook deliveries stored by one intake commit (group commit under load)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 200),
)
