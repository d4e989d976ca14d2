"""Customers, sales orders with their lines, and the reservation aggregate per part and
warehouse ("quantity on sales order")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kosh.core.db import Base, UTCDateTime, utcnow
from kosh.core.types import JSONType

ORDER_STATUSES = (
    "draft",
    "confirmed",
    "partially_shipped",
    "shipped",
    "on_hold",
    "cancelled",
)
_STATUSES_SQL = ", ".join(f"'{status}'" for status in ORDER_STATUSES)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (Index(None, "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    # The lower-cased e-mail: one customer per address, so web orders find their customer.
    email_key: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(50))
    company: Mapped[str | None] = mapped_column(String(200))
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    notes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API


class SalesOrder(Base):
    """A customer's order. Web orders carry the store code and the store's order id, unique
    together, so a web order can never become two KOSH orders."""

    __tablename__ = "sales_orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES_SQL})", name="status_known"),
        UniqueConstraint("external_store", "external_id"),
        Index(None, "status", "id"),
        Index(None, "customer_id"),
        Index(None, "external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # May confirm with less reserved than ordered (the rest waits for stock).
    backorder: Mapped[bool] = mapped_column(Boolean, default=False)
    currency: Mapped[str | None] = mapped_column(String(3))
    notes: Mapped[str] = mapped_column(Text, default="")
    external_store: Mapped[str | None] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(64))
    external_status: Mapped[str | None] = mapped_column(String(20))
    # date_modified_gmt of the store's version last applied; older deliveries are stale.
    external_modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Cancelled by an "undo" so the worker may apply the web order to it again.
    reopenable: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[SalesOrderLine]] = relationship(
        back_populates="order",
        order_by="SalesOrderLine.line_no",
        cascade="all, delete-orphan",
        lazy="raise",
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API


class SalesOrderLine(Base):
    __tablename__ = "sales_order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
        CheckConstraint("qty_reserved >= 0", name="qty_reserved_non_negative"),
        CheckConstraint("qty_shipped >= 0", name="qty_shipped_non_negative"),
        CheckConstraint("qty_reserved + qty_shipped <= qty", name="within_ordered"),
        CheckConstraint("qty_cancelled >= 0", name="cancelled_non_negative"),
        CheckConstraint("qty_reserved + qty_shipped + qty_cancelled <= qty", name="within_open"),
        Index(None, "part_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    description: Mapped[str] = mapped_column(String(300), default="")
    qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    qty_reserved: Mapped[int] = mapped_column(Integer, default=0)
    qty_shipped: Mapped[int] = mapped_column(Integer, default=0)
    # Units the web store refunded before they shipped: no longer to ship or reserve.
    qty_cancelled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    external_line_id: Mapped[str | None] = mapped_column(String(64))
    # The warehouse this line draws on when not the order's: a web order no single one of
    # its store's warehouses could fill is split over several (kosh.sales.web_orders).
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))

    order: Mapped[SalesOrder] = relationship(back_populates="lines", lazy="raise")

    @property
    def qty_open(self) -> int:
        """Still to ship (refunded units that had not shipped are not)."""
        return self.qty - self.qty_shipped - self.qty_cancelled

    @property
    def qty_short(self) -> int:
        """Open but not reserved (a backorder waiting for stock)."""
        return self.qty - self.qty_shipped - self.qty_cancelled - self.qty_reserved


class StockReservation(Base):
    """Units of a part reserved by open sales orders in a warehouse: the sum of the lines'
    `qty_reserved`. One row per (part, warehouse), locked while it changes, so reserving is
    serialised per part and never exceeds what is on hand."""

    __tablename__ = "stock_reservations"
    __table_args__ = (
        UniqueConstraint("part_id", "warehouse_id"),
        CheckConstraint("qty_reserved >= 0", name="qty_reserved_non_negative"),
        Index(None, "warehouse_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    qty_reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Shipment(Base):
    """One parcel of a sales order: what left (its lines), with which carrier and tracking
    number, when. An order ships in one or several; rows are never edited."""

    __tablename__ = "sales_shipments"
    __table_args__ = (Index(None, "order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(80), unique=True)
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list[ShipmentLine]] = relationship(
        back_populates="shipment",
        order_by="ShipmentLine.id",
        cascade="all, delete-orphan",
        lazy="raise",
    )


class ShipmentLine(Base):
    __tablename__ = "sales_shipment_lines"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        Index(None, "shipment_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("sales_shipments.id", ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("sales_order_lines.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    qty: Mapped[int] = mapped_column(Integer)

    shipment: Mapped[Shipment] = relationship(back_populates="lines", lazy="raise")


class RefundedLine(Base):
    """Units of a web order line that the store refunded, for the returns desk: `qty`
    refunded, of which `qty_shipped` had left the building (a return to expect) and the rest
    was released. Written when the refund arrives, never edited."""

    __tablename__ = "sales_refunded_lines"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("qty_shipped >= 0 AND qty_shipped <= qty", name="shipped_within"),
        # one row per line and store refund: a refund read twice is recorded once
        UniqueConstraint("order_line_id", "external_refund_id"),
        Index(None, "order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id", ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("sales_order_lines.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    qty: Mapped[int] = mapped_column(Integer)
    qty_shipped: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 4), default=Decimal(0))
    # date_modified_gmt of the store's version that brought the refund
    external_modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the store's refund id (None: the whole order, recorded from its `refunded` status)
    external_refund_id: Mapped[str | None] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
