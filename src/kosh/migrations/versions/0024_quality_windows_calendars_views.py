"""quality: tickets link a shop-floor operation; support calendars for SLA policies
(`calendar_kind` shift or support); saved views on the ticket list; return lines kept
for a repair job; planned maintenance windows and the shop floor's machine reservations

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-01 14:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kosh.core.db

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def upgrade() -> None:
    with op.batch_alter_table("quality_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operation_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_quality_tickets_operation_id_job_operations"),
            "job_operations",
            ["operation_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_quality_tickets_operation_id"), ["operation_id"], unique=False
        )
    with op.batch_alter_table("quality_sla_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("calendar_kind", sa.String(length=8), server_default="shift", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_quality_sla_policies_calendar_kind_known"),
            "calendar_kind IN ('shift', 'support')",
        )
    with op.batch_alter_table("quality_return_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("repair_qty", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("repair_job_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_quality_return_lines_repair_job_id_production_jobs"),
            "production_jobs",
            ["repair_job_id"],
            ["id"],
        )
        batch_op.drop_constraint(op.f("ck_quality_return_lines_within_returned"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_quality_return_lines_repair_non_negative"), "repair_qty >= 0"
        )
        batch_op.create_check_constraint(
            op.f("ck_quality_return_lines_within_returned_all"),
            "restocked_qty + scrapped_qty + repair_qty <= qty",
        )
    op.create_table(
        "quality_support_calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        *(sa.Column(f"{day}_minutes", sa.Integer(), nullable=False) for day in WEEKDAYS),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        *(
            sa.CheckConstraint(
                f"{day}_minutes BETWEEN 0 AND 1440",
                name=op.f(f"ck_quality_support_calendars_{day}_minutes_in_day"),
            )
            for day in WEEKDAYS
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_support_calendars")),
        sa.UniqueConstraint("code", name=op.f("uq_quality_support_calendars_code")),
    )
    op.create_table(
        "quality_support_calendar_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "minutes BETWEEN 0 AND 1440",
            name=op.f("ck_quality_support_calendar_days_minutes_in_day"),
        ),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["quality_support_calendars.id"],
            name=op.f("fk_quality_support_calendar_days_calendar_id_quality_support_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_support_calendar_days")),
        sa.UniqueConstraint(
            "calendar_id", "day", name=op.f("uq_quality_support_calendar_days_calendar_id_day")
        ),
    )
    op.create_table(
        "quality_saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("filters", sa.String(length=1000), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "list_name IN ('tickets')", name=op.f("ck_quality_saved_views_list_known")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_quality_saved_views_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_saved_views")),
        sa.UniqueConstraint(
            "user_id",
            "list_name",
            "name",
            name=op.f("uq_quality_saved_views_user_id_list_name_name"),
        ),
    )
    with op.batch_alter_table("quality_saved_views", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_saved_views_list_name_shared"),
            ["list_name", "shared"],
            unique=False,
        )

    op.create_table(
        "machine_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("work_centre_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "last_day >= first_day", name=op.f("ck_machine_reservations_days_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["machines.id"],
            name=op.f("fk_machine_reservations_machine_id_machines"),
        ),
        sa.ForeignKeyConstraint(
            ["work_centre_id"],
            ["work_centres.id"],
            name=op.f("fk_machine_reservations_work_centre_id_work_centres"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_reservations")),
    )
    with op.batch_alter_table("machine_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_machine_reservations_work_centre_id_first_day"),
            ["work_centre_id", "first_day"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_machine_reservations_reference"), ["reference"], unique=False
        )
    op.create_table(
        "quality_maintenance_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("reserved", sa.Boolean(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "last_day >= first_day", name=op.f("ck_quality_maintenance_windows_days_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["machines.id"],
            name=op.f("fk_quality_maintenance_windows_machine_id_machines"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["quality_maintenance_plans.id"],
            name=op.f("fk_quality_maintenance_windows_plan_id_quality_maintenance_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_maintenance_windows")),
        sa.UniqueConstraint("reference", name=op.f("uq_quality_maintenance_windows_reference")),
    )
    with op.batch_alter_table("quality_maintenance_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_maintenance_windows_first_day"), ["first_day"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quality_maintenance_windows_plan_id"), ["plan_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("quality_maintenance_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_maintenance_windows_plan_id"))
        batch_op.drop_index(batch_op.f("ix_quality_maintenance_windows_first_day"))
    op.drop_table("quality_maintenance_windows")
    with op.batch_alter_table("machine_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_machine_reservations_reference"))
        batch_op.drop_index(batch_op.f("ix_machine_reservations_work_centre_id_first_day"))
    op.drop_table("machine_reservations")
    with op.batch_alter_table("quality_saved_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_saved_views_list_name_shared"))
    op.drop_table("quality_saved_views")
    op.drop_table("quality_support_calendar_days")
    op.drop_table("quality_support_calendars")
    with op.batch_alter_table("quality_return_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_quality_return_lines_within_returned_all"), type_="check")
        batch_op.drop_constraint(op.f("ck_quality_return_lines_repair_non_negative"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_quality_return_lines_within_returned"),
            "restocked_qty + scrapped_qty <= qty",
        )
        batch_op.drop_constraint(
            batch_op.f("fk_quality_return_lines_repair_job_id_production_jobs"), type_="foreignkey"
        )
        batch_op.drop_column("repair_job_id")
        batch_op.drop_column("repair_qty")
    with op.batch_alter_table("quality_sla_policies", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_quality_sla_policies_calendar_kind_known"), type_="check")
        batch_op.drop_column("calendar_kind")
    with op.batch_alter_table("quality_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_tickets_operation_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_quality_tickets_operation_id_job_operations"), type_="foreignkey"
        )
        batch_op.drop_column("operation_id")
