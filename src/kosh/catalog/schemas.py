"""Pydantic shapes for parts: create, update, read, page."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator

from kosh.core.types import (
    CleanLine,
    CountedQuantity,
    RequiredLine,
    Version,
    none_if_blank,
    refuse_null,
)

PartNumber = Annotated[RequiredLine, Field(max_length=64)]
Unit = Annotated[RequiredLine, Field(max_length=16)]
Description = Annotated[CleanLine, Field(max_length=500)]
ShortText = Annotated[CleanLine, Field(max_length=200)]
Mpn = Annotated[CleanLine, Field(max_length=100)]
Category = Annotated[CleanLine, Field(max_length=100)]
ReorderPoint = CountedQuantity
UnitCost = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4, allow_inf_nan=False)]


class PartCreate(BaseModel):
    """A new part. `number` is unique (409 when taken)."""

    model_config = ConfigDict(extra="forbid")
    number: PartNumber
    description: Description = ""
    unit: Unit = "pcs"
    category: Annotated[Category | None, AfterValidator(none_if_blank)] = None
    manufacturer: Annotated[ShortText | None, AfterValidator(none_if_blank)] = None
    mpn: Annotated[Mpn | None, AfterValidator(none_if_blank)] = None
    reorder_point: ReorderPoint = 0
    unit_cost: UnitCost | None = None
    list_price: UnitCost | None = Field(
        default=None, description="what the part sells for: the sales default and web check"
    )


_NOT_NULL = ("number", "description", "unit", "reorder_point", "active")


class PartUpdate(BaseModel):
    """A change to a part; `version` must be the one read (409 when stale).
    Fields left out stay as they are; `active: false` deactivates."""

    model_config = ConfigDict(extra="forbid")
    version: Version
    number: PartNumber | None = None
    description: Description | None = None
    unit: Unit | None = None
    category: Annotated[Category | None, AfterValidator(none_if_blank)] = None
    manufacturer: Annotated[ShortText | None, AfterValidator(none_if_blank)] = None
    mpn: Annotated[Mpn | None, AfterValidator(none_if_blank)] = None
    reorder_point: ReorderPoint | None = None
    unit_cost: UnitCost | None = None
    list_price: UnitCost | None = None
    active: StrictBool | None = None

    _no_null = field_validator(*_NOT_NULL, mode="before")(refuse_null)

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, without `version`."""
        return self.model_dump(exclude_unset=True, exclude={"version"})


class PartRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    number: str
    description: str
    unit: str
    category: str | None
    manufacturer: str | None
    mpn: str | None
    reorder_point: int
    unit_cost: Decimal | None
    list_price: Decimal | None
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class PartListItem(PartRead):
    """A part in a list, with its stock over every active warehouse."""

    on_hand: int = Field(description="units in storage locations")
    available: int = Field(description="on hand minus reserved by sales orders")


class PartPage(BaseModel):
    items: list[PartListItem]
    total: int
    total_capped: bool = Field(
        default=False, description="true: at least `total` match (counting stops there)"
    )
    next: str | None
