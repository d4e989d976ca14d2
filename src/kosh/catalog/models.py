"""Parts: what the stock room counts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from kosh.core.db import Base, UTCDateTime, utcnow


class Part(Base):
    __tablename__ = "parts"
    __table_args__ = (
        CheckConstraint("reorder_point >= 0", name="reorder_point_non_negative"),
        CheckConstraint("unit_cost IS NULL OR unit_cost >= 0", name="unit_cost_non_negative"),
        CheckConstraint("list_price IS NULL OR list_price >= 0", name="list_price_non_negative"),
        Index(None, "mpn"),
        Index(None, "description"),
        # Search by number / description / MPN with ILIKE: one pg_trgm GIN index per
        # column on PostgreSQL, so the planner can combine them with a BitmapOr (a single
        # three-column GIN index was ignored after ANALYZE and the table was scanned).
        # Migration 0003 falls back to plain indexes when the extension cannot be created;
        # on SQLite they are plain indexes.
        *(
            Index(
                f"ix_parts_{column}_search",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
            for column in ("number", "description", "mpn")
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    category: Mapped[str | None] = mapped_column(String(100))
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    mpn: Mapped[str | None] = mapped_column(String(100))
    reorder_point: Mapped[int] = mapped_column(Integer, default=0)
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    # What the part sells for (the sales default and the web price check), apart from cost.
    list_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API
