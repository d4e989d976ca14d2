"""production: jobs carry a priority (urgent, high, normal, low), the tie-break after the
due date when the shop floor suggests what to run in a held job's slot

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 12:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("production_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sa.String(length=8), server_default="normal", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_production_jobs_priority_known"),
            "priority IN ('urgent', 'high', 'normal', 'low')",
        )


def downgrade() -> None:
    with op.batch_alter_table("production_jobs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_production_jobs_priority_known"), type_="check")
        batch_op.drop_column("priority")
