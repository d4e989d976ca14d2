"""documents: opening-stock imports run in the background (status, progress, result)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 11:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kosh.core.db
import kosh.core.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opening_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("options", kosh.core.types.JSONType, nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=True),
        sa.Column("result", kosh.core.types.JSONType, nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rows_done >= 0", name=op.f("ck_opening_imports_rows_done_non_negative")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_opening_imports_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_opening_imports_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_opening_imports_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_imports")),
    )
    with op.batch_alter_table("opening_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opening_imports_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opening_imports_status_heartbeat_at"),
            ["status", "heartbeat_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("opening_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_imports_status_heartbeat_at"))
        batch_op.drop_index(batch_op.f("ix_opening_imports_created_at"))
    op.drop_table("opening_imports")
