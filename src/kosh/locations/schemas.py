"""Pydantic shapes for warehouses and locations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from kosh.core.types import CleanLine, Id, RequiredLine

LocationKind = Literal["storage", "receiving", "mfg_floor", "quarantine", "shipping"]

WarehouseCode = Annotated[
    str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
LocationCode = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
]


class WarehouseCreate(BaseModel):
    """A new warehouse; its manufacturing-floor location `MFG` comes with it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    code: WarehouseCode
    name: Annotated[RequiredLine, Field(max_length=200)]


class WarehouseRead(BaseModel):
    id: int
    code: str
    name: str
    active: bool
    created_at: datetime
    mfg_location_id: int | None


class WarehousePage(BaseModel):
    items: list[WarehouseRead]
    total: int
    next: str | None


class LocationCreate(BaseModel):
    """A new location; the code is unique within its warehouse."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    warehouse_id: Id
    code: LocationCode
    kind: LocationKind
    description: Annotated[CleanLine, Field(max_length=200)] = ""


class LocationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    warehouse_id: int
    code: str
    kind: LocationKind
    description: str
    active: bool
    created_at: datetime


class LocationPage(BaseModel):
    items: list[LocationRead]
    total: int
    next: str | None


class LocationContent(BaseModel):
    """One PCN held at a location."""

    lot_id: int
    pcn: str
    part_id: int
    part_number: str
    description: str
    qty: int


class LocationDetail(LocationRead):
    warehouse_code: str
    contents: list[LocationContent]
    contents_total: int
    total_qty: int


class LocationContentPage(BaseModel):
    items: list[LocationContent]
    total: int
    next: str | None


class LocationOptionRead(BaseModel):
    """A location as a form field offers it; `value` is what to type or scan."""

    id: int
    code: str
    warehouse_id: int
    warehouse_code: str
    kind: LocationKind
    value: str
    label: str


class LocationOptions(BaseModel):
    """Search-as-you-type answer: at most `limit` locations, and whether there are more."""

    items: list[LocationOptionRead]
    more: bool


AisleLetter = Annotated[str, Field(min_length=1, max_length=1, pattern=r"^[A-Za-z]$")]
RangeNumber = Annotated[int, Field(ge=0, le=9999)]
StockableKind = Literal["storage", "receiving", "quarantine", "shipping"]


class BinRangeCreate(BaseModel):
    """A range of bins: aisles `aisle_from`..`aisle_to` x racks x levels, each number
    zero-padded to `digits` (A-01-01 ... C-03-04); at most 5,000 bins a request."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    warehouse_id: Id
    aisle_from: AisleLetter
    aisle_to: AisleLetter
    rack_from: RangeNumber = 1
    rack_to: RangeNumber
    level_from: RangeNumber = 1
    level_to: RangeNumber
    digits: Annotated[int, Field(ge=1, le=4)] = 2
    separator: Literal["-", ".", ""] = "-"
    kind: StockableKind = "storage"
    description: Annotated[CleanLine, Field(max_length=200)] = ""


class BinRangePreview(BaseModel):
    """What the range would create: the count, first and last code, the first codes, and
    the codes that exist already (at most 50 listed; `taken_count` is all of them)."""

    count: int
    first: str
    last: str
    sample: list[str]
    taken: list[str]
    taken_count: int


class BinRangeCreated(BaseModel):
    warehouse_id: int
    count: int
    first: str
    last: str
    codes: list[str]
