"""Prometheus metrics of the stock movements."""

from __future__ import annotations

from prometheus_client import Counter

FIFO_EXTENDED = Counter(
    "kosh_stock_fifo_extended_total",
    "FIFO takes whose lots, as read while locking them, had been partly taken by a "
    "concurrent movement, so the rest was re-read under the locks and extended",
)

PICKS = Counter(
    "kosh_stock_picks_total",
    "Picks to the floor requested with an Idempotency-Key, by path: alone (one statement "
    "that committed on its own) or transaction (the use case's transaction)",
    ["path"],
)
