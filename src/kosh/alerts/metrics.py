"""Prometheus counters of alerts."""

from __future__ import annotations

from prometheus_client import Counter

RAISED = Counter("kosh_alerts_raised_total", "Alerts raised or re-opened", ["kind"])
ACKNOWLEDGED = Counter("kosh_alerts_acknowledged_total", "Alerts acknowledged", ["kind"])
RESOLVED = Counter("kosh_alerts_resolved_total", "Alerts resolved", ["kind"])
DIGESTS = Counter("kosh_alert_digests_total", "Alert digest mails, by outcome", ["outcome"])
