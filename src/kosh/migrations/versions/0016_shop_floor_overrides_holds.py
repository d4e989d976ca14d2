"""shop floor: confirmed capacity overrides (work_centre_days.override_minutes, the CHECK
allows planned <= capacity + override; capacity_overrides rows) and job holds

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 11:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_centre_days", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("override_minutes", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.drop_constraint(op.f("ck_work_centre_days_not_over_capacity"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_work_centre_days_not_over_capacity"),
            "planned_minutes <= capacity_minutes + override_minutes",
        )
        batch_op.create_check_constraint(
            op.f("ck_work_centre_days_override_non_negative"), "override_minutes >= 0"
        )
    op.create_table(
        "capacity_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("work_centre_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("confirmed_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("minutes > 0", name=op.f("ck_capacity_overrides_minutes_positive")),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["job_operations.id"],
            name=op.f("fk_capacity_overrides_operation_id_job_operations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_centre_id"],
            ["work_centres.id"],
            name=op.f("fk_capacity_overrides_work_centre_id_work_centres"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capacity_overrides")),
    )
    op.create_index(
        op.f("ix_capacity_overrides_operation_id"), "capacity_overrides", ["operation_id"]
    )
    op.create_index(
        op.f("ix_capacity_overrides_work_centre_id_day"),
        "capacity_overrides",
        ["work_centre_id", "day"],
    )
    op.create_table(
        "job_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column(
            "freed",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("held_by", sa.String(length=100), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["production_jobs.id"], name=op.f("fk_job_holds_job_id_production_jobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_holds")),
    )
    op.create_index(op.f("ix_job_holds_job_id"), "job_holds", ["job_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_job_holds_job_id"), table_name="job_holds")
    op.drop_table("job_holds")
    op.drop_index(op.f("ix_capacity_overrides_work_centre_id_day"), table_name="capacity_overrides")
    op.drop_index(op.f("ix_capacity_overrides_operation_id"), table_name="capacity_overrides")
    op.drop_table("capacity_overrides")
    op.execute(
        "UPDATE work_centre_days SET planned_minutes = capacity_minutes"
        " WHERE planned_minutes > capacity_minutes"
    )
    with op.batch_alter_table("work_centre_days", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_work_centre_days_override_non_negative"), type_="check")
        batch_op.drop_constraint(op.f("ck_work_centre_days_not_over_capacity"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_work_centre_days_not_over_capacity"), "planned_minutes <= capacity_minutes"
        )
        batch_op.drop_column("override_minutes")
