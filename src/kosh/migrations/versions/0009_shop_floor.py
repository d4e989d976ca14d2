"""shop floor: departments, employees, shift calendars, work centres, machines, routings,
job operations, capacity bookings and load rows, operator time logs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 08:12:24.346599
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kosh.core.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shift_calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mon_minutes", sa.Integer(), nullable=False),
        sa.Column("tue_minutes", sa.Integer(), nullable=False),
        sa.Column("wed_minutes", sa.Integer(), nullable=False),
        sa.Column("thu_minutes", sa.Integer(), nullable=False),
        sa.Column("fri_minutes", sa.Integer(), nullable=False),
        sa.Column("sat_minutes", sa.Integer(), nullable=False),
        sa.Column("sun_minutes", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "fri_minutes BETWEEN 0 AND 1440", name=op.f("ck_shift_calendars_fri_minutes_in_day")
        ),
        sa.CheckConstraint(
            "mon_minutes BETWEEN 0 AND 1440", name=op.f("ck_shift_calendars_mon_minutes_in_day")
        ),
        sa.CheckConstraint(
            "sat_minutes BETWEEN 0 AND 1440", name=op.f("ck_shift_calendars_sat_minutes_in_day")
        ),
        sa.CheckConstraint(
            "sun_minutes BETWEEN 0 AND 1440", name=op.f("ck_shift_calendars_sun_minutes_in_day")
        ),
        sa.CheckConstraint(
            "thu_minutes BETWEEN 0 AND 1440", name=op.f("ck_shift_calendars_thu_minutes_in_day")
        ),
        sa.CheckConstraint(
            "tue_minutes BETWEEN 0 AND 1440", name=op.f("ck_shift_calendars_tue_minutes_in_day")
        ),
        sa.CheckConstraint(
            "wed_minutes BETWEEN 0 AND 1440", name=op.f("ck_shift_calendars_wed_minutes_in_day")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_calendars")),
        sa.UniqueConstraint("code", name=op.f("uq_shift_calendars_code")),
    )
    op.create_table(
        "calendar_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "minutes BETWEEN 0 AND 1440", name=op.f("ck_calendar_days_minutes_in_day")
        ),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["shift_calendars.id"],
            name=op.f("fk_calendar_days_calendar_id_shift_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_days")),
        sa.UniqueConstraint("calendar_id", "day", name=op.f("uq_calendar_days_calendar_id_day")),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("manager_user_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_user_id"], ["users.id"], name=op.f("fk_departments_manager_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "employees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("badge_code", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_employees_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_employees_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employees")),
        sa.UniqueConstraint("badge_code", name=op.f("uq_employees_badge_code")),
        sa.UniqueConstraint("number", name=op.f("uq_employees_number")),
        sa.UniqueConstraint("user_id", name=op.f("uq_employees_user_id")),
    )
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_employees_department_id"), ["department_id"], unique=False
        )

    op.create_table(
        "routings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assembly_part_id", sa.Integer(), nullable=False),
        sa.Column("bom_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assembly_part_id"], ["parts.id"], name=op.f("fk_routings_assembly_part_id_parts")
        ),
        sa.ForeignKeyConstraint(["bom_id"], ["boms.id"], name=op.f("fk_routings_bom_id_boms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routings")),
        sa.UniqueConstraint(
            "assembly_part_id", "revision", name=op.f("uq_routings_assembly_part_id_revision")
        ),
    )
    with op.batch_alter_table("routings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routings_bom_id"), ["bom_id"], unique=False)

    op.create_table(
        "work_centres",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("efficiency_pct", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "efficiency_pct BETWEEN 1 AND 200", name=op.f("ck_work_centres_efficiency_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["shift_calendars.id"],
            name=op.f("fk_work_centres_calendar_id_shift_calendars"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_work_centres_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_centres")),
        sa.UniqueConstraint("code", name=op.f("uq_work_centres_code")),
    )
    with op.batch_alter_table("work_centres", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_work_centres_calendar_id"), ["calendar_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_work_centres_department_id"), ["department_id"], unique=False
        )

    op.create_table(
        "employee_work_centres",
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("work_centre_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_employee_work_centres_employee_id_employees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_centre_id"],
            ["work_centres.id"],
            name=op.f("fk_employee_work_centres_work_centre_id_work_centres"),
        ),
        sa.PrimaryKeyConstraint(
            "employee_id", "work_centre_id", name=op.f("pk_employee_work_centres")
        ),
    )
    op.create_table(
        "job_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("work_centre_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("setup_minutes", sa.Integer(), nullable=False),
        sa.Column("run_minutes_per_unit", sa.Numeric(precision=10, scale=3), nullable=False),
        sa.Column("planned_minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'paused', 'done')",
            name=op.f("ck_job_operations_status_known"),
        ),
        sa.CheckConstraint(
            "planned_minutes >= 0", name=op.f("ck_job_operations_planned_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["production_jobs.id"],
            name=op.f("fk_job_operations_job_id_production_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["work_centre_id"],
            ["work_centres.id"],
            name=op.f("fk_job_operations_work_centre_id_work_centres"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_operations")),
        sa.UniqueConstraint("job_id", "seq", name=op.f("uq_job_operations_job_id_seq")),
    )
    with op.batch_alter_table("job_operations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_job_operations_work_centre_id_status"),
            ["work_centre_id", "status"],
            unique=False,
        )

    op.create_table(
        "machines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_centre_id", sa.Integer(), nullable=False),
        sa.Column("asset_number", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=False),
        sa.Column("status_changed_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'idle', 'down', 'maintenance')",
            name=op.f("ck_machines_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["work_centre_id"],
            ["work_centres.id"],
            name=op.f("fk_machines_work_centre_id_work_centres"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machines")),
        sa.UniqueConstraint("asset_number", name=op.f("uq_machines_asset_number")),
    )
    with op.batch_alter_table("machines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_machines_work_centre_id"), ["work_centre_id"], unique=False
        )

    op.create_table(
        "routing_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("routing_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("work_centre_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("setup_minutes", sa.Integer(), nullable=False),
        sa.Column("run_minutes_per_unit", sa.Numeric(precision=10, scale=3), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "run_minutes_per_unit >= 0", name=op.f("ck_routing_operations_run_non_negative")
        ),
        sa.CheckConstraint(
            "setup_minutes >= 0", name=op.f("ck_routing_operations_setup_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["routing_id"],
            ["routings.id"],
            name=op.f("fk_routing_operations_routing_id_routings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_centre_id"],
            ["work_centres.id"],
            name=op.f("fk_routing_operations_work_centre_id_work_centres"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_operations")),
        sa.UniqueConstraint("routing_id", "seq", name=op.f("uq_routing_operations_routing_id_seq")),
    )
    with op.batch_alter_table("routing_operations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_routing_operations_work_centre_id"), ["work_centre_id"], unique=False
        )

    op.create_table(
        "work_centre_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_centre_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("capacity_minutes", sa.Integer(), nullable=False),
        sa.Column("planned_minutes", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "capacity_minutes >= 0", name=op.f("ck_work_centre_days_capacity_non_negative")
        ),
        sa.CheckConstraint(
            "planned_minutes <= capacity_minutes",
            name=op.f("ck_work_centre_days_not_over_capacity"),
        ),
        sa.CheckConstraint(
            "planned_minutes >= 0", name=op.f("ck_work_centre_days_planned_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["work_centre_id"],
            ["work_centres.id"],
            name=op.f("fk_work_centre_days_work_centre_id_work_centres"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_centre_days")),
        sa.UniqueConstraint(
            "work_centre_id", "day", name=op.f("uq_work_centre_days_work_centre_id_day")
        ),
    )
    op.create_table(
        "operation_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("work_centre_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.CheckConstraint("minutes > 0", name=op.f("ck_operation_bookings_minutes_positive")),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["job_operations.id"],
            name=op.f("fk_operation_bookings_operation_id_job_operations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_centre_id"],
            ["work_centres.id"],
            name=op.f("fk_operation_bookings_work_centre_id_work_centres"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operation_bookings")),
        sa.UniqueConstraint(
            "operation_id", "day", name=op.f("uq_operation_bookings_operation_id_day")
        ),
    )
    with op.batch_alter_table("operation_bookings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operation_bookings_work_centre_id_day"),
            ["work_centre_id", "day"],
            unique=False,
        )

    op.create_table(
        "time_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("start_log_id", sa.Integer(), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("good_qty", sa.Integer(), nullable=False),
        sa.Column("scrap_qty", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "(kind = 'start' AND minutes = 0 AND good_qty = 0 AND scrap_qty = 0)"
            " OR (kind IN ('stop', 'manual') AND minutes >= 0 AND good_qty >= 0"
            " AND scrap_qty >= 0)"
            " OR (kind = 'reversal' AND minutes <= 0 AND good_qty <= 0 AND scrap_qty <= 0)",
            name=op.f("ck_time_logs_signs_match_kind"),
        ),
        sa.CheckConstraint(
            "kind IN ('start', 'stop', 'manual', 'reversal')", name=op.f("ck_time_logs_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_time_logs_employee_id_employees")
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["job_operations.id"],
            name=op.f("fk_time_logs_operation_id_job_operations"),
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["time_logs.id"], name=op.f("fk_time_logs_reverses_id_time_logs")
        ),
        sa.ForeignKeyConstraint(
            ["start_log_id"], ["time_logs.id"], name=op.f("fk_time_logs_start_log_id_time_logs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_logs")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_time_logs_reverses_id")),
        sa.UniqueConstraint("start_log_id", name=op.f("uq_time_logs_start_log_id")),
    )
    with op.batch_alter_table("time_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_time_logs_employee_id_at"), ["employee_id", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_time_logs_operation_id"), ["operation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("time_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_logs_operation_id"))
        batch_op.drop_index(batch_op.f("ix_time_logs_employee_id_at"))

    op.drop_table("time_logs")
    with op.batch_alter_table("operation_bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operation_bookings_work_centre_id_day"))

    op.drop_table("operation_bookings")
    op.drop_table("work_centre_days")
    with op.batch_alter_table("routing_operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_operations_work_centre_id"))

    op.drop_table("routing_operations")
    with op.batch_alter_table("machines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_machines_work_centre_id"))

    op.drop_table("machines")
    with op.batch_alter_table("job_operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_operations_work_centre_id_status"))

    op.drop_table("job_operations")
    op.drop_table("employee_work_centres")
    with op.batch_alter_table("work_centres", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_centres_department_id"))
        batch_op.drop_index(batch_op.f("ix_work_centres_calendar_id"))

    op.drop_table("work_centres")
    with op.batch_alter_table("routings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routings_bom_id"))

    op.drop_table("routings")
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employees_department_id"))

    op.drop_table("employees")
    op.drop_table("departments")
    op.drop_table("calendar_days")
    op.drop_table("shift_calendars")
