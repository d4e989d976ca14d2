"""Quality use cases, the one module other features import
(`from kosh.quality import service as quality_service`). Each `@transactional` function
is one transaction; the rules of each live in its module's docstrings:

- tickets: the engine (numbers, workflow moves, comments, edits, machine down);
- workflows: statuses and transitions per kind as data, admin-editable within safe rules;
- maintenance: preventive plans, the due-ticket worker job, spare parts;
- windows: planned preventive windows (reserving the machine's capacity) and the
  maintenance calendar;
- ncr: containment into quarantine and dispositions;
- returns: RMAs, receipt into quarantine, inspection, replacement orders;
- web_returns: RMAs proposed by web store refunds, confirmed or dismissed by the desk;
- sla: policies, computed clocks, SLA alerts;
- support_calendars: the support desk's business hours, an SLA's other calendar;
- saved_views: named filter sets on the ticket list, per user, optionally shared;
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
from kosh.quality.saved_views import delete_view, save_view, views_for
from kosh.quality.sla import check as check_slas
from kosh.quality.sla import compliance, list_policies, set_policy, ticket_sla
from kosh.quality.sla import report as sla_report
from kosh.quality.support_calendars import (
    create_support_calendar,
    list_support_calendars,
    set_support_calendar_day,
)
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
from kosh.quality.windows import calendar as maintenance_calendar
from kosh.quality.windows import cancel_window, plan_window
from kosh.quality.workflows import get_workflow, set_workflow

__all__ = [
    "Links",
    "add_attachment",
    "attachments_of",
    "cancel_window",
    "check_slas",
    "comment",
    "compliance",
    "confirm_proposed",
    "consume_spares",
    "contain",
    "create_plan",
    "create_replacement_order",
    "create_return",
    "create_support_calendar",
    "create_ticket",
    "delete_view",
    "dismiss_proposed",
    "disposition",
    "get_return_or_raise",
    "get_ticket_by_number",
    "get_ticket_or_raise",
    "get_workflow",
    "inspect",
    "list_policies",
    "list_returns",
    "list_support_calendars",
    "list_tickets",
    "maintenance_calendar",
    "open_attachment",
    "open_due_tickets",
    "plan_statuses",
    "plan_window",
    "raise_from_scan",
    "receive",
    "save_view",
    "set_policy",
    "set_support_calendar_day",
    "set_workflow",
    "sla_report",
    "ticket_sla",
    "transition",
    "update_ticket",
    "views_for",
]
