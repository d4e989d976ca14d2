"""Prometheus counters of the quality feature."""

from __future__ import annotations

from prometheus_client import Counter

TICKETS_OPENED = Counter("kosh_quality_tickets_opened_total", "Tickets opened", ["kind"])
TRANSITIONS = Counter(
    "kosh_quality_ticket_transitions_total", "Ticket status changes", ["kind", "to"]
)
QUALITY_MOVES = Counter(
    "kosh_quality_stock_moves_total", "Containment, dispositions, returns and spares", ["action"]
)
PLANS_DUE = Counter("kosh_quality_plan_tickets_total", "Preventive tickets created when due")
SLA_ALERTS = Counter("kosh_quality_sla_alerts_total", "SLA alerts raised", ["kind"])
WINDOWS = Counter(
    "kosh_quality_maintenance_windows_total",
    "Preventive maintenance windows planned and cancelled",
    ["action"],
)
REPAIR_JOBS = Counter("kosh_quality_repair_jobs_total", "Repair jobs planned from returns")
WEB_RETURNS = Counter(
    "kosh_quality_web_returns_total",
    "RMAs proposed by web store refunds, and what the returns desk did with them",
    ["action"],  # proposed, confirmed, dismissed
)
