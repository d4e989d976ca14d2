"""Shop-floor tables: departments, employees, work centres, machines, shift calendars,
routings, job operations, capacity bookings and operator time logs.

Personal data lives in `employees` only (name, badge code, the optional link to a KOSH
user). Every other table refers to an employee by id, and audit events about employees
name the fields that changed, never their values, so a GDPR export or erase has exactly
one table to read or blank (docs/runbook.md, "Shop floor").

Capacity is kept in whole minutes. `work_centre_days` holds, per work centre and day that
has bookings, the capacity and the planned minutes, with `CHECK (planned <= capacity +
override)` behind the scheduler's own guard: the database itself refuses an over-booked
day. `override` is 0 unless a manager confirmed an overload (`capacity_overrides`, one row
per operation and day, audited).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kosh.core.db import Base, UTCDateTime, utcnow
from kosh.core.types import JSONType

MACHINE_STATUSES = ("running", "idle", "down", "maintenance")
AVAILABLE_STATUSES = ("running", "idle")
OPERATION_STATUSES = ("pending", "running", "paused", "done")
TIME_LOG_KINDS = ("start", "stop", "manual", "reversal")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    manager_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Employee(Base):
    """The only table holding personal data of the shop floor (see the module docstring)."""

    __tablename__ = "employees"
    __table_args__ = (Index(None, "department_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    badge_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ShiftCalendar(Base):
    """Working minutes per weekday; `CalendarDay` rows override single dates."""

    __tablename__ = "shift_calendars"
    __table_args__ = tuple(
        CheckConstraint(f"{day}_minutes BETWEEN 0 AND 1440", name=f"{day}_minutes_in_day")
        for day in WEEKDAYS
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
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CalendarDay(Base):
    """A holiday (0 minutes) or another exception for one date of a calendar."""

    __tablename__ = "calendar_days"
    __table_args__ = (
        UniqueConstraint("calendar_id", "day"),
        CheckConstraint("minutes BETWEEN 0 AND 1440", name="minutes_in_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("shift_calendars.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")


class WorkCentre(Base):
    __tablename__ = "work_centres"
    __table_args__ = (
        CheckConstraint("efficiency_pct BETWEEN 1 AND 200", name="efficiency_in_range"),
        Index(None, "department_id"),
        Index(None, "calendar_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("shift_calendars.id"))
    efficiency_pct: Mapped[int] = mapped_column(Integer, default=100)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EmployeeWorkCentre(Base):
    """A work centre an employee may run (none listed: any)."""

    __tablename__ = "employee_work_centres"

    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True
    )
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("work_centres.id"), primary_key=True)


class Machine(Base):
    __tablename__ = "machines"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'idle', 'down', 'maintenance')", name="status_known"
        ),
        Index(None, "work_centre_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("work_centres.id"))
    asset_number: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(200), default="")
    serial: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="idle")
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Routing(Base):
    """How an assembly is built: for one BOM revision (`bom_id`) or for any (NULL)."""

    __tablename__ = "routings"
    __table_args__ = (UniqueConstraint("assembly_part_id", "revision"), Index(None, "bom_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assembly_part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    bom_id: Mapped[int | None] = mapped_column(ForeignKey("boms.id"))
    revision: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoutingOperation(Base):
    __tablename__ = "routing_operations"
    __table_args__ = (
        UniqueConstraint("routing_id", "seq"),
        CheckConstraint("setup_minutes >= 0", name="setup_non_negative"),
        CheckConstraint("run_minutes_per_unit >= 0", name="run_non_negative"),
        Index(None, "work_centre_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    routing_id: Mapped[int] = mapped_column(ForeignKey("routings.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("work_centres.id"))
    name: Mapped[str] = mapped_column(String(200))
    setup_minutes: Mapped[int] = mapped_column(Integer, default=0)
    run_minutes_per_unit: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    instructions: Mapped[str] = mapped_column(Text, default="")


class JobOperation(Base):
    """One step of a production job, copied from its routing when the job is released."""

    __tablename__ = "job_operations"
    __table_args__ = (
        UniqueConstraint("job_id", "seq"),
        CheckConstraint("planned_minutes >= 0", name="planned_non_negative"),
        CheckConstraint("status IN ('pending', 'running', 'paused', 'done')", name="status_known"),
        Index(None, "work_centre_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("production_jobs.id"))
    seq: Mapped[int] = mapped_column(Integer)
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("work_centres.id"))
    name: Mapped[str] = mapped_column(String(200))
    setup_minutes: Mapped[int] = mapped_column(Integer)
    run_minutes_per_unit: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    planned_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OperationBooking(Base):
    """Minutes of an operation planned on one day of its work centre."""

    __tablename__ = "operation_bookings"
    __table_args__ = (
        UniqueConstraint("operation_id", "day"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
        Index(None, "work_centre_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("job_operations.id", ondelete="CASCADE"))
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("work_centres.id"))
    day: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)


class WorkCentreDay(Base):
    """Capacity and planned minutes of a work centre on a day that has bookings."""

    __tablename__ = "work_centre_days"
    __table_args__ = (
        UniqueConstraint("work_centre_id", "day"),
        CheckConstraint("capacity_minutes >= 0", name="capacity_non_negative"),
        CheckConstraint("planned_minutes >= 0", name="planned_non_negative"),
        CheckConstraint("override_minutes >= 0", name="override_non_negative"),
        CheckConstraint(
            "planned_minutes <= capacity_minutes + override_minutes", name="not_over_capacity"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("work_centres.id"))
    day: Mapped[date] = mapped_column(Date)
    capacity_minutes: Mapped[int] = mapped_column(Integer)
    planned_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # minutes a manager confirmed beyond capacity (the sum of the day's active
    # `capacity_overrides`): the only way planned may exceed capacity
    override_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CapacityOverride(Base):
    """Minutes of one operation on one day that a manager confirmed over capacity.

    Active while `released_at` is NULL; taking the operation off the plan releases it
    (and lowers the day's `override_minutes` by the same amount)."""

    __tablename__ = "capacity_overrides"
    __table_args__ = (
        CheckConstraint("minutes > 0", name="minutes_positive"),
        Index(None, "operation_id"),
        Index(None, "work_centre_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("job_operations.id", ondelete="CASCADE"))
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("work_centres.id"))
    day: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    confirmed_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobHold(Base):
    """A production job put on hold on the shop floor (active while `released_at` is
    NULL, at most one active hold per job). `freed` lists the capacity it gave back:
    [[work centre id, ISO day, minutes], ...], the slot suggestions fill."""

    __tablename__ = "job_holds"
    __table_args__ = (Index(None, "job_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("production_jobs.id"))
    reason: Mapped[str] = mapped_column(String(500))
    freed: Mapped[list[list[object]]] = mapped_column(JSONType, default=list)
    held_by: Mapped[str] = mapped_column(String(100))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(100))


class TimeLog(Base):
    """An immutable row of operator time: never updated, never deleted.

    `start` opens an interval; `stop` closes one (`start_log_id`, unique) with the minutes
    and the good and scrapped quantities; `manual` books time a manager enters;
    `reversal` cancels a stop or manual row (`reverses_id`, unique) with negated values.
    An operation's actuals are the sums over its rows.
    """

    __tablename__ = "time_logs"
    __table_args__ = (
        CheckConstraint("kind IN ('start', 'stop', 'manual', 'reversal')", name="kind_known"),
        CheckConstraint(
            "(kind = 'start' AND minutes = 0 AND good_qty = 0 AND scrap_qty = 0)"
            " OR (kind IN ('stop', 'manual') AND minutes >= 0 AND good_qty >= 0"
            " AND scrap_qty >= 0)"
            " OR (kind = 'reversal' AND minutes <= 0 AND good_qty <= 0 AND scrap_qty <= 0)",
            name="signs_match_kind",
        ),
        Index(None, "operation_id"),
        Index(None, "employee_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("job_operations.id"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    start_log_id: Mapped[int | None] = mapped_column(ForeignKey("time_logs.id"), unique=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("time_logs.id"), unique=True)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    good_qty: Mapped[int] = mapped_column(Integer, default=0)
    scrap_qty: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(500), default="")
    actor_name: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(128))


class MachineReservation(Base):
    """A machine kept off the plan on whole days [first_day, last_day] (a planned
    maintenance window): its work centre's capacity on those days counts one machine
    fewer. Active while `released_at` is NULL; `reference` names who reserved it."""

    __tablename__ = "machine_reservations"
    __table_args__ = (
        CheckConstraint("last_day >= first_day", name="days_ordered"),
        Index(None, "work_centre_id", "first_day"),
        Index(None, "reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("work_centres.id"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
