"""Prometheus metrics of kitting."""

from __future__ import annotations

from prometheus_client import Counter

KITTING = Counter(
    "kosh_job_kitting_total",
    "Kitting requests of jobs, by kind (line, all) and outcome (kitted, short)",
    ["kind", "outcome"],
)
OVER_KIT = Counter(
    "kosh_job_over_kit_total",
    "Picks that would give a job more than it needs, by outcome (refused, confirmed)",
    ["outcome"],
)
PICK_SCAN = Counter(
    "kosh_job_pick_scan_total",
    "Pick-list scans of job lines, by outcome (confirmed, override, wrong_pcn, not_fifo, "
    "insufficient_stock)",
    ["outcome"],
)
