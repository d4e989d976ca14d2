"""Shop-floor metrics (the app's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SCHEDULES = Counter(
    "kosh_shopfloor_schedules_total",
    "Job scheduling attempts by outcome (scheduled, over_capacity, unscheduled)",
    ["outcome"],
)
SCHEDULE_SECONDS = Histogram(
    "kosh_shopfloor_schedule_seconds",
    "Time to schedule one job onto its work centres",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
DISPLACED = Counter(
    "kosh_shopfloor_displaced_operations_total",
    "Operations taken off the plan because capacity went down (machine down, calendar change)",
)
MACHINE_STATUS = Counter(
    "kosh_shopfloor_machine_status_changes_total", "Machine status changes", ["status"]
)
TIME_LOGS = Counter("kosh_shopfloor_time_logs_total", "Operator time log rows written", ["kind"])
OPERATIONS_GENERATED = Counter(
    "kosh_shopfloor_operations_generated_total", "Job operations created from routings"
)
HOLDS = Counter(
    "kosh_shopfloor_holds_total",
    "Jobs put on hold, resumed, and suggestions taken into a freed slot",
    ["action"],
)
CAPACITY_OVERRIDES = Counter(
    "kosh_shopfloor_capacity_overrides_total",
    "Schedules a manager confirmed over capacity",
)
