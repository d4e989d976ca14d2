"""Bills of materials, their lines, and spreadsheet imports with their problem reports."""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from kosh.core.db import Base, UTCDateTime, utcnow
from kosh.core.models import BigId
from kosh.core.types import JSONType

BOM_STATUSES = ("draft", "active", "obsolete")
IMPORT_STATUSES = ("queued", "running", "succeeded", "failed")


class Bom(Base):
    """One revision of an assembly's bill of materials. Edits carry `version`."""

    __tablename__ = "boms"
    __table_args__ = (
        UniqueConstraint("assembly_part_id", "revision"),
        CheckConstraint("status IN ('draft', 'active', 'obsolete')", name="status_known"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assembly_part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    revision: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    notes: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API


class BomLine(Base):
    """A part and its quantity per assembly (whole units of the part's base unit)."""

    __tablename__ = "bom_lines"
    __table_args__ = (
        UniqueConstraint("bom_id", "line_no"),
        UniqueConstraint("bom_id", "part_id"),
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("line_no > 0", name="line_no_positive"),
        Index(None, "part_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bom_id: Mapped[int] = mapped_column(ForeignKey("boms.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    qty: Mapped[int] = mapped_column(Integer)
    refdes: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(String(500), default="")


class BomImport(Base):
    """A spreadsheet import: queued, running (with progress), succeeded or failed."""

    __tablename__ = "bom_imports"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="status_known"
        ),
        CheckConstraint("rows_done >= 0", name="rows_done_non_negative"),
        Index(None, "status", "heartbeat_at"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    phase: Mapped[str] = mapped_column(String(16), default="queued")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    file_name: Mapped[str] = mapped_column(String(255))
    file_kind: Mapped[str | None] = mapped_column(String(8))
    file_size: Mapped[int] = mapped_column(Integer, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    lines_count: Mapped[int | None] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)
    problems_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    message: Mapped[str | None] = mapped_column(String(1000))
    bom_id: Mapped[int | None] = mapped_column(ForeignKey("boms.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BomImportProblem(Base):
    """One problem found in an import: row and column as the spreadsheet shows them."""

    __tablename__ = "bom_import_problems"
    __table_args__ = (
        CheckConstraint("severity IN ('error', 'warning')", name="severity_known"),
        Index(None, "import_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("bom_imports.id", ondelete="CASCADE"))
    row: Mapped[int | None] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(8), default="error")
