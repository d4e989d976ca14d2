"""Pydantic shapes for stock operations, PCNs, stock of a part and ledger history.

Quantities are strict integers: "12abc", "1e3", "-5", 0, 1.5, true and "" are refused
with a field error, as is anything above 1,000,000,000.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kosh.core.types import CleanLine, CountedQuantity, Id, Quantity, RequiredLine, RequiredText
from kosh.stock.pcn import PCN_PATTERN

Pcn = Annotated[str, Field(min_length=1, max_length=64, pattern=PCN_PATTERN)]
PartNumber = Annotated[RequiredLine, Field(max_length=64)]
Reference = Annotated[RequiredLine, Field(max_length=100)]
Reason = Annotated[RequiredText, Field(max_length=500)]
OptionalReference = Annotated[CleanLine, Field(max_length=100)]
# ISO 3166 alpha-2 (or alpha-3) as labels print it: "CN", "DEU"
CountryCode = Annotated[CleanLine, Field(pattern=r"^[A-Z]{2,3}$")]
# The ledger kinds (kosh.stock.models.MOVEMENT_KINDS), for history filters.
MovementKind = Literal[
    "receive",
    "pick",
    "restock",
    "transfer",
    "adjust",
    "consume",
    "scrap",
    "ship",
    "produce",
    "receipt_reversal",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReceiveRequest(_Request):
    part_number: PartNumber
    qty: Quantity
    location_id: Id
    pcn: Pcn | None = None
    date_code: Annotated[CleanLine, Field(max_length=32)] | None = None
    supplier: Annotated[CleanLine, Field(max_length=200)] | None = None
    reference: OptionalReference | None = None
    lot_code: Annotated[CleanLine, Field(max_length=64)] | None = None
    country_of_origin: CountryCode | None = None


class ReceiveResult(BaseModel):
    pcn: str
    lot_id: int
    part_id: int
    part_number: str
    qty: int
    location_id: int
    location_code: str
    transaction_id: int


class PickRequest(_Request):
    part_number: PartNumber
    qty: Quantity
    warehouse_id: Id
    reference: Reference
    pcn: Pcn | None = None
    allow_over_kit: StrictBool = False


class PickLineRead(BaseModel):
    pcn: str
    lot_id: int
    qty: int
    from_location_id: int
    from_location_code: str


class PickResult(BaseModel):
    part_id: int
    part_number: str
    qty: int
    warehouse_id: int
    to_location_id: int
    to_location_code: str
    reference: str
    lines: list[PickLineRead]


class RestockRequest(_Request):
    pcn: Pcn
    qty: Quantity
    to_location_id: Id | None = None


class TransferRequest(_Request):
    pcn: Pcn
    qty: Quantity
    from_location_id: Id
    to_location_id: Id


class ConsumeRequest(_Request):
    pcn: Pcn
    qty: Quantity
    location_id: Id
    reason: Reason
    reference: OptionalReference | None = None
    scrap: StrictBool = False


class MovementResult(BaseModel):
    pcn: str
    lot_id: int
    qty: int
    kind: str
    from_location_id: int | None
    to_location_id: int | None
    from_location_code: str | None
    to_location_code: str | None
    transaction_id: int


class AdjustRequest(_Request):
    pcn: Pcn
    location_id: Id
    counted_qty: CountedQuantity
    reason: Reason


class AdjustResult(BaseModel):
    pcn: str
    lot_id: int
    location_id: int
    location_code: str
    previous_qty: int
    counted_qty: int
    difference: int
    transaction_id: int | None


class BalanceRead(BaseModel):
    location_id: int
    location_code: str
    warehouse_id: int
    warehouse_code: str
    kind: str
    qty: int


class PcnRead(BaseModel):
    pcn: str
    lot_id: int
    part_id: int
    part_number: str
    part_description: str
    unit: str
    received_at: datetime
    date_code: str | None
    lot_code: str | None
    country_of_origin: str | None
    supplier: str | None
    reference: str | None
    created_by: str
    balances: list[BalanceRead]
    total_qty: int


class LotLineRead(BaseModel):
    pcn: str
    lot_id: int
    location_id: int
    location_code: str
    qty: int


class PartStockRead(BaseModel):
    part_id: int
    part_number: str
    unit: str
    by_location: list[BalanceRead]
    lots: list[LotLineRead]
    storage_qty: int
    floor_qty: int
    total_qty: int


class LedgerEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    kind: str
    qty: int
    lot_id: int
    pcn: str
    part_id: int
    part_number: str
    from_location_id: int | None
    from_location_code: str | None
    to_location_id: int | None
    to_location_code: str | None
    reference: str | None
    reason: str | None
    actor_name: str
    request_id: str | None


class LedgerPage(BaseModel):
    items: list[LedgerEntryRead]
    total: int
    total_capped: bool = Field(
        default=False, description="true: at least `total` rows (counting stops there)"
    )
    next: str | None


class DriftRead(BaseModel):
    lot_id: int
    location_id: int
    ledger_qty: int
    balance_qty: int


class VerifyRead(BaseModel):
    ok: bool
    ledger_rows: int
    balance_rows: int
    drift_count: int
    differences: list[DriftRead]
    started_at: datetime
    finished_at: datetime
    duration_ms: int
