"""Pydantic shapes for suppliers, supplier parts, purchase orders, receipts, suggestions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from kosh.core.types import (
    CleanLine,
    CleanText,
    Id,
    Quantity,
    RequiredLine,
    Version,
    none_if_blank,
    refuse_null,
)
from kosh.purchasing.barcode import MAX_LENGTH as MAX_BARCODE

Code = Annotated[RequiredLine, Field(max_length=32)]
Name = Annotated[RequiredLine, Field(max_length=200)]
Sku = Annotated[RequiredLine, Field(max_length=64)]
PartNumber = Annotated[RequiredLine, Field(max_length=64)]
Optional200 = Annotated[CleanLine | None, Field(max_length=200), AfterValidator(none_if_blank)]
Optional100 = Annotated[CleanLine | None, Field(max_length=100), AfterValidator(none_if_blank)]
Optional64 = Annotated[CleanLine | None, Field(max_length=64), AfterValidator(none_if_blank)]
Optional32 = Annotated[CleanLine | None, Field(max_length=32), AfterValidator(none_if_blank)]
Notes = Annotated[CleanText, Field(max_length=5000)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
LeadDays = Annotated[StrictInt, Field(ge=0, le=3650)]
Price = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("9999999999"), max_digits=14, decimal_places=4, allow_inf_nan=False),
]
Status = Literal["draft", "placed", "partially_received", "received", "cancelled", "closed_short"]


def _barcode(value: str) -> str:
    # A label legitimately holds RS, GS and EOT; every other control character (NUL first)
    # is refused here, so nothing hostile reaches the decoder or the database.
    if any((ord(c) < 32 and c not in "\x1d\x1e\x04\r\n\t") or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters other than RS, GS and EOT")
    return value


Barcode = Annotated[str, Field(max_length=MAX_BARCODE), AfterValidator(_barcode)]


# --- suppliers ------------------------------------------------------------------------


class SupplierCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code
    name: Name
    contact: Optional200 = None
    email: Annotated[CleanLine | None, Field(max_length=254), AfterValidator(none_if_blank)] = None
    phone: Annotated[CleanLine | None, Field(max_length=50), AfterValidator(none_if_blank)] = None
    currency: Currency = "EUR"
    lead_time_days: LeadDays = 0
    notes: Notes = ""


class SupplierUpdate(BaseModel):
    """Fields left out stay as they are; `version` must be the one read (409 when stale)."""

    model_config = ConfigDict(extra="forbid")
    version: Version
    name: Name | None = None
    contact: Optional200 = None
    email: Annotated[CleanLine | None, Field(max_length=254), AfterValidator(none_if_blank)] = None
    phone: Annotated[CleanLine | None, Field(max_length=50), AfterValidator(none_if_blank)] = None
    currency: Currency | None = None
    lead_time_days: LeadDays | None = None
    notes: Notes | None = None
    active: StrictBool | None = None

    _no_null = field_validator(
        "name", "currency", "lead_time_days", "notes", "active", mode="before"
    )(refuse_null)

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"version"})


class SupplierRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    contact: str | None
    email: str | None
    phone: str | None
    currency: str
    lead_time_days: int
    notes: str
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class SupplierPage(BaseModel):
    items: list[SupplierRead]
    total: int
    next: str | None


# --- supplier parts -------------------------------------------------------------------


class PriceBreak(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)
    min_qty: Quantity
    unit_price: Price


def _distinct_breaks(prices: list[PriceBreak] | None) -> list[PriceBreak] | None:
    if prices is not None and len({p.min_qty for p in prices}) != len(prices):
        raise ValueError("each min_qty may appear once")
    return prices


PriceBreaks = Annotated[list[PriceBreak], Field(max_length=20), AfterValidator(_distinct_breaks)]


class SupplierPartCreate(BaseModel):
    """A supplier's offer of a part. `pack_size` base units make one pack; `min_order_qty`
    is in base units; price breaks are per base unit in the supplier's currency."""

    model_config = ConfigDict(extra="forbid")
    supplier_code: Code
    part_number: PartNumber
    sku: Sku
    manufacturer: Optional200 = None
    mpn: Optional100 = None
    pack_size: Quantity = 1
    pack_unit: Annotated[RequiredLine, Field(max_length=16)] = "pcs"
    min_order_qty: Quantity = 1
    lead_time_days: LeadDays | None = None
    preferred: StrictBool = False
    prices: PriceBreaks = Field(default_factory=list)


class SupplierPartUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Version
    manufacturer: Optional200 = None
    mpn: Optional100 = None
    pack_size: Quantity | None = None
    pack_unit: Annotated[RequiredLine, Field(max_length=16)] | None = None
    min_order_qty: Quantity | None = None
    lead_time_days: LeadDays | None = None
    preferred: StrictBool | None = None
    active: StrictBool | None = None
    prices: PriceBreaks | None = None

    _no_null = field_validator(
        "pack_size", "pack_unit", "min_order_qty", "preferred", "active", "prices", mode="before"
    )(refuse_null)

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"version"})


class SupplierPartRead(BaseModel):
    id: int
    supplier_id: int
    supplier_code: str
    part_id: int
    part_number: str
    sku: str
    manufacturer: str | None
    mpn: str | None
    pack_size: int
    pack_unit: str
    min_order_qty: int
    lead_time_days: int | None
    preferred: bool
    active: bool
    currency: str
    prices: list[PriceBreak]
    version: int


class SupplierPartPage(BaseModel):
    items: list[SupplierPartRead]
    total: int
    next: str | None


class ImportResult(BaseModel):
    created: int
    updated: int


# --- purchase orders ------------------------------------------------------------------


class OrderLineIn(BaseModel):
    """A line names the supplier's SKU or the part number (then the supplier's preferred
    offer of it), and the quantity in base units (`qty`) or in packs (`packs`)."""

    model_config = ConfigDict(extra="forbid")
    part_number: Annotated[CleanLine | None, Field(max_length=64)] = None
    supplier_sku: Annotated[CleanLine | None, Field(max_length=64)] = None
    qty: Quantity | None = None
    packs: Quantity | None = None
    unit_price: Price | None = None
    expected_date: date | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> OrderLineIn:
        if not (self.part_number or self.supplier_sku):
            raise ValueError("name the part: part_number or supplier_sku")
        if (self.qty is None) == (self.packs is None):
            raise ValueError("give exactly one of qty (base units) or packs")
        return self


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    supplier_code: Code
    warehouse_id: Id
    currency: Currency | None = None
    expected_date: date | None = None
    notes: Notes = ""
    lines: Annotated[list[OrderLineIn], Field(max_length=500)] = Field(default_factory=list)


class OrderUpdate(BaseModel):
    """Notes and expected date change on any open order; lines only while it is a draft."""

    model_config = ConfigDict(extra="forbid")
    version: Version
    expected_date: date | None = None
    notes: Notes | None = None
    lines: Annotated[list[OrderLineIn], Field(max_length=500)] | None = None

    _no_null = field_validator("notes", mode="before")(refuse_null)


class LinesAdd(OrderLineIn):
    """One more line for a draft; `version` as read (409 when stale)."""

    version: Version | None = None


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Version | None = None
    reason: Annotated[CleanLine, Field(max_length=500)] = ""


class OrderLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    line_no: int
    supplier_part_id: int
    part_id: int
    qty: int
    packs: int | None
    qty_received: int
    open_qty: int
    unit_price: Decimal
    expected_date: date | None


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    number: str
    supplier_id: int
    warehouse_id: int
    status: Status
    currency: str
    expected_date: date | None
    notes: str
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime
    placed_at: datetime | None
    finished_at: datetime | None
    lines: list[OrderLineRead]


class OrderSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    number: str
    supplier_id: int
    warehouse_id: int
    status: Status
    currency: str
    expected_date: date | None
    version: int
    created_at: datetime


class OrderPage(BaseModel):
    items: list[OrderSummary]
    total: int
    next: str | None


# --- receiving ------------------------------------------------------------------------


class ReceiveLineIn(BaseModel):
    """One bag: the PO line (or a distributor label that names it), and the quantity (or
    the label's). Lot code, date code and country default to the label's."""

    model_config = ConfigDict(extra="forbid")
    line_id: Id | None = None
    barcode: Barcode | None = None
    qty: Quantity | None = None
    lot_code: Optional64 = None
    date_code: Optional32 = None
    country: Annotated[str | None, Field(pattern=r"^[A-Z]{2,3}$")] = None

    @model_validator(mode="after")
    def _names_a_line(self) -> ReceiveLineIn:
        if self.line_id is None and not self.barcode:
            raise ValueError("give line_id or a barcode")
        return self


class ReceiveRequest(ReceiveLineIn):
    """Receive one bag (the fields of a line) or several at once (`lines`: all or none)."""

    line_id: Id | None = None
    location_id: Id
    lines: Annotated[list[ReceiveLineIn], Field(min_length=1, max_length=200)] | None = None
    allow_over_receipt: StrictBool = False

    @model_validator(mode="after")
    def _names_a_line(self) -> ReceiveRequest:
        if self.lines is None and self.line_id is None and not self.barcode:
            raise ValueError("give line_id, a barcode, or lines")
        return self


class ReceiptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    pcn: str
    lot_id: int
    line_id: int
    part_id: int
    qty: int
    location_id: int
    transaction_id: int
    lot_code: str | None
    date_code: str | None
    country: str | None
    label_format: str | None
    over_receipt: bool
    actor_name: str
    created_at: datetime
    reversed_at: datetime | None
    reversed_by: str | None


class ReceiveResult(BaseModel):
    pcn: str = Field(description="the PCN of the first (often only) receipt")
    receipts: list[ReceiptRead]
    order: OrderRead


class ReverseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[RequiredLine, Field(max_length=500)]


class LabelRead(BaseModel):
    format: str
    qty: int | None
    customer_part: str | None
    supplier_sku: str | None
    mpn: str | None
    manufacturer: str | None
    po: str | None
    lot: str | None
    date_code: str | None
    country: str | None
    line_id: int | None = Field(default=None, description="the PO line it matches, if any")


class DecodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    barcode: Annotated[Barcode, Field(min_length=1)]
    order_id: Id | None = None


# --- reorder --------------------------------------------------------------------------


class OnOrderRead(BaseModel):
    part_id: int
    warehouse_id: int
    on_order: int
    orders: list[dict[str, Any]]
