"""Operations metrics: backups, restores, retention, GDPR requests."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BACKUPS = Counter("kosh_backups_total", "Backups taken", ["kind", "outcome"])
BACKUP_SECONDS = Histogram(
    "kosh_backup_duration_seconds",
    "Time to take a backup",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
BACKUP_BYTES = Gauge(
    "kosh_backup_last_size_bytes",
    "Size of the last backup archive written",
    multiprocess_mode="mostrecent",
)
BACKUP_LAST_SUCCESS = Gauge(
    "kosh_backup_last_success_timestamp_seconds",
    "When the last good backup finished (Unix time)",
    multiprocess_mode="mostrecent",
)
BACKUPS_PRUNED = Counter("kosh_backups_pruned_total", "Backup archives deleted by retention")
RESTORES = Counter("kosh_restores_total", "Restores attempted", ["outcome"])
RETENTION_DELETED = Counter(
    "kosh_retention_deleted_total", "Rows removed by the retention jobs", ["what"]
)
GDPR_REQUESTS = Counter("kosh_gdpr_requests_total", "GDPR exports and erasures", ["action"])
LEDGER_DRIFT = Gauge(
    "kosh_ledger_drift",
    "Balances that differed from the ledger at the last kosh verify (-1: never verified)",
    multiprocess_mode="mostrecent",
)
