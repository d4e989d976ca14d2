"""Pydantic shapes for stores, SKU mappings, staged orders and the outbox."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from kosh.core.types import CleanText, Id, RequiredLine, Version

StagedStatus = Literal["pending", "applied", "review", "ignored", "cancelled"]
STORE_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"


def _url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value):
        raise ValueError("must be an http:// or https:// address")
    return value.rstrip("/")


Code = Annotated[str, Field(max_length=32, pattern=STORE_CODE_PATTERN)]
Secret = Annotated[RequiredLine, Field(min_length=8, max_length=500)]
Credential = Annotated[RequiredLine, Field(min_length=1, max_length=500)]
Url = Annotated[str, Field(max_length=300), AfterValidator(_url)]


class StoreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code
    kind: Literal["woocommerce"] = "woocommerce"
    base_url: Url
    webhook_secret: Secret
    consumer_key: Credential | None = None
    consumer_secret: Credential | None = None
    warehouse_id: Id | None = Field(default=None, description="the first of warehouse_ids")
    warehouse_ids: list[Id] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="the warehouses the store draws on, in priority order",
    )
    stock_push: StrictBool = False
    shipment_tracking: StrictBool = Field(
        default=False, description="the shop runs WooCommerce Shipment Tracking"
    )


class StoreUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Version
    base_url: Url | None = None
    webhook_secret: Secret | None = None
    consumer_key: Credential | None = None
    consumer_secret: Credential | None = None
    active: StrictBool | None = None
    stock_push: StrictBool | None = None
    shipment_tracking: StrictBool | None = None
    warehouse_ids: list[Id] | None = Field(default=None, min_length=1, max_length=20)


class StoreRead(BaseModel):
    id: int
    code: str
    kind: str
    base_url: str
    warehouse_id: int
    warehouse_ids: list[int]
    active: bool
    stock_push: bool
    shipment_tracking: bool
    has_webhook_secret: bool
    has_api_credentials: bool
    webhook_path: str
    version: int
    created_at: datetime


class SkuMapCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_code: Code
    sku: Annotated[RequiredLine, Field(max_length=100)]
    part_number: Annotated[RequiredLine, Field(max_length=64)]


class SkuMapRead(BaseModel):
    id: int
    store_code: str
    sku: str
    part_id: int
    part_number: str


class SkuMapPage(BaseModel):
    items: list[SkuMapRead]
    total: int
    next: str | None


class StagedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    store_code: str
    external_id: str | None
    external_status: str | None
    source: str
    topic: str | None
    status: StagedStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    reasons: list[dict[str, Any]]
    sales_order_id: int | None
    source_modified_at: datetime
    received_at: datetime
    processed_at: datetime | None


class StagedDetail(StagedRead):
    delivery_id: str | None
    headers: dict[str, Any]
    payload: Any = Field(description="the order as received (the raw body when not JSON)")


class StagedPage(BaseModel):
    items: list[StagedRead]
    total: int
    next: str | None


class BulkRetry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Id] | None = Field(default=None, max_length=10_000)
    status: Literal["review", "ignored", "cancelled"] | None = None


class BulkRetryResult(BaseModel):
    retried: int


class StagedCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[CleanText, Field(max_length=500)] = ""


class StagedUndo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reprocess: StrictBool = False
    notify_store: StrictBool = False
    reason: Annotated[CleanText, Field(max_length=500)] = ""


class OutboxRead(BaseModel):
    id: int
    store_id: int
    sales_order_id: int | None
    external_id: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class WebhookAck(BaseModel):
    status: Literal["accepted", "duplicate"]
    id: int | None = None


class StockSyncRead(BaseModel):
    store_code: str
    stock_push: bool
    pending_pushes: int
    pending_parts: int
    next_attempt_at: datetime | None
    last_error: str | None
    failed_pushes: int
    last_sent_at: datetime | None


class ReconcileReport(BaseModel):
    at: datetime | None
    reason: str | None
    checked: int
    drift_found: int
    fixed: int
    drift: list[dict[str, Any]]


class StockSyncFull(StockSyncRead):
    reconcile_pending: bool
    last_reconcile: ReconcileReport | None


class StockRuleSet(BaseModel):
    """How the store pushes one part: its own buffer (null: the global one) or excluded."""

    model_config = ConfigDict(extra="forbid")
    part_number: Annotated[RequiredLine, Field(max_length=64)]
    buffer: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    excluded: StrictBool = False


class StockRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    part_id: int
    buffer: int | None
    excluded: bool
    updated_at: datetime


class ConnectionCheck(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    ok: bool
    detail: str


class ConnectionReportRead(BaseModel):
    """What works of the shop's REST API with the stored keys."""

    model_config = ConfigDict(from_attributes=True)
    store_code: str
    ok: bool
    checks: list[ConnectionCheck]


class SkuMapImport(BaseModel):
    """`sku,part_number` per line; a first line `sku,part_number` is a header."""

    model_config = ConfigDict(extra="forbid")
    csv: Annotated[CleanText, Field(min_length=1, max_length=500_000)]


class SkuMapImported(BaseModel):
    mapped: int
    replaced: int
