"""Warehouse documents (draft -> posted | cancelled), their lines, the stock movements a
posting made, and the counts of a stocktake.

A posted document is never edited: `document_movements` records exactly what its posting
wrote to the ledger, so a reversal undoes it movement by movement, and `reverses_id` is
unique so a document is reversed at most once.
"""

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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kosh.core.db import Base, UTCDateTime, utcnow
from kosh.core.models import BigId
from kosh.core.types import JSONType

DOCUMENT_TYPES = ("transfer", "issue", "receipt", "stocktake")
DOCUMENT_STATUSES = ("draft", "posted", "cancelled")
# The number of a document is <prefix>-<id, six digits>: TR-000042.
PREFIXES = {"transfer": "TR", "issue": "IS", "receipt": "RC", "stocktake": "ST"}
ISSUE_KINDS = ("consume", "scrap")
# A stocktake line: expected (in the snapshot, not yet counted), counted, recount (a
# manager asked for it to be counted again; posting waits for it).
COUNT_STATES = ("expected", "counted", "recount")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(f"type IN ({_in(DOCUMENT_TYPES)})", name="type_known"),
        CheckConstraint(f"status IN ({_in(DOCUMENT_STATUSES)})", name="status_known"),
        CheckConstraint(
            f"issue_kind IS NULL OR issue_kind IN ({_in(ISSUE_KINDS)})", name="issue_kind_known"
        ),
        UniqueConstraint("reverses_id"),
        Index(None, "status", "id"),
        Index(None, "type", "id"),
        Index(None, "warehouse_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    notes: Mapped[str] = mapped_column(Text, default="")
    # issue documents: consume or scrap, and why (a cost centre, a job, a fault)
    issue_kind: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    # stocktakes: what is counted ({"zone": ..., "location_ids": [...], "part_ids": [...]})
    scope: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    author_name: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[int | None] = mapped_column(Integer)
    posted_by: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[DocumentLine]] = relationship(
        back_populates="document",
        order_by="DocumentLine.line_no",
        cascade="all, delete-orphan",
        lazy="raise",
    )


class DocumentLine(Base):
    """One line. Transfer: lot (or part, FIFO at the source), from, to, qty. Issue: lot or
    part, from, qty. Receipt: part, to, qty, optional PCN / date code / supplier (the PCN
    is filled in at posting when generated). Stocktake lines live in `stocktake_lines`."""

    __tablename__ = "document_lines"
    __table_args__ = (
        UniqueConstraint("document_id", "line_no"),
        CheckConstraint("qty > 0", name="qty_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    part_number: Mapped[str] = mapped_column(String(64))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    pcn: Mapped[str | None] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(Integer)
    from_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    to_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    date_code: Mapped[str | None] = mapped_column(String(32))
    supplier: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(500), default="")

    document: Mapped[Document] = relationship(back_populates="lines", lazy="raise")


class DocumentMovement(Base):
    """One ledger row a posting wrote, kept with the document so it can be reversed."""

    __tablename__ = "document_movements"
    __table_args__ = (Index(None, "document_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    # The ledger row is the reference; the copies below (no foreign keys: the ledger row
    # has them) spare a join when reversing, and an opening stock of 100k rows the checks.
    transaction_id: Mapped[int] = mapped_column(BigId, ForeignKey("stock_transactions.id"))
    lot_id: Mapped[int] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(Integer)
    pcn: Mapped[str] = mapped_column(String(64))
    from_location_id: Mapped[int | None] = mapped_column(Integer)
    to_location_id: Mapped[int | None] = mapped_column(Integer)
    qty: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))


class StocktakeLine(Base):
    """One (PCN, location) of a stocktake. `expected_qty` is the snapshot when the count
    was opened (0 for a PCN found that was not expected); `book_qty` is the balance at the
    moment it was counted, which the variance is computed from (docs/adr/0003)."""

    __tablename__ = "stocktake_lines"
    __table_args__ = (
        UniqueConstraint("document_id", "lot_id", "location_id"),
        CheckConstraint(f"state IN ({_in(COUNT_STATES)})", name="state_known"),
        CheckConstraint("expected_qty >= 0", name="expected_non_negative"),
        CheckConstraint("counted_qty IS NULL OR counted_qty >= 0", name="counted_non_negative"),
        Index(None, "document_id", "location_id"),
        Index(None, "location_id", "counted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("parts.id"))
    part_number: Mapped[str] = mapped_column(String(64))
    pcn: Mapped[str] = mapped_column(String(64))
    expected_qty: Mapped[int] = mapped_column(Integer, default=0)
    unexpected: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="expected")
    counted_qty: Mapped[int | None] = mapped_column(Integer)
    book_qty: Mapped[int | None] = mapped_column(Integer)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counted_by: Mapped[str | None] = mapped_column(String(100))
    # posting: the variance applied (counted - book), and for missing lines the book used
    posted_variance: Mapped[int | None] = mapped_column(Integer)


class StocktakeLocation(Base):
    """A location inside a stocktake's scope, and when a clerk last counted in it. A
    posted stocktake's rows say when each location was last counted (the cycle-count plan
    reads them)."""

    __tablename__ = "stocktake_locations"
    __table_args__ = (
        UniqueConstraint("document_id", "location_id"),
        Index(None, "location_id", "posted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    code: Mapped[str] = mapped_column(String(64))
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


IMPORT_STATUSES = ("queued", "running", "succeeded", "failed")


class OpeningImport(Base):
    """An opening-stock import: queued, running (phase and rows done / total), succeeded
    (a dry run's report, or the posted receipt document) or failed (the problem). A
    commit's success is written in the receipt's own transaction: succeeded means the
    stock was received, failed means nothing was."""

    __tablename__ = "opening_imports"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(IMPORT_STATUSES)})", name="status_known"),
        CheckConstraint("rows_done >= 0", name="rows_done_non_negative"),
        Index(None, "status", "heartbeat_at"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    phase: Mapped[str] = mapped_column(String(16), default="queued")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    file_name: Mapped[str] = mapped_column(String(255))
    # create_parts, sheet, mapping: what the user asked for
    options: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(String(1000))
    # succeeded: the import report; failed: {"code", "detail", "errors", "details"}
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
