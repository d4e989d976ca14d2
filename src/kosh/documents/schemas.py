"""Pydantic shapes for warehouse documents, stocktake counts and the variance report."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kosh.core.types import CleanLine, CleanText, CountedQuantity, Id, Quantity, Version
from kosh.documents.models import DOCUMENT_STATUSES, DOCUMENT_TYPES
from kosh.stock.pcn import PCN_PATTERN

DocumentType = Literal["transfer", "issue", "receipt", "stocktake"]
DocumentStatus = Literal["draft", "posted", "cancelled"]
if set(DocumentType.__args__) != set(DOCUMENT_TYPES):  # type: ignore[attr-defined]
    raise RuntimeError("DocumentType and DOCUMENT_TYPES disagree")
if set(DocumentStatus.__args__) != set(DOCUMENT_STATUSES):  # type: ignore[attr-defined]
    raise RuntimeError("DocumentStatus and DOCUMENT_STATUSES disagree")

Pcn = Annotated[str, Field(min_length=1, max_length=64, pattern=PCN_PATTERN)]
PartNumber = Annotated[CleanLine, Field(min_length=1, max_length=64)]
Notes = Annotated[CleanText, Field(max_length=2000)]
Reason = Annotated[CleanLine, Field(max_length=500)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineCreate(_Request):
    """A transfer line (PCN or part, from, to), an issue line (PCN or part, from) or a
    receipt line (part, to, optional new PCN, date code, supplier)."""

    qty: Quantity
    pcn: Pcn | None = None
    part_number: PartNumber | None = None
    from_location_id: Id | None = None
    to_location_id: Id | None = None
    date_code: Annotated[CleanLine, Field(max_length=32)] | None = None
    supplier: Annotated[CleanLine, Field(max_length=200)] | None = None
    note: Annotated[CleanLine, Field(max_length=500)] = ""


class LineAdd(LineCreate):
    version: Version | None = None


class ScopeIn(_Request):
    zone: Annotated[CleanLine, Field(max_length=64)] | None = Field(
        default=None, description="location-code prefix"
    )
    location_ids: list[Id] = Field(default_factory=list, max_length=1000)
    part_ids: list[Id] = Field(default_factory=list, max_length=1000)


class DocumentCreate(_Request):
    type: DocumentType
    warehouse_id: Id
    lines: list[LineCreate] = Field(default_factory=list, max_length=1000)
    notes: Notes = ""
    issue_kind: Literal["consume", "scrap"] | None = None
    reason: Reason | None = None
    scope: ScopeIn | None = None
    blind: StrictBool = False


class DocumentUpdate(_Request):
    version: Version
    notes: Notes | None = None
    reason: Reason | None = None


class Transition(_Request):
    """Body of post / cancel / reverse; all optional."""

    version: Version | None = None
    reason: Reason = ""


class CountCreate(_Request):
    location_id: Id
    pcn: Pcn
    counted_qty: CountedQuantity


class RecountRequest(_Request):
    line_ids: list[Id] = Field(min_length=1, max_length=1000)
    version: Version | None = None


class LineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    line_no: int
    part_id: int
    part_number: str
    pcn: str | None
    lot_id: int | None
    qty: int
    from_location_id: int | None
    to_location_id: int | None
    date_code: str | None
    supplier: str | None
    note: str


class MovementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    line_no: int
    transaction_id: int
    pcn: str
    lot_id: int
    qty: int
    kind: str
    from_location_id: int | None
    to_location_id: int | None


class DocumentSummary(BaseModel):
    """A document in a list: no lines, how many it has."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    number: str
    type: str
    status: str
    warehouse_id: int
    notes: str
    reverses_id: int | None
    author_name: str
    version: int
    created_at: datetime
    posted_at: datetime | None
    line_count: int


class DocumentHeader(BaseModel):
    """A document without its lines."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    number: str
    type: str
    status: str
    warehouse_id: int
    notes: str
    issue_kind: str | None
    reason: str | None
    scope: dict[str, object] | None
    blind: bool
    reverses_id: int | None
    author_name: str
    posted_by: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    posted_at: datetime | None
    cancelled_at: datetime | None


class DocumentDetail(DocumentHeader):
    """A document with its first lines and movements (up to 200 each; a larger document
    pages the rest through `lines_next` / `movements_next`)."""

    lines: list[LineRead]
    line_count: int = 0
    lines_next: str | None = None
    movements: list[MovementRead] = Field(default_factory=list)
    movement_count: int = 0
    movements_next: str | None = None
    reversed_by: str | None = None


class LinePage(BaseModel):
    items: list[LineRead]
    total: int
    next: str | None


class MovementPage(BaseModel):
    items: list[MovementRead]
    total: int
    next: str | None


class DocumentPage(BaseModel):
    items: list[DocumentSummary]
    total: int
    next: str | None


class CountRead(BaseModel):
    line_id: int
    location_id: int
    pcn: str
    part_number: str
    counted_qty: int | None
    unexpected: bool
    expected_qty: int | None = Field(description="null in blind mode")
    book_qty: int | None = Field(description="null in blind mode")
    message: str


class VarianceLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    line_id: int
    location_id: int
    location_code: str
    pcn: str
    part_id: int
    part_number: str
    status: Literal["counted", "unexpected", "missing", "not_counted", "recount"]
    expected_qty: int
    book_qty: int | None
    counted_qty: int | None
    variance: int
    unit_cost: Decimal | None
    value: Decimal | None


class PartVarianceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    part_id: int
    part_number: str
    variance: int
    value: Decimal | None


class VarianceRead(BaseModel):
    document_id: int
    number: str
    status: str
    lines: list[VarianceLineRead]
    parts: list[PartVarianceRead]
    units_gained: int
    units_lost: int
    value: Decimal
    by_status: dict[str, int]


class PlanEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    location_id: int
    code: str
    kind: str
    last_counted_at: datetime | None
    abc: Literal["A", "B", "C"] = Field(description="the best class of the parts it holds")
    interval_days: int
    due_at: datetime | None = Field(description="null: never counted, due now")
    overdue: bool


class CountPolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    a_share: Decimal
    b_share: Decimal
    value_days: int
    days_a: int
    days_b: int
    days_c: int


class PartClassRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    part_id: int
    part_number: str
    units: int = Field(description="used up (picked, consumed, shipped) in the window")
    value: Decimal = Field(description="units at the part's unit cost")
    share: Decimal = Field(description="cumulative share of the total value, by rank")
    abc: Literal["A", "B", "C"]


class CycleCountPlan(BaseModel):
    warehouse_id: int
    policy: CountPolicyRead
    items: list[PlanEntryRead]


class PartClassPage(BaseModel):
    items: list[PartClassRead]
    total: int
    next: str | None


class ImportRowError(BaseModel):
    row: int
    column: str
    message: str


class ImportRowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    row: int
    part_number: str
    location: str
    qty: int
    pcn: str | None
    date_code: str | None
    supplier: str | None
    received_at: datetime | None


class ImportPartRead(BaseModel):
    part_number: str
    lots: int = Field(description="rows of the part: each becomes one new lot (PCN)")
    units: int


class ImportedDocument(BaseModel):
    id: int
    number: str
    status: str
    lines: int


class ImportReportRead(BaseModel):
    dry_run: bool
    file_name: str
    sheet: str | None
    header_row: int | None
    columns: dict[str, str]
    rows: int
    units: int
    error_count: int
    errors: list[ImportRowError]
    parts_to_create: list[str]
    by_part: list[ImportPartRead] = Field(
        default_factory=list, description="what will be received (was received), per part"
    )
    preview: list[ImportRowRead]
    document: ImportedDocument | None = Field(
        default=None, description="the posted receipt (GET it for its lines)"
    )
    import_id: int | None = Field(default=None, description="the import job (GET its status)")


class ImportAccepted(BaseModel):
    """A large file: the import runs in the background; poll `url`."""

    id: int
    status: str
    url: str


class ImportProblem(BaseModel):
    status: int
    code: str
    detail: str
    errors: list[dict[str, Any]] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


class ImportStatusRead(BaseModel):
    id: int
    warehouse_id: int
    file_name: str
    dry_run: bool
    status: Literal["queued", "running", "succeeded", "failed"]
    phase: str
    rows_done: int
    rows_total: int | None
    message: str | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    document_id: int | None
    report: ImportReportRead | None = Field(default=None, description="when succeeded")
    problem: ImportProblem | None = Field(default=None, description="when failed")
