"""Quality use cases, the one module other features import
(`from kosh.quality import service as quality_service`). Each `@transactional` function
is one transaction; the rules of each live in its module's docstrings:

- tickets: the engine (numbers, workflow moves, comments, edits, machine down);
- workflows: statuses and transitions per kind as data, admin-editable within safe rules;
- maintenance: preventive plans, the due-ticket worker job, spare parts;
- ncr: containment into quarantine and dispositions;
- returns: RMAs, receipt into quarantine, inspection, replacement orders;
- web_returns: RMAs proposed by web store refunds, confirmed or dismissed by the desk;
- sla: policies, computed clocks, SLA alerts;
- attachments: photos, type-sniffed and stored outside the web root.
"""

from __future__ import annotations

from kosh.quality.attachments import add_attachment, attachments_of, open_attachment
from kosh.quality.links import Links
from kosh.quality.maintenance import consume_spares, create_plan, open_due_tickets, plan_statuses
from kosh.quality.ncr import contain, disposition
from kosh.quality.returns import (
    create_replacement_order,
    create_return,
    get_return_or_raise,
    inspect,
    list_returns,
    receive,
)
from kosh.quality.sla import check as check_slas
from kosh.quality.sla import compliance, list_policies, set_policy, ticket_sla
from kosh.quality.sla import report as sla_report
from kosh.quality.tickets import (
    comment,
    create_ticket,
    get_ticket_by_number,
    get_ticket_or_raise,
    list_tickets,
    raise_from_scan,
    transition,
    update_ticket,
)
from kosh.quality.web_returns import confirm_proposed, dismiss_proposed
from kosh.quality.workflows import get_workflow, set_workflow

__all__ = [
    "Links",
    "add_attachment",
    "attachments_of",
    "check_slas",
    "comment",
    "compliance",
    "confirm_proposed",
    "consume_spares",
    "contain",
    "create_plan",
    "create_replacement_order",
    "create_return",
    "create_ticket",
    "dismiss_proposed",
    "disposition",
    "get_return_or_raise",
    "get_ticket_by_number",
    "get_ticket_or_raise",
    "get_workflow",
    "inspect",
    "list_policies",
    "list_returns",
    "list_tickets",
    "open_attachment",
    "open_due_tickets",
    "plan_statuses",
    "raise_from_scan",
    "receive",
    "set_policy",
    "set_workflow",
    "sla_report",
    "ticket_sla",
    "transition",
    "update_ticket",
]
