"""Quality tables: tickets of three kinds (maintenance, NCR, replacement) with their
workflows as data, comments, status history and photo attachments; preventive maintenance
plans; customer returns (RMA) with their lines; SLA policies.

SLA clocks are never stored: they are computed from `quality_ticket_events` (the status
history) and the policy's business calendar, so they survive restarts and follow a
change of calendar. Stock is never written here: containment, dispositions, spare parts
and returns move stock through `kosh.stock.movements` with the ticket or RMA number as the
ledger reference.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kosh.core.db import Base, UTCDateTime, utcnow

TICKET_KINDS = ("maintenance", "ncr", "replacement")
PRIORITIES = ("low", "normal", "high", "critical")
# What a status means to the engine: an SLA clock runs in `open`, pauses in `waiting`,
# stops in `done`; `machine_down` tickets set their machine down until `done`.
STATUS_CATEGORIES = ("open", "waiting", "done")
RETURN_STATUSES = ("authorised", "received", "closed")
_KINDS_SQL = ", ".join(f"'{kind}'" for kind in TICKET_KINDS)
_PRIORITIES_SQL = ", ".join(f"'{p}'" for p in PRIORITIES)


class WorkflowStatus(Base):
    """A status a ticket of `kind` may be in; `initial` marks where new tickets start."""

    __tablename__ = "quality_workflow_statuses"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS_SQL})", name="kind_known"),
        CheckConstraint("category IN ('open', 'waiting', 'done')", name="category_known"),
    )

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)
    initial: Mapped[bool] = mapped_column(Boolean, default=False)


class WorkflowTransition(Base):
    """An allowed move from one status to another for tickets of `kind`."""

    __tablename__ = "quality_workflow_transitions"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    from_status: Mapped[str] = mapped_column(String(32), primary_key=True)
    to_status: Mapped[str] = mapped_column(String(32), primary_key=True)


class TicketSequence(Base):
    """The last number handed out per ticket kind (MNT-000001, NCR-000001, REP-000001)."""

    __tablename__ = "quality_ticket_sequences"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    """One ticket. Links are nullable ids of what it concerns (the other features own
    those rows; a link is a reference, never a write)."""

    __tablename__ = "quality_tickets"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS_SQL})", name="kind_known"),
        CheckConstraint(f"priority IN ({_PRIORITIES_SQL})", name="priority_known"),
        # a preventive plan's ticket for one due date exists once, whatever many workers
        UniqueConstraint("plan_id", "due_on"),
        Index(None, "kind", "status"),
        Index(None, "machine_id"),
        Index(None, "lot_id"),
        Index(None, "sales_order_id"),
        Index(None, "operation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(16), default="open")
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    part_id: Mapped[int | None] = mapped_column(ForeignKey("parts.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("production_jobs.id"))
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("job_operations.id"))
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id"))
    work_centre_id: Mapped[int | None] = mapped_column(ForeignKey("work_centres.id"))
    sales_order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    return_id: Mapped[int | None] = mapped_column(ForeignKey("quality_returns.id"))
    replacement_order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"))
    machine_down: Mapped[bool] = mapped_column(Boolean, default=False)
    # the machine's status before this ticket set it down; resolving puts it back
    machine_prior_status: Mapped[str | None] = mapped_column(String(16))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("quality_maintenance_plans.id"))
    due_on: Mapped[date | None] = mapped_column(Date)
    cause: Mapped[str] = mapped_column(String(100), default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    corrective_action: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TicketEvent(Base):
    """Immutable history of a ticket: each status change (the SLA clocks are computed
    from these rows) and each comment."""

    __tablename__ = "quality_ticket_events"
    __table_args__ = (
        CheckConstraint("kind IN ('status', 'comment')", name="kind_known"),
        Index(None, "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("quality_tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text, default="")
    actor_name: Mapped[str] = mapped_column(String(100))


class Attachment(Base):
    """A photo on a ticket: bytes on disk under the data dir (never the web root), named
    by a random token; the type is the sniffed one, never the uploader's claim."""

    __tablename__ = "quality_attachments"
    __table_args__ = (
        CheckConstraint("size_bytes > 0", name="size_positive"),
        Index(None, "ticket_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("quality_tickets.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MaintenancePlan(Base):
    """Preventive maintenance for a machine: every N days or every N run hours (counted
    from the shop floor's time logs on the machine's work centre)."""

    __tablename__ = "quality_maintenance_plans"
    __table_args__ = (
        CheckConstraint(
            "(every_days IS NOT NULL) <> (every_run_hours IS NOT NULL)", name="one_interval"
        ),
        CheckConstraint("every_days IS NULL OR every_days > 0", name="days_positive"),
        CheckConstraint("every_run_hours IS NULL OR every_run_hours > 0", name="hours_positive"),
        Index(None, "machine_id"),
        Index(None, "active", "next_due_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    title: Mapped[str] = mapped_column(String(200))
    every_days: Mapped[int | None] = mapped_column(Integer)
    every_run_hours: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    # counted from here: the plan's start, then each time a ticket is created
    last_done_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_due_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MaintenanceWindow(Base):
    """A planned preventive window of a plan's machine on whole days; when `reserved`, the
    shop floor keeps the machine off the plan on those days (reservation `reference`)."""

    __tablename__ = "quality_maintenance_windows"
    __table_args__ = (
        CheckConstraint("last_day >= first_day", name="days_ordered"),
        Index(None, "first_day"),
        Index(None, "plan_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("quality_maintenance_plans.id"))
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    reserved: Mapped[bool] = mapped_column(Boolean, default=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Return(Base):
    """A customer return (RMA) against a sales order."""

    __tablename__ = "quality_returns"
    __table_args__ = (
        CheckConstraint(
            "status IN ('proposed', 'authorised', 'received', 'closed')", name="status_known"
        ),
        CheckConstraint("outcome IN ('refund', 'replacement', 'repair')", name="outcome_known"),
        Index(None, "sales_order_id"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    sales_order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"))
    reason: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16), default="refund")
    status: Mapped[str] = mapped_column(String(16), default="authorised")
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ReturnLine(Base):
    """Units of one sales order line coming back; `lot_id` is the PCN made on receipt;
    `restocked` + `scrapped` + `repair` never exceed `qty`."""

    __tablename__ = "quality_return_lines"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("restocked_qty >= 0 AND scrapped_qty >= 0", name="outcomes_non_negative"),
        CheckConstraint("repair_qty >= 0", name="repair_non_negative"),
        CheckConstraint(
            "restocked_qty + scrapped_qty + repair_qty <= qty", name="within_returned_all"
        ),
        Index(None, "return_id"),
        Index(None, "sales_order_line_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("quality_returns.id", ondelete="CASCADE"))
    sales_order_line_id: Mapped[int] = mapped_column(ForeignKey("sales_order_lines.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    qty: Mapped[int] = mapped_column(Integer)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    restocked_qty: Mapped[int] = mapped_column(Integer, default=0)
    scrapped_qty: Mapped[int] = mapped_column(Integer, default=0)
    # units kept in quarantine for a repair job made from this line
    repair_qty: Mapped[int] = mapped_column(Integer, default=0)
    repair_job_id: Mapped[int | None] = mapped_column(ForeignKey("production_jobs.id"))


class ReturnGuard(Base):
    """One row per sales order that has returns, locked while a return is authorised, so
    two clerks returning against one order queue and never exceed shipped - returned."""

    __tablename__ = "quality_return_guards"

    sales_order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"), primary_key=True)


class SlaPolicy(Base):
    """Response and resolution targets in business minutes of a calendar: the shop
    floor's shift calendar (`calendar_kind` 'shift') or a support calendar ('support')."""

    __tablename__ = "quality_sla_policies"
    __table_args__ = (
        UniqueConstraint("kind", "priority"),
        CheckConstraint(f"kind IN ({_KINDS_SQL})", name="kind_known"),
        CheckConstraint(f"priority IN ({_PRIORITIES_SQL})", name="priority_known"),
        CheckConstraint("response_minutes > 0", name="response_positive"),
        CheckConstraint("resolution_minutes >= response_minutes", name="resolution_after_response"),
        CheckConstraint("warning_pct BETWEEN 1 AND 99", name="warning_in_range"),
        CheckConstraint("calendar_kind IN ('shift', 'support')", name="calendar_kind_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    calendar_code: Mapped[str | None] = mapped_column(String(32))
    calendar_kind: Mapped[str] = mapped_column(String(8), default="shift")
    day_start: Mapped[str] = mapped_column(String(5), default="08:00")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    warning_pct: Mapped[int] = mapped_column(Integer, default=80)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SupportCalendar(Base):
    """The support desk's business hours (not the shop floor's shifts): working minutes
    per weekday; `SupportCalendarDay` rows override single dates (holidays: 0)."""

    __tablename__ = "quality_support_calendars"
    __table_args__ = tuple(
        CheckConstraint(f"{day}_minutes BETWEEN 0 AND 1440", name=f"{day}_minutes_in_day")
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    mon_minutes: Mapped[int] = mapped_column(Integer, default=0)
    tue_minutes: Mapped[int] = mapped_column(Integer, default=0)
    wed_minutes: Mapped[int] = mapped_column(Integer, default=0)
    thu_minutes: Mapped[int] = mapped_column(Integer, default=0)
    fri_minutes: Mapped[int] = mapped_column(Integer, default=0)
    sat_minutes: Mapped[int] = mapped_column(Integer, default=0)
    sun_minutes: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SupportCalendarDay(Base):
    """A holiday (0 minutes) or other exception for one date of a support calendar."""

    __tablename__ = "quality_support_calendar_days"
    __table_args__ = (
        UniqueConstraint("calendar_id", "day"),
        CheckConstraint("minutes BETWEEN 0 AND 1440", name="minutes_in_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("quality_support_calendars.id", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")


class SavedView(Base):
    """A filter set a user saved on a list under a name; `shared` shows it to everyone."""

    __tablename__ = "quality_saved_views"
    __table_args__ = (
        UniqueConstraint("user_id", "list_name", "name"),
        CheckConstraint("list_name IN ('tickets')", name="list_known"),
        Index(None, "list_name", "shared"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    list_name: Mapped[str] = mapped_column(String(16), default="tickets")
    name: Mapped[str] = mapped_column(String(80))
    filters: Mapped[str] = mapped_column(String(1000))  # the list's query string
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The shop-floor calendar's weekday columns, Monday first (read through its service).
WEEKDAY_COLUMNS = tuple(
    f"{day}_minutes" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)
