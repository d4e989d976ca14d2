"""Production jobs (work orders) and their material lines, fixed when the job is created."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kosh.core.db import Base, UTCDateTime, utcnow

JOB_STATUSES = ("planned", "released", "in_progress", "complete", "cancelled")
OPEN_STATUSES = ("released", "in_progress")
# Most urgent first: the order in which equally due jobs are offered (shop-floor hold suggestions).
JOB_PRIORITIES = ("urgent", "high", "normal", "low")


class Job(Base):
    """Build `qty` of an assembly from one BOM revision in one warehouse."""

    __tablename__ = "production_jobs"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint(
            "status IN ('planned', 'released', 'in_progress', 'complete', 'cancelled')",
            name="status_known",
        ),
        CheckConstraint("produced_qty IS NULL OR produced_qty > 0", name="produced_positive"),
        CheckConstraint("priority IN ('urgent', 'high', 'normal', 'low')", name="priority_known"),
        Index(None, "status", "warehouse_id"),
        Index(None, "assembly_part_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    assembly_part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    bom_id: Mapped[int] = mapped_column(ForeignKey("boms.id"))
    qty: Mapped[int] = mapped_column(Integer)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    due_date: Mapped[date | None] = mapped_column(Date)
    priority: Mapped[str] = mapped_column(String(8), default="normal", server_default="normal")
    status: Mapped[str] = mapped_column(String(16), default="planned")
    notes: Mapped[str] = mapped_column(String(500), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    produced_qty: Mapped[int | None] = mapped_column(Integer)
    output_lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(100))
    over_planning_confirmed_by: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(100))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobLine(Base):
    """What the job needs of one part: `qty_per` x job qty, copied from the BOM."""

    __tablename__ = "job_lines"
    __table_args__ = (
        UniqueConstraint("job_id", "part_id"),
        CheckConstraint("qty_per > 0", name="qty_per_positive"),
        CheckConstraint("required > 0", name="required_positive"),
        CheckConstraint("consumed >= 0", name="consumed_non_negative"),
        Index(None, "part_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("production_jobs.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    qty_per: Mapped[int] = mapped_column(Integer)
    required: Mapped[int] = mapped_column(Integer)
    consumed: Mapped[int] = mapped_column(Integer, default=0)
