"""Prometheus counters of locations."""

from __future__ import annotations

from prometheus_client import Counter

BINS_CREATED = Counter("kosh_bins_created_total", "Bins created by bulk range requests")
BIN_LABELS = Counter("kosh_bin_labels_printed_total", "Bin labels put on a label sheet")
