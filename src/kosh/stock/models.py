"""Lots (PCNs), their balances per location, the immutable ledger, PCN numbering, verify runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kosh.core.db import Base, UTCDateTime, utcnow
from kosh.core.models import BigId
from kosh.core.types import JSONType

MOVEMENT_KINDS = (
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
)
_KINDS_SQL = ", ".join(f"'{kind}'" for kind in MOVEMENT_KINDS)


class Lot(Base):
    """A labelled lot of one part (its PCN). `received_at` is the FIFO key."""

    __tablename__ = "lots"
    __table_args__ = (Index(None, "part_id", "received_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pcn: Mapped[str] = mapped_column(String(64), unique=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    date_code: Mapped[str | None] = mapped_column(String(32))
    supplier: Mapped[str | None] = mapped_column(String(200))
    # from the supplier's label (ECIA 1T / 4L); a PCN keeps them for traceability
    lot_code: Mapped[str | None] = mapped_column(String(64))
    country_of_origin: Mapped[str | None] = mapped_column(String(8))
    reference: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockBalance(Base):
    """How many units of a lot sit at a location. Never negative (the CHECK stands behind
    every conditional decrement)."""

    __tablename__ = "stock_balances"
    __table_args__ = (
        UniqueConstraint("lot_id", "location_id"),
        CheckConstraint("qty >= 0", name="qty_non_negative"),
        Index(None, "location_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    qty: Mapped[int] = mapped_column(Integer, default=0)


class StockTransaction(Base):
    """One movement in the immutable ledger. from = NULL: from nowhere (receipt, count
    gain, production); to = NULL: to nowhere (consumption, scrap, shipping, count loss)."""

    __tablename__ = "stock_transactions"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint(f"kind IN ({_KINDS_SQL})", name="kind_known"),
        CheckConstraint(
            "from_location_id IS NOT NULL OR to_location_id IS NOT NULL", name="moves_somewhere"
        ),
        CheckConstraint(
            "from_location_id IS NULL OR to_location_id IS NULL "
            "OR from_location_id <> to_location_id",
            name="distinct_locations",
        ),
        Index(None, "lot_id", "id"),
        Index(None, "part_id", "id"),
        Index(None, "from_location_id", "id"),
        Index(None, "to_location_id", "id"),
        Index(None, "reference"),
        Index(None, "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    from_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    to_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    qty: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(128))


class PcnSequence(Base):
    """The last number handed out per PCN prefix (one row per prefix)."""

    __tablename__ = "pcn_sequences"

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))


class VerifyRun(Base):
    """The outcome of one `kosh verify`: ledger replay compared with the balances."""

    __tablename__ = "verify_runs"
    __table_args__ = (Index(None, "finished_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    ledger_rows: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    balance_rows: Mapped[int] = mapped_column(Integer)
    drift_count: Mapped[int] = mapped_column(Integer)
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    duration_ms: Mapped[int] = mapped_column(Integer)
