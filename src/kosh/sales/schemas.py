"""Pydantic shapes for customers and sales orders."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from kosh.core.types import (
    CleanLine,
    CleanText,
    Id,
    Quantity,
    RequiredLine,
    Version,
    clean_json,
)
from kosh.sales.models import ORDER_STATUSES

OrderStatus = Literal["draft", "confirmed", "partially_shipped", "shipped", "on_hold", "cancelled"]
if set(OrderStatus.__args__) != set(ORDER_STATUSES):  # type: ignore[attr-defined]
    raise RuntimeError("OrderStatus and ORDER_STATUSES disagree")


def _email(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError("not an e-mail address")
    return value


Name = Annotated[RequiredLine, Field(max_length=200)]
Text = Annotated[CleanText, Field(max_length=2000)]
Short = Annotated[CleanLine, Field(max_length=200)]
Qty = Quantity
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4, allow_inf_nan=False)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
# Free-form address fields: clean text throughout, at most 50 keys.
Address = Annotated[dict[str, Any], Field(max_length=50), AfterValidator(clean_json)]


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    email: Annotated[Annotated[CleanLine, Field(max_length=254)] | None, AfterValidator(_email)] = (
        None
    )
    phone: Annotated[Short | None, Field(max_length=50)] = None
    company: Short | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    notes: Text = ""


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    email: str | None
    phone: str | None
    company: str | None
    billing_address: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    notes: str
    version: int
    created_at: datetime


class CustomerPage(BaseModel):
    items: list[CustomerRead]
    total: int
    next: str | None


class LineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    part_number: Annotated[RequiredLine, Field(max_length=64)]
    qty: Qty
    unit_price: Money | None = Field(default=None, description="defaults to the part's price")
    description: Annotated[CleanLine, Field(max_length=300)] = ""


class LineAdd(LineCreate):
    version: Version | None = None


class LinePatch(BaseModel):
    """Change a draft line: its quantity and / or unit price."""

    model_config = ConfigDict(extra="forbid")
    version: Version | None = None
    qty: Qty | None = None
    unit_price: Money | None = None


class LineRemove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Version | None = None


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: Id
    warehouse_id: Id
    lines: list[LineCreate] = Field(default_factory=list, max_length=500)
    currency: Currency | None = None
    notes: Text = ""
    backorder: StrictBool = False
    confirm: StrictBool = False


class Transition(BaseModel):
    """Body of confirm / hold / cancel; all optional."""

    model_config = ConfigDict(extra="forbid")
    version: Version | None = None
    reason: Annotated[CleanText, Field(max_length=500)] = ""
    allow_backorder: StrictBool | None = None


class HoldRequest(Transition):
    """Body of hold: the reservations stay unless `release_reservations`."""

    release_reservations: StrictBool = False


class ShipLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_id: Id
    qty: Qty


class ShipRequest(BaseModel):
    """Lines to ship; no body, or no lines, ships everything still open. Each call records
    one shipment, with the carrier and tracking number when given."""

    model_config = ConfigDict(extra="forbid")
    lines: list[ShipLine] | None = Field(default=None, max_length=500)
    version: Version | None = None
    carrier: Annotated[CleanLine, Field(max_length=100)] | None = None
    tracking_number: Annotated[CleanLine, Field(max_length=100)] | None = None


class ShipmentLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    order_line_id: int
    part_id: int
    qty: int


class ShipmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    order_id: int
    number: str
    carrier: str | None
    tracking_number: str | None
    shipped_at: datetime
    lines: list[ShipmentLineRead]


class ShipmentList(BaseModel):
    items: list[ShipmentRead]
    total: int


class LineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    line_no: int
    part_id: int
    description: str
    qty: int
    unit_price: Decimal
    qty_reserved: int
    qty_shipped: int
    qty_cancelled: int = 0
    warehouse_id: int | None = None
    qty_open: int
    qty_short: int
    external_line_id: str | None


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    number: str
    customer_id: int
    warehouse_id: int
    status: OrderStatus
    backorder: bool
    currency: str | None
    notes: str
    external_store: str | None
    external_id: str | None
    external_status: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    shipped_at: datetime | None
    cancelled_at: datetime | None
    lines: list[LineRead]


class OrderPage(BaseModel):
    items: list[OrderRead]
    total: int
    next: str | None


class Availability(BaseModel):
    warehouse_id: int
    items: list[dict[str, int]]


class RefundedLineRead(BaseModel):
    """Units of a web order line the store refunded; `qty_shipped` of them had left the
    building (a return to expect), the rest was released."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    order_id: int
    order_line_id: int
    part_id: int
    qty: int
    qty_shipped: int
    amount: Decimal
    recorded_at: datetime


class RefundedLinePage(BaseModel):
    items: list[RefundedLineRead]
    total: int
    next: str | None
