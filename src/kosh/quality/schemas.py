"""Pydantic shapes of the quality API, built from the edge types in kosh.core.types."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from kosh.core.types import CleanLine, CleanText, Id, Quantity, RequiredLine, Version
from kosh.quality.models import SavedView

Code = Annotated[
    str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
]
Pcn = Annotated[RequiredLine, Field(max_length=64)]
PartNumber = Annotated[RequiredLine, Field(max_length=64)]
Title = Annotated[RequiredLine, Field(max_length=200)]
Text = Annotated[CleanText, Field(max_length=10_000)]
Short = Annotated[CleanLine, Field(max_length=100)]
Status = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Kind = Literal["maintenance", "ncr", "replacement"]
Priority = Literal["low", "normal", "high", "critical"]
Category = Literal["open", "waiting", "done"]
Minutes = Annotated[StrictInt, Field(ge=1, le=10_000_000)]
Interval = Annotated[StrictInt, Field(ge=1, le=100_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- tickets --------------------------------------------------------------------------


class LinksIn(Strict):
    machine_code: Code | None = None
    pcn: Pcn | None = None
    part_number: PartNumber | None = None
    job_id: Id | None = None
    operation_code: Annotated[RequiredLine, Field(max_length=16)] | None = None
    work_centre_code: Code | None = None
    sales_order_id: Id | None = None
    supplier_code: Code | None = None
    customer_id: Id | None = None


class TicketCreate(Strict):
    kind: Kind
    title: Title
    priority: Priority = "normal"
    description: Text = ""
    links: LinksIn = Field(default_factory=LinksIn)
    machine_down: StrictBool = False
    cause: Short = ""
    assignee_user_id: Id | None = None
    assignee_department_code: Code | None = None


class TicketScan(Strict):
    code: Annotated[RequiredLine, Field(max_length=64, description="a PCN or machine label")]
    kind: Kind
    title: Title
    priority: Priority = "normal"
    description: Text = ""
    machine_down: StrictBool = False
    cause: Short = ""


class TicketUpdate(Strict):
    version: Version | None = None
    title: Title | None = None
    description: Text | None = None
    priority: Priority | None = None
    cause: Short | None = None
    root_cause: Text | None = None
    corrective_action: Text | None = None
    assignee_user_id: Id | None = None


class TransitionIn(Strict):
    to: Status
    version: Version | None = None
    note: Annotated[CleanText, Field(max_length=2000)] = ""


class CommentIn(Strict):
    # not "body": problem+json drops that word from error locations
    text: Annotated[CleanText, Field(min_length=1, max_length=10_000)]


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    number: str
    title: str
    description: str
    priority: str
    status: str
    category: str
    assignee_user_id: int | None
    assignee_department_id: int | None
    part_id: int | None
    lot_id: int | None
    job_id: int | None
    operation_id: int | None
    machine_id: int | None
    work_centre_id: int | None
    sales_order_id: int | None
    supplier_id: int | None
    customer_id: int | None
    return_id: int | None
    replacement_order_id: int | None
    machine_down: bool
    cause: str
    root_cause: str
    corrective_action: str
    opened_at: datetime
    responded_at: datetime | None
    resolved_at: datetime | None
    version: int


class TicketPage(BaseModel):
    items: list[TicketRead]
    total: int
    next: str | None


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    at: datetime
    from_status: str | None
    to_status: str | None
    category: str | None
    body: str
    actor_name: str


class ClockRead(BaseModel):
    name: str
    target_minutes: int
    elapsed_minutes: float
    state: str
    due_at: datetime | None


class SlaRead(BaseModel):
    response: ClockRead
    resolution: ClockRead


class AttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size_bytes: int
    created_at: datetime


class TicketDetail(TicketRead):
    events: list[EventRead]
    allowed: list[str]
    sla: SlaRead | None
    attachments: list[AttachmentRead]


# --- NCR ------------------------------------------------------------------------------


class ContainIn(Strict):
    pcn: Pcn
    location_id: Id
    qty: Quantity | None = None


class DispositionIn(Strict):
    action: Literal["scrap", "rework", "use_as_is", "return_to_supplier"]
    pcn: Pcn
    qty: Quantity
    from_location_id: Id | None = None
    location_id: Id | None = None


class MovedRead(BaseModel):
    pcn: str
    qty: int
    from_location_id: int
    to_location_id: int | None


# --- maintenance ----------------------------------------------------------------------


class PlanCreate(Strict):
    machine_code: Code
    title: Annotated[CleanLine, Field(max_length=200)] = ""
    every_days: Interval | None = None
    every_run_hours: Interval | None = None
    priority: Priority = "normal"


class PlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    machine_id: int
    title: str
    every_days: int | None
    every_run_hours: int | None
    priority: str
    next_due_on: date | None
    active: bool
    version: int


class SparesIn(Strict):
    part_number: PartNumber
    qty: Quantity
    warehouse_id: Id


class SpareLineRead(BaseModel):
    pcn: str
    qty: int
    from_location_id: int


# --- returns --------------------------------------------------------------------------


class ReturnLineIn(Strict):
    part_number: PartNumber
    qty: Quantity


class ReturnCreate(Strict):
    sales_order_id: Id
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=200)]
    reason: Annotated[RequiredLine, Field(max_length=500)]
    outcome: Literal["refund", "replacement", "repair"] = "refund"


class ReceiveIn(Strict):
    location_id: Id


class InspectLineIn(Strict):
    pcn: Pcn
    qty: Quantity
    outcome: Literal["restock", "scrap", "repair"]
    location_id: Id | None = None


class InspectIn(Strict):
    lines: Annotated[list[InspectLineIn], Field(min_length=1, max_length=200)]


class ReturnLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sales_order_line_id: int
    part_id: int
    qty: int
    lot_id: int | None
    restocked_qty: int
    scrapped_qty: int
    repair_qty: int
    repair_job_id: int | None


class ReturnRead(BaseModel):
    id: int
    number: str
    sales_order_id: int
    reason: str
    outcome: str
    status: str
    location_id: int | None
    created_at: datetime
    lines: list[ReturnLineRead]


class ReplacementIn(Strict):
    lines: Annotated[list[ReturnLineIn], Field(max_length=200)] = Field(default_factory=list)
    warehouse_id: Id | None = None


# --- SLA and workflows ----------------------------------------------------------------


class SlaPolicyIn(Strict):
    kind: Kind
    priority: Priority
    response_minutes: Minutes
    resolution_minutes: Minutes
    calendar_code: Code | None = None
    calendar_kind: Literal["shift", "support"] = "shift"
    day_start: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "08:00"
    timezone: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_/+-]+$")] = (
        "UTC"
    )
    warning_pct: Annotated[StrictInt, Field(ge=1, le=99)] = 80


class SlaPolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    priority: str
    response_minutes: int
    resolution_minutes: int
    calendar_code: str | None
    calendar_kind: str
    day_start: str
    timezone: str
    warning_pct: int
    version: int


class SupportCalendarIn(Strict):
    code: Code
    name: Title
    minutes: dict[
        Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        Annotated[StrictInt, Field(ge=0, le=1440)],
    ] = Field(default_factory=dict)


class SupportCalendarDayIn(Strict):
    day: date
    minutes: Annotated[StrictInt, Field(ge=0, le=1440)] | None = None
    reason: Short = ""


class SupportCalendarRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    mon_minutes: int
    tue_minutes: int
    wed_minutes: int
    thu_minutes: int
    fri_minutes: int
    sat_minutes: int
    sun_minutes: int
    version: int


class TicketFilters(Strict):
    kind: Kind | None = None
    category: Category | None = None
    priority: Priority | None = None


class SavedViewIn(Strict):
    name: Annotated[RequiredLine, Field(max_length=80)]
    filters: TicketFilters = Field(default_factory=TicketFilters)
    shared: StrictBool = False


class SavedViewRead(BaseModel):
    id: int
    name: str
    filters: dict[str, str]
    shared: bool
    mine: bool
    href: str

    @classmethod
    def of(cls, view: SavedView, user_id: int) -> SavedViewRead:
        return cls(
            id=view.id,
            name=view.name,
            filters=dict(parse_qsl(view.filters)),
            shared=view.shared,
            mine=view.user_id == user_id,
            href="/quality/tickets" + (f"?{view.filters}" if view.filters else ""),
        )


class SlaReportRow(BaseModel):
    month: str
    kind: str
    met: int
    breached: int


class StatusIn(Strict):
    status: Status
    category: Category


class WorkflowIn(Strict):
    statuses: Annotated[list[StatusIn], Field(min_length=1, max_length=50)]
    initial: Status
    transitions: Annotated[list[tuple[Status, Status]], Field(max_length=500)]


class WorkflowRead(BaseModel):
    kind: str
    initial: str
    statuses: list[StatusIn]
    transitions: list[tuple[str, str]]
