"""documents: warehouse documents (transfer, issue, receipt, stocktake), their lines, the
ledger rows a posting wrote, stocktake lines and locations

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01 08:07:29.874832
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kosh.core.db
import kosh.core.types

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("issue_kind", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("scope", kosh.core.types.JSONType, nullable=True),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("posted_by", sa.String(length=100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("posted_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "issue_kind IS NULL OR issue_kind IN ('consume', 'scrap')",
            name=op.f("ck_documents_issue_kind_known"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'posted', 'cancelled')", name=op.f("ck_documents_status_known")
        ),
        sa.CheckConstraint(
            "type IN ('transfer', 'issue', 'receipt', 'stocktake')",
            name=op.f("ck_documents_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["documents.id"], name=op.f("fk_documents_reverses_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_documents_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("number", name=op.f("uq_documents_number")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_documents_reverses_id")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_status_id"), ["status", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_type_id"), ["type", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_documents_warehouse_id_id"), ["warehouse_id", "id"], unique=False
        )

    op.create_table(
        "document_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("part_number", sa.String(length=64), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("pcn", sa.String(length=64), nullable=True),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("from_location_id", sa.Integer(), nullable=True),
        sa.Column("to_location_id", sa.Integer(), nullable=True),
        sa.Column("date_code", sa.String(length=32), nullable=True),
        sa.Column("supplier", sa.String(length=200), nullable=True),
        sa.Column("received_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_document_lines_qty_positive")),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_lines_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_location_id"],
            ["locations.id"],
            name=op.f("fk_document_lines_from_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_document_lines_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_document_lines_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["to_location_id"],
            ["locations.id"],
            name=op.f("fk_document_lines_to_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_lines")),
        sa.UniqueConstraint(
            "document_id", "line_no", name=op.f("uq_document_lines_document_id_line_no")
        ),
    )
    op.create_table(
        "stocktake_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("part_number", sa.String(length=64), nullable=False),
        sa.Column("pcn", sa.String(length=64), nullable=False),
        sa.Column("expected_qty", sa.Integer(), nullable=False),
        sa.Column("unexpected", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("counted_qty", sa.Integer(), nullable=True),
        sa.Column("book_qty", sa.Integer(), nullable=True),
        sa.Column("counted_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("counted_by", sa.String(length=100), nullable=True),
        sa.Column("posted_variance", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "state IN ('expected', 'counted', 'recount')",
            name=op.f("ck_stocktake_lines_state_known"),
        ),
        sa.CheckConstraint(
            "counted_qty IS NULL OR counted_qty >= 0",
            name=op.f("ck_stocktake_lines_counted_non_negative"),
        ),
        sa.CheckConstraint(
            "expected_qty >= 0", name=op.f("ck_stocktake_lines_expected_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_stocktake_lines_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stocktake_lines_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_stocktake_lines_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_stocktake_lines_part_id_parts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktake_lines")),
        sa.UniqueConstraint(
            "document_id",
            "lot_id",
            "location_id",
            name=op.f("uq_stocktake_lines_document_id_lot_id_location_id"),
        ),
    )
    with op.batch_alter_table("stocktake_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stocktake_lines_document_id_location_id"),
            ["document_id", "location_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_stocktake_lines_location_id_counted_at"),
            ["location_id", "counted_at"],
            unique=False,
        )

    op.create_table(
        "stocktake_locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("counted_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("posted_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_stocktake_locations_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_stocktake_locations_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktake_locations")),
        sa.UniqueConstraint(
            "document_id",
            "location_id",
            name=op.f("uq_stocktake_locations_document_id_location_id"),
        ),
    )
    with op.batch_alter_table("stocktake_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stocktake_locations_location_id_posted_at"),
            ["location_id", "posted_at"],
            unique=False,
        )

    op.create_table(
        "document_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("pcn", sa.String(length=64), nullable=False),
        sa.Column("from_location_id", sa.Integer(), nullable=True),
        sa.Column("to_location_id", sa.Integer(), nullable=True),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_movements_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["stock_transactions.id"],
            name=op.f("fk_document_movements_transaction_id_stock_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_movements")),
    )
    with op.batch_alter_table("document_movements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_movements_document_id_id"), ["document_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("document_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_movements_document_id_id"))

    op.drop_table("document_movements")
    with op.batch_alter_table("stocktake_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stocktake_locations_location_id_posted_at"))

    op.drop_table("stocktake_locations")
    with op.batch_alter_table("stocktake_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stocktake_lines_location_id_counted_at"))
        batch_op.drop_index(batch_op.f("ix_stocktake_lines_document_id_location_id"))

    op.drop_table("stocktake_lines")
    op.drop_table("document_lines")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_warehouse_id_id"))
        batch_op.drop_index(batch_op.f("ix_documents_type_id"))
        batch_op.drop_index(batch_op.f("ix_documents_status_id"))

    op.drop_table("documents")
