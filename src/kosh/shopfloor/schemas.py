"""Pydantic shapes of the shop-floor API, built from the edge types in kosh.core.types."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from kosh.core.types import (
    MAX_QTY,
    CleanLine,
    CleanText,
    CountedQuantity,
    Id,
    RequiredLine,
    Version,
)

Code = Annotated[
    str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
]
Name = Annotated[RequiredLine, Field(max_length=200)]
Short = Annotated[CleanLine, Field(max_length=200)]
Reason = Annotated[CleanLine, Field(max_length=500)]
Badge = Annotated[RequiredLine, Field(max_length=64)]
PartNumber = Annotated[RequiredLine, Field(max_length=64)]
Hours = Annotated[Decimal, Field(ge=0, le=24, max_digits=4, decimal_places=2, allow_inf_nan=False)]
Minutes = Annotated[StrictInt, Field(ge=0, le=100_000)]
RunMinutes = Annotated[
    Decimal, Field(ge=0, le=10_000, max_digits=8, decimal_places=3, allow_inf_nan=False)
]
Efficiency = Annotated[StrictInt, Field(ge=1, le=200, description="percent")]
MachineStatus = Literal["running", "idle", "down", "maintenance"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Action = Literal["start", "pause", "finish"]


def to_minutes(hours: Decimal) -> int:
    """Hours to whole minutes (half a minute and more rounds up)."""
    return math.floor(hours * 60 + Decimal("0.5"))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- people -----------------------------------------------------------------------------


class DepartmentCreate(Strict):
    code: Code
    name: Name
    manager_user_id: Id | None = None


class DepartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    manager_user_id: int | None
    version: int


class EmployeeCreate(Strict):
    number: Code
    name: Name
    department_code: Code
    badge: Badge | None = None
    user_id: Id | None = None
    work_centres: Annotated[list[Code], Field(max_length=100)] = []


class EmployeeUpdate(Strict):
    version: Version
    name: Name | None = None
    department_code: Code | None = None
    badge: Badge | None = None
    remove_badge: StrictBool = False
    active: StrictBool | None = None
    work_centres: Annotated[list[Code], Field(max_length=100)] | None = None


class EmployeeRead(BaseModel):
    """The badge code itself is never answered: it is a credential for the scanner."""

    id: int
    number: str
    name: str
    department_id: int
    user_id: int | None
    has_badge: bool
    active: bool
    work_centre_ids: list[int]
    version: int


class EmployeePage(BaseModel):
    items: list[EmployeeRead]
    total: int
    next: str | None = None


# --- calendars, work centres, machines --------------------------------------------------


class CalendarCreate(Strict):
    code: Code
    name: Name
    hours: dict[Weekday, Hours]


class CalendarHours(Strict):
    version: Version
    hours: dict[Weekday, Hours]


class CalendarDayIn(Strict):
    day: date
    hours: Hours | None = Field(default=None, description="0 for a holiday; null removes")
    reason: Short = ""


class CalendarDayRead(BaseModel):
    day: date
    hours: float
    reason: str


class CalendarRead(BaseModel):
    id: int
    code: str
    name: str
    hours: dict[str, float]
    exceptions: list[CalendarDayRead]
    version: int


class MachineIn(Strict):
    asset_number: Code
    model: Short = ""
    serial: Annotated[CleanLine, Field(max_length=100)] = ""
    status: MachineStatus = "idle"


class MachineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    work_centre_id: int
    asset_number: str
    model: str
    serial: str
    status: str
    status_reason: str
    status_changed_at: datetime
    version: int


class MachineStatusIn(Strict):
    status: MachineStatus
    reason: Reason = ""
    version: Version | None = None


class CapacityChangeRead(BaseModel):
    displaced_operation_ids: list[int]


class MachineStatusRead(CapacityChangeRead):
    machine: MachineRead


class WorkCentreCreate(Strict):
    code: Code
    name: Name
    department_code: Code
    calendar_code: Code | None = None
    hours_per_day: dict[Weekday, Hours] | None = None
    efficiency_pct: Efficiency = 100
    machines: Annotated[list[MachineIn], Field(max_length=200)] = []


class EfficiencyIn(Strict):
    version: Version
    efficiency_pct: Efficiency


class WorkCentreRead(BaseModel):
    id: int
    code: str
    name: str
    department_id: int
    calendar_code: str
    efficiency_pct: int
    machines: list[MachineRead]
    version: int


class LoadPeriodRead(BaseModel):
    start: date
    capacity_minutes: int
    planned_minutes: int
    capacity_hours: float
    planned_hours: float
    utilisation: float | None


class LoadRead(BaseModel):
    work_centre: str
    periods: list[LoadPeriodRead]


# --- routings and job operations ---------------------------------------------------------


class RoutingOperationIn(Strict):
    seq: Annotated[StrictInt, Field(ge=1, le=9999)]
    work_centre_code: Code
    name: Short = ""
    setup_minutes: Minutes = 0
    run_minutes_per_unit: RunMinutes
    instructions: Annotated[CleanText, Field(max_length=4000)] = ""


class RoutingCreate(Strict):
    assembly_part_number: PartNumber
    revision: Code = "A"
    bom_id: Id | None = None
    notes: Annotated[CleanText, Field(max_length=2000)] = ""
    operations: Annotated[list[RoutingOperationIn], Field(min_length=1, max_length=200)]


class RoutingCopy(Strict):
    revision: Code


class RoutingOperationRead(BaseModel):
    seq: int
    work_centre_id: int
    name: str
    setup_minutes: int
    run_minutes_per_unit: Decimal
    instructions: str


class RoutingRead(BaseModel):
    id: int
    assembly_part_id: int
    bom_id: int | None
    revision: str
    active: bool
    notes: str
    version: int
    operations: list[RoutingOperationRead]


class BookingRead(BaseModel):
    day: date
    minutes: int


class OperationRead(BaseModel):
    id: int
    barcode: str
    job_id: int
    seq: int
    work_centre: str
    name: str
    status: str
    setup_minutes: int
    run_minutes_per_unit: Decimal
    planned_minutes: int
    actual_minutes: int
    good_qty: int
    scrap_qty: int
    operators_on: int
    bookings: list[BookingRead]
    version: int


class JobOperations(BaseModel):
    job_id: int
    operations: list[OperationRead]


class ScheduleIn(Strict):
    """`direction` forward (from `start`) or backward (from `finish_by`, default the due
    date); `confirm_over_capacity` (managers) books despite a full work centre;
    `propose_earliest` books at the earliest feasible dates instead of a 409."""

    start: date
    finish_by: date | None = None
    direction: Literal["forward", "backward"] = "forward"
    confirm_over_capacity: StrictBool = False
    propose_earliest: StrictBool = False


class OverloadRead(BaseModel):
    work_centre_id: int
    day: date
    minutes: int


class ScheduleRead(JobOperations):
    start: date
    finish: date | None
    direction: str = "forward"
    late: bool = False
    overloads: list[OverloadRead] = []


class BatchScheduleIn(Strict):
    job_ids: Annotated[list[Id], Field(min_length=1, max_length=2000)]
    start: date
    finish_by: date


class BatchOutcomeRead(BaseModel):
    job_id: int
    scheduled: bool
    finish: date | None
    code: str | None
    detail: dict[str, Any] | None


class BatchScheduleRead(BaseModel):
    items: list[BatchOutcomeRead]
    scheduled: int
    refused: int


class UnscheduleRead(BaseModel):
    job_id: int
    freed_minutes: int


# --- time logs --------------------------------------------------------------------------


class OperatorIn(Strict):
    badge: Badge | None = None
    employee_number: Code | None = None


class StopIn(OperatorIn):
    good_qty: CountedQuantity = 0
    scrap_qty: CountedQuantity = 0
    reason: Reason = ""


class ScanIn(StopIn):
    operation: Annotated[RequiredLine, Field(max_length=20, description="OP-123 or 123")]
    action: Action


class CorrectionIn(Strict):
    reason: Annotated[RequiredLine, Field(max_length=500)]
    minutes: Annotated[StrictInt, Field(ge=0, le=MAX_QTY)] | None = None
    good_qty: CountedQuantity | None = None
    scrap_qty: CountedQuantity | None = None


class TimeLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    operation_id: int
    employee_id: int
    kind: str
    at: datetime
    start_log_id: int | None
    reverses_id: int | None
    minutes: int
    good_qty: int
    scrap_qty: int
    reason: str
    actor_name: str


class ScanRead(BaseModel):
    message: str
    time_log: TimeLogRead
    operation: OperationRead
