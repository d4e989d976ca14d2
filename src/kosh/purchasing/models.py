"""Suppliers, what they sell (supplier parts with price breaks), purchase orders with their
lines, the receipts booked against them, and reorder rules per part and warehouse.

Quantities are whole numbers of the part's base unit; a supplier part's `pack_size` says how
many base units one pack holds (a reel of 5,000). Prices are Decimal per base unit in the
supplier's currency. A line's `qty_received` is moved only by receipts and their reversals
(guarded UPDATEs in `kosh.purchasing.receiving`), and always equals the sum of its receipts
that are not reversed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
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

PO_STATUSES = (
    "draft",
    "placed",
    "partially_received",
    "received",
    "cancelled",
    "closed_short",
)
# Placed and not yet fully received: what counts as "on order".
OPEN_STATUSES = ("placed", "partially_received")
_BIG = BigInteger().with_variant(Integer(), "sqlite")
_STATUSES_SQL = ", ".join(f"'{status}'" for status in PO_STATUSES)


class Supplier(Base):
    __tablename__ = "suppliers"
    __table_args__ = (
        CheckConstraint("lead_time_days >= 0", name="lead_time_non_negative"),
        Index(None, "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    lead_time_days: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API


class SupplierPart(Base):
    """One supplier's offer of one part: its SKU, the manufacturer's MPN, the pack it comes
    in, the minimum order (base units) and its price breaks."""

    __tablename__ = "supplier_parts"
    __table_args__ = (
        UniqueConstraint("supplier_id", "sku"),
        CheckConstraint("pack_size >= 1", name="pack_size_positive"),
        CheckConstraint("min_order_qty >= 1", name="min_order_positive"),
        CheckConstraint("lead_time_days IS NULL OR lead_time_days >= 0", name="lead_time_ok"),
        Index(None, "part_id"),
        Index(None, "mpn"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    sku: Mapped[str] = mapped_column(String(64))
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    mpn: Mapped[str | None] = mapped_column(String(100))
    pack_size: Mapped[int] = mapped_column(Integer, default=1)
    pack_unit: Mapped[str] = mapped_column(String(16), default="pcs")
    min_order_qty: Mapped[int] = mapped_column(Integer, default=1)
    lead_time_days: Mapped[int | None] = mapped_column(Integer)
    preferred: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    prices: Mapped[list[SupplierPrice]] = relationship(
        back_populates="supplier_part",
        order_by="SupplierPrice.min_qty",
        cascade="all, delete-orphan",
        lazy="raise",
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API


class SupplierPrice(Base):
    """A price break: from `min_qty` base units on, each costs `unit_price`."""

    __tablename__ = "supplier_prices"
    __table_args__ = (
        UniqueConstraint("supplier_part_id", "min_qty"),
        CheckConstraint("min_qty >= 1", name="min_qty_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_part_id: Mapped[int] = mapped_column(
        ForeignKey("supplier_parts.id", ondelete="CASCADE")
    )
    min_qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))

    supplier_part: Mapped[SupplierPart] = relationship(back_populates="prices", lazy="raise")


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES_SQL})", name="status_known"),
        Index(None, "status", "id"),
        Index(None, "supplier_id"),
        Index(None, "warehouse_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    currency: Mapped[str] = mapped_column(String(3))
    expected_date: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="order",
        order_by="PurchaseOrderLine.line_no",
        cascade="all, delete-orphan",
        lazy="raise",
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API


class PurchaseOrderLine(Base):
    """`qty` base units ordered (`packs` x pack size when ordered in packs); `qty_received`
    moves only through receipts and reversals."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("qty_received >= 0", name="qty_received_non_negative"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
        Index(None, "part_id"),
        Index(None, "supplier_part_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    supplier_part_id: Mapped[int] = mapped_column(ForeignKey("supplier_parts.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    qty: Mapped[int] = mapped_column(Integer)
    packs: Mapped[int | None] = mapped_column(Integer)
    qty_received: Mapped[int] = mapped_column(Integer, default=0)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    expected_date: Mapped[date | None] = mapped_column(Date)

    order: Mapped[PurchaseOrder] = relationship(back_populates="lines", lazy="raise")

    @property
    def open_qty(self) -> int:
        return max(self.qty - self.qty_received, 0)


class PurchaseReceipt(Base):
    """One bag booked against a PO line: the lot it became, where it went, the ledger row,
    and what the distributor's label said. Reversed receipts keep their row (never deleted)
    and point at the reversing ledger row."""

    __tablename__ = "purchase_receipts"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        Index(None, "order_id", "id"),
        Index(None, "line_id"),
        Index(None, "lot_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"))
    line_id: Mapped[int] = mapped_column(ForeignKey("purchase_order_lines.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    pcn: Mapped[str] = mapped_column(String(64))  # the lot's PCN, which never changes
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    qty: Mapped[int] = mapped_column(Integer)
    transaction_id: Mapped[int] = mapped_column(_BIG, ForeignKey("stock_transactions.id"))
    lot_code: Mapped[str | None] = mapped_column(String(64))
    date_code: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(8))
    label_format: Mapped[str | None] = mapped_column(String(16))
    over_receipt: Mapped[bool] = mapped_column(Boolean, default=False)
    actor_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversed_by: Mapped[str | None] = mapped_column(String(100))
    reversal_transaction_id: Mapped[int | None] = mapped_column(
        _BIG, ForeignKey("stock_transactions.id")
    )


class ReorderRule(Base):
    """Keep at least `min_qty` of a part available in a warehouse; order up to `max_qty`."""

    __tablename__ = "reorder_rules"
    __table_args__ = (
        UniqueConstraint("part_id", "warehouse_id"),
        CheckConstraint("min_qty >= 0", name="min_non_negative"),
        CheckConstraint("max_qty >= min_qty", name="max_at_least_min"),
        CheckConstraint(
            "order_multiple IS NULL OR order_multiple >= 1", name="order_multiple_positive"
        ),
        CheckConstraint("lead_time_days IS NULL OR lead_time_days >= 0", name="lead_time_ok"),
        Index(None, "warehouse_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    min_qty: Mapped[int] = mapped_column(Integer)
    max_qty: Mapped[int] = mapped_column(Integer)
    # suggestions are rounded up to this many base units (before packs and the MOQ)
    order_multiple: Mapped[int | None] = mapped_column(Integer)
    # days from ordering to arrival here; else the offer's, else the supplier's
    lead_time_days: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API
