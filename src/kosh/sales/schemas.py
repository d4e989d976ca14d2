"""Pydantic shapes for customers and sales orders."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from kosh.sales.models import ORDER_STATUSES

MAX_QTY = 1_000_000_000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

OrderStatus = Literal["draft", "confirmed", "partially_shipped", "shipped", "on_hold", "cancelled"]
if set(OrderStatus.__args__) != set(ORDER_STATUSES):  # type: ignore[attr-defined]
    raise RuntimeError("OrderStatus and ORDER_STATUSES disagree")


def _clean(value: str) -> str:
    value = value.strip()
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _required(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


def _email(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError("not an e-mail address")
    return value


Name = Annotated[str, Field(max_length=200), AfterValidator(_clean), AfterValidator(_required)]
Text = Annotated[str, Field(max_length=2000), AfterValidator(_clean)]
Short = Annotated[str, Field(max_length=200), AfterValidator(_clean)]
Qty = Annotated[StrictInt, Field(gt=0, le=MAX_QTY)]
Id = Annotated[StrictInt, Field(ge=1, le=2_147_483_647)]
Version = Annotated[StrictInt, Field(ge=1)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4, allow_inf_nan=False)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    email: Annotated[str | None, Field(max_length=254), AfterValidator(_email)] = None
    phone: Annotated[Short | None, Field(max_length=50)] = None
    company: Short | None = None
    billing_address: dict[str, Any] | None = None
    shipping_address: dict[str, Any] | None = None
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
    part_number: Annotated[
        str, Field(max_length=64), AfterValidator(_clean), AfterValidator(_required)
    ]
    qty: Qty
    unit_price: Money | None = Field(default=None, description="defaults to the part's price")
    description: Annotated[str, Field(max_length=300), AfterValidator(_clean)] = ""


class LineAdd(LineCreate):
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
    reason: Annotated[str, Field(max_length=500), AfterValidator(_clean)] = ""
    allow_backorder: StrictBool | None = None


class ShipLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_id: Id
    qty: Qty


class ShipRequest(BaseModel):
    """Lines to ship; no body, or no lines, ships everything still open."""

    model_config = ConfigDict(extra="forbid")
    lines: list[ShipLine] | None = Field(default=None, max_length=500)
    version: Version | None = None


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
