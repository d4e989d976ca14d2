"""Pydantic shapes for production jobs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kosh.bom.schemas import Notes, PartNumber
from kosh.core.types import CleanLine, Id, Quantity, RequiredLine

JobNumber = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
]
JobStatus = Literal["planned", "released", "in_progress", "complete", "cancelled"]
JobPriority = Literal["urgent", "high", "normal", "low"]


class JobCreate(BaseModel):
    """A new job: build `qty` of an assembly from a BOM, named by `bom_revision` (or
    `bom_id`), its active one when both are left out, in a warehouse."""

    model_config = ConfigDict(extra="forbid")
    number: JobNumber
    assembly_part_number: PartNumber
    bom_id: Id | None = None
    bom_revision: Annotated[CleanLine, Field(min_length=1, max_length=32)] | None = None
    qty: Quantity
    warehouse_id: Id
    due_date: date | None = None
    priority: JobPriority = "normal"
    notes: Notes = ""


class JobRelease(BaseModel):
    """`confirm: true` (managers only) releases a job despite its shortages. The shop
    floor schedules its operations: `scheduling` forward from `start` (default today),
    backward from the due date, or none; `confirm_over_capacity: true` (managers only)
    books them despite a full work centre; `propose_earliest: true` books them at the
    earliest feasible dates instead of answering 409 over_capacity."""

    model_config = ConfigDict(extra="forbid")
    confirm: StrictBool = False
    scheduling: Literal["forward", "backward", "none"] = "forward"
    start: date | None = None
    confirm_over_capacity: StrictBool = False
    propose_earliest: StrictBool = False


class JobComplete(BaseModel):
    """Optionally receive the finished assemblies as a new PCN at `location_id`."""

    model_config = ConfigDict(extra="forbid")
    produced_qty: Quantity | None = None
    location_id: Id | None = None
    pcn: Annotated[CleanLine, Field(max_length=64)] | None = None


class JobLineKit(BaseModel):
    """Pick for one job line: `qty` (default: what the line still lacks), optionally
    from one PCN; `allow_over_kit: true` confirms picking more than the line needs."""

    model_config = ConfigDict(extra="forbid")
    qty: Quantity | None = None
    pcn: Annotated[CleanLine, Field(max_length=64)] | None = None
    allow_over_kit: StrictBool = False


class KitPickRead(BaseModel):
    part_number: str
    qty: int
    pcns: list[str]


class LotUseRead(BaseModel):
    pcn: str
    lot_id: int
    picked: int
    consumed: int


class JobLineRead(BaseModel):
    id: int
    line_no: int
    part_id: int
    part_number: str
    description: str
    unit: str
    qty_per: int
    required: int
    kitted: int
    consumed: int
    outstanding: int
    on_hand: int
    committed: int
    available: int
    shortage: int
    pcns: list[LotUseRead]


class JobRead(BaseModel):
    id: int
    number: str
    assembly_part_id: int
    assembly_part_number: str
    bom_id: int
    bom_revision: str
    qty: int
    warehouse_id: int
    due_date: date | None
    priority: JobPriority
    status: JobStatus
    notes: str
    version: int
    produced_qty: int | None
    output_pcn: str | None
    created_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None
    over_planning_confirmed_by: str | None
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    shortage_lines: int


class JobDetail(JobRead):
    lines: list[JobLineRead]


class KitResult(JobDetail):
    """The job after kitting, with what was picked now."""

    picked: list[KitPickRead]


class JobPage(BaseModel):
    items: list[JobRead]
    total: int
    next: str | None = None


class PickSuggestionRead(BaseModel):
    pcn: str
    location_code: str
    qty: int


class PickListLineRead(BaseModel):
    line_id: int
    line_no: int
    part_number: str
    description: str
    outstanding: int
    short: int
    suggestions: list[PickSuggestionRead]


class PickListRead(BaseModel):
    """A job's pick list: per line what it still lacks and which PCN from which bin."""

    job_id: int
    job_number: str
    scan_confirm: bool
    lines: list[PickListLineRead]


class PickScan(BaseModel):
    """Confirm a pick-list line by the PCN label scanned; `reason` takes a PCN other
    than the oldest one (audited)."""

    model_config = ConfigDict(extra="forbid")
    scanned: Annotated[RequiredLine, Field(max_length=64)]
    reason: Annotated[CleanLine, Field(max_length=500)] | None = None


class PickScanRead(BaseModel):
    message: str
    pcn: str
    qty: int
    from_bins: list[str]
    overridden: bool
    line: PickListLineRead
