"""Prometheus metrics of the stock movements."""

from __future__ import annotations

from prometheus_client import Counter

FIFO_EXTENDED = Counter(
    "kosh_stock_fifo_extended_total",
    "FIFO takes whose lots, as read while locking them, had been partly taken by a "
    "concurrent movement, so the rest was re-read under the locks and extended",
)
PICKS_QUEUED = Counter(
    "kosh_stock_picks_queued_total",
    "Picks that waited in this process for another pick of the same part and warehouse "
    "to finish its use case before going to the database",
)
