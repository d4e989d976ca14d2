"""Request and answer shapes of reorder rules and suggested purchases (builds included)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from kosh.core.types import MAX_QTY, Id, Quantity
from kosh.purchasing.schemas import LeadDays, OrderSummary, PartNumber


class ReorderRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    part_number: PartNumber
    warehouse_id: Id
    min_qty: Annotated[StrictInt, Field(ge=0, le=MAX_QTY)]
    max_qty: Annotated[StrictInt, Field(ge=0, le=MAX_QTY)]
    order_multiple: Quantity | None = None
    lead_time_days: LeadDays | None = None

    @model_validator(mode="after")
    def _max_at_least_min(self) -> ReorderRuleIn:
        if self.max_qty < self.min_qty:
            raise ValueError("max_qty must be at least min_qty")
        return self


class ReorderRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    part_id: int
    warehouse_id: int
    min_qty: int
    max_qty: int
    order_multiple: int | None
    lead_time_days: int | None
    version: int


class SuggestionRead(BaseModel):
    part_id: int
    part_number: str
    warehouse_id: int
    on_hand: int
    reserved: int
    job_demand: int
    on_order: int
    projected: int
    min_qty: int
    max_qty: int
    suggested_qty: int
    packs: int | None
    supplier_part_id: int | None
    supplier_code: str | None
    supplier_sku: str | None
    unit_price: Decimal | None
    currency: str | None
    action: Literal["purchase", "build"]
    bom_id: int | None
    in_production: int
    lead_time_days: int | None
    expected_date: date | None


class SuggestionPage(BaseModel):
    warehouse_id: int
    items: list[SuggestionRead]


class SuggestionOrderRequest(BaseModel):
    """Turn suggestions into draft POs, one per supplier, and planned jobs for the builds.
    Without `part_ids`, every build and every purchase with a supplier."""

    model_config = ConfigDict(extra="forbid")
    warehouse_id: Id
    part_ids: Annotated[list[Id], Field(max_length=500)] | None = None


class PlannedJob(BaseModel):
    """A production job planned from a build suggestion."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    number: str
    assembly_part_id: int
    bom_id: int
    qty: int
    status: str


class SuggestionOrderResult(BaseModel):
    orders: list[OrderSummary]
    jobs: list[PlannedJob]
