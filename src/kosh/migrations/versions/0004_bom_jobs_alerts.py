"""bom, production jobs and alerts: BOMs and lines, spreadsheet imports and their problems,
production jobs and job lines, alerts and digest notifications

Revision ID: 0004
Revises: 0003
Depends on: 0003 (stock: job outputs are lots)
Create Date: 2026-11-22 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import kosh.core.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("recipients", _JSON, nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("alert_ids", _JSON, nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('sending', 'sent', 'failed')",
            name=op.f("ck_alert_notifications_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notifications")),
    )
    with op.batch_alter_table("alert_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_notifications_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "boms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assembly_part_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'obsolete')", name=op.f("ck_boms_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["assembly_part_id"], ["parts.id"], name=op.f("fk_boms_assembly_part_id_parts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boms")),
        sa.UniqueConstraint(
            "assembly_part_id", "revision", name=op.f("uq_boms_assembly_part_id_revision")
        ),
    )
    with op.batch_alter_table("boms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_boms_status"), ["status"], unique=False)

    op.create_table(
        "bom_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_kind", sa.String(length=8), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=False),
        sa.Column("options", _JSON, nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("lines_count", sa.Integer(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("problems_truncated", sa.Boolean(), nullable=False),
        sa.Column("result", _JSON, nullable=True),
        sa.Column("message", sa.String(length=1000), nullable=True),
        sa.Column("bom_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_bom_imports_status_known"),
        ),
        sa.CheckConstraint("rows_done >= 0", name=op.f("ck_bom_imports_rows_done_non_negative")),
        sa.ForeignKeyConstraint(
            ["bom_id"], ["boms.id"], name=op.f("fk_bom_imports_bom_id_boms"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bom_imports")),
    )
    with op.batch_alter_table("bom_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bom_imports_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bom_imports_status_heartbeat_at"),
            ["status", "heartbeat_at"],
            unique=False,
        )

    op.create_table(
        "bom_lines",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("bom_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("refdes", sa.Text(), nullable=False),
        sa.Column("notes", sa.String(length=500), nullable=False),
        sa.CheckConstraint("line_no > 0", name=op.f("ck_bom_lines_line_no_positive")),
        sa.CheckConstraint("qty > 0", name=op.f("ck_bom_lines_qty_positive")),
        sa.ForeignKeyConstraint(
            ["bom_id"], ["boms.id"], name=op.f("fk_bom_lines_bom_id_boms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["part_id"], ["parts.id"], name=op.f("fk_bom_lines_part_id_parts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bom_lines")),
        sa.UniqueConstraint("bom_id", "line_no", name=op.f("uq_bom_lines_bom_id_line_no")),
        sa.UniqueConstraint("bom_id", "part_id", name=op.f("uq_bom_lines_bom_id_part_id")),
    )
    with op.batch_alter_table("bom_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bom_lines_part_id"), ["part_id"], unique=False)

    op.create_table(
        "production_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("assembly_part_id", sa.Integer(), nullable=False),
        sa.Column("bom_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.String(length=500), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("produced_qty", sa.Integer(), nullable=True),
        sa.Column("output_lot_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=100), nullable=True),
        sa.Column("over_planning_confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("started_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=100), nullable=True),
        sa.Column("cancelled_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('planned', 'released', 'in_progress', 'complete', 'cancelled')",
            name=op.f("ck_production_jobs_status_known"),
        ),
        sa.CheckConstraint(
            "produced_qty IS NULL OR produced_qty > 0",
            name=op.f("ck_production_jobs_produced_positive"),
        ),
        sa.CheckConstraint("qty > 0", name=op.f("ck_production_jobs_qty_positive")),
        sa.ForeignKeyConstraint(
            ["assembly_part_id"],
            ["parts.id"],
            name=op.f("fk_production_jobs_assembly_part_id_parts"),
        ),
        sa.ForeignKeyConstraint(
            ["bom_id"], ["boms.id"], name=op.f("fk_production_jobs_bom_id_boms")
        ),
        sa.ForeignKeyConstraint(
            ["output_lot_id"], ["lots.id"], name=op.f("fk_production_jobs_output_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_production_jobs_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_jobs")),
        sa.UniqueConstraint("number", name=op.f("uq_production_jobs_number")),
    )
    with op.batch_alter_table("production_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_production_jobs_assembly_part_id"), ["assembly_part_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_production_jobs_status_warehouse_id"),
            ["status", "warehouse_id"],
            unique=False,
        )

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_key", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("details", _JSON, nullable=True),
        sa.Column("part_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("warehouse_id", sa.Integer(), nullable=True),
        sa.Column("first_raised_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_raised_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("acknowledged_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ack_note", sa.String(length=1000), nullable=True),
        sa.Column("ack_action", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reopened_count", sa.Integer(), nullable=False),
        sa.Column("notify_pending", sa.Boolean(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'critical')", name=op.f("ck_alerts_severity_known")
        ),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_alerts_state_known")
        ),
        sa.CheckConstraint("reopened_count >= 0", name=op.f("ck_alerts_reopened_non_negative")),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["production_jobs.id"],
            name=op.f("fk_alerts_job_id_production_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["alert_notifications.id"],
            name=op.f("fk_alerts_notification_id_alert_notifications"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_alerts_part_id_parts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_alerts_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("subject_key", name=op.f("uq_alerts_subject_key")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_alerts_notify_pending"), ["notify_pending"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alerts_part_id"), ["part_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_state_kind"), ["state", "kind"], unique=False)

    op.create_table(
        "bom_import_problems",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("column", sa.String(length=200), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.CheckConstraint(
            "severity IN ('error', 'warning')", name=op.f("ck_bom_import_problems_severity_known")
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["bom_imports.id"],
            name=op.f("fk_bom_import_problems_import_id_bom_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bom_import_problems")),
    )
    with op.batch_alter_table("bom_import_problems", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bom_import_problems_import_id_id"), ["import_id", "id"], unique=False
        )

    op.create_table(
        "job_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("qty_per", sa.Integer(), nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("consumed", sa.Integer(), nullable=False),
        sa.CheckConstraint("consumed >= 0", name=op.f("ck_job_lines_consumed_non_negative")),
        sa.CheckConstraint("qty_per > 0", name=op.f("ck_job_lines_qty_per_positive")),
        sa.CheckConstraint("required > 0", name=op.f("ck_job_lines_required_positive")),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["production_jobs.id"],
            name=op.f("fk_job_lines_job_id_production_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["part_id"], ["parts.id"], name=op.f("fk_job_lines_part_id_parts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_lines")),
        sa.UniqueConstraint("job_id", "part_id", name=op.f("uq_job_lines_job_id_part_id")),
    )
    with op.batch_alter_table("job_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_lines_part_id"), ["part_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_lines_part_id"))

    op.drop_table("job_lines")
    with op.batch_alter_table("bom_import_problems", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bom_import_problems_import_id_id"))

    op.drop_table("bom_import_problems")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_state_kind"))
        batch_op.drop_index(batch_op.f("ix_alerts_part_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_notify_pending"))
        batch_op.drop_index(batch_op.f("ix_alerts_job_id"))

    op.drop_table("alerts")
    with op.batch_alter_table("production_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_production_jobs_status_warehouse_id"))
        batch_op.drop_index(batch_op.f("ix_production_jobs_assembly_part_id"))

    op.drop_table("production_jobs")
    with op.batch_alter_table("bom_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bom_lines_part_id"))

    op.drop_table("bom_lines")
    with op.batch_alter_table("bom_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bom_imports_status_heartbeat_at"))
        batch_op.drop_index(batch_op.f("ix_bom_imports_created_at"))

    op.drop_table("bom_imports")
    with op.batch_alter_table("boms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_boms_status"))

    op.drop_table("boms")
    with op.batch_alter_table("alert_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_notifications_created_at"))

    op.drop_table("alert_notifications")
