"""Web stores, SKU mappings, staged web orders (the worker's queue) and the sync-back outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kosh.core.db import Base, UTCDateTime, utcnow
from kosh.core.models import BigId
from kosh.core.types import JSONType

STAGED_STATUSES = ("pending", "applied", "review", "ignored", "cancelled")
OUTBOX_STATUSES = ("pending", "sent", "failed", "cancelled")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Store(Base):
    """A connected web store. Secrets are stored encrypted (Fernet, key derived from
    KOSH_SECRET_KEY) and never leave the server."""

    __tablename__ = "storefront_stores"
    __table_args__ = (CheckConstraint("kind IN ('woocommerce')", name="kind_known"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="woocommerce")
    base_url: Mapped[str] = mapped_column(String(300))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    webhook_secret_enc: Mapped[str] = mapped_column(Text)
    consumer_key_enc: Mapped[str | None] = mapped_column(Text)
    consumer_secret_enc: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Push stock levels to the shop (kosh.storefront.stockpush); off until a person opts in.
    stock_push: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The shop runs WooCommerce Shipment Tracking: shipments also send its order meta.
    shipment_tracking: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # The warehouses it draws on, first first (the first is `warehouse_id`); few, so loaded
    # with the store.
    warehouses: Mapped[list[StoreWarehouse]] = relationship(
        order_by="StoreWarehouse.priority",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API

    @property
    def warehouse_ids(self) -> list[int]:
        return [w.warehouse_id for w in self.warehouses] or [self.warehouse_id]


class SkuMapping(Base):
    """A store SKU that differs from the KOSH part number. Without a row, SKU = part number."""

    __tablename__ = "storefront_sku_map"
    __table_args__ = (UniqueConstraint("store_id", "sku"), Index(None, "part_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("storefront_stores.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StagedOrder(Base):
    """One delivery of a web order, stored before it is acknowledged. Unique by (store,
    order id, version key: the order's date_modified_gmt, else the delivery), so a
    redelivery never makes a second row. The worker's queue: `pending` rows that are due
    and not leased (claimed_by / claimed_at) are claimed with FOR UPDATE SKIP LOCKED."""

    __tablename__ = "storefront_staged_orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(STAGED_STATUSES)})", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        UniqueConstraint("store_id", "external_id", "dedupe_key"),
        Index(None, "status", "next_attempt_at", "id"),
        # Named by hand: the generated name would pass PostgreSQL's 63-character limit.
        Index(
            "ix_storefront_staged_orders_order_key", "store_id", "external_id", "source_modified_at"
        ),
        Index(None, "sales_order_id"),
        Index(None, "processed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("storefront_stores.id"))
    external_id: Mapped[str | None] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16), default="webhook")
    topic: Mapped[str | None] = mapped_column(String(64))
    delivery_id: Mapped[str | None] = mapped_column(String(100))
    external_status: Mapped[str | None] = mapped_column(String(20))
    source_modified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType)
    request_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sales_order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxEvent(Base):
    """A status change to send back to the store, written in the transaction that made it
    (ship, cancel) and delivered by the worker with retries."""

    __tablename__ = "storefront_outbox"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(OUTBOX_STATUSES)})", name="status_known"),
        Index(None, "status", "next_attempt_at", "id"),
        Index(None, "store_id", "external_id", "id"),
        Index(None, "sales_order_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("storefront_stores.id"))
    # None for stock pushes (kind "stock"), which belong to the store, not to an order.
    sales_order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"))
    external_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32), default="order_status")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StockRule(Base):
    """How a store pushes one part: its own safety buffer (instead of the global one), or
    excluded (KOSH sends no level; the shop manages that product's stock itself)."""

    __tablename__ = "storefront_stock_rules"
    __table_args__ = (
        UniqueConstraint("store_id", "part_id"),
        CheckConstraint("buffer IS NULL OR buffer >= 0", name="buffer_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("storefront_stores.id", ondelete="CASCADE"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    buffer: Mapped[int | None] = mapped_column(Integer)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StoreWarehouse(Base):
    """A warehouse a store draws on, by priority (0 first; the store's `warehouse_id` is
    the first). Pushed availability sums them; a web order takes the first that has it."""

    __tablename__ = "storefront_store_warehouses"
    __table_args__ = (UniqueConstraint("store_id", "warehouse_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("storefront_stores.id", ondelete="CASCADE"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    priority: Mapped[int] = mapped_column(Integer)
