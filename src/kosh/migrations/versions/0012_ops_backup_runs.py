"""ops: the journal of backups and restores

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-01 08:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kosh.core.db
import kosh.core.types

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("schema_revision", sa.String(length=200), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("details", kosh.core.types.JSONType, nullable=True),
        sa.CheckConstraint(
            "kind IN ('manual', 'scheduled', 'pre_restore', 'restore')",
            name=op.f("ck_backup_runs_kind_known"),
        ),
        sa.CheckConstraint("status IN ('ok', 'failed')", name=op.f("ck_backup_runs_status_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup_runs")),
    )
    with op.batch_alter_table("backup_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_backup_runs_kind_status_finished_at"),
            ["kind", "status", "finished_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("backup_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backup_runs_kind_status_finished_at"))
    op.drop_table("backup_runs")
