"""quality: tickets (maintenance, NCR, replacement) with workflows as data, status history,
attachments, preventive maintenance plans, customer returns (RMA), SLA policies

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 11:23:57.636174
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kosh.core.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


KINDS = ("maintenance", "ncr", "replacement")
STATUSES = (
    ("open", "open"),
    ("in_progress", "open"),
    ("waiting", "waiting"),
    ("resolved", "done"),
    ("closed", "done"),
)
TRANSITIONS = (
    ("open", "in_progress"),
    ("open", "waiting"),
    ("open", "resolved"),
    ("in_progress", "waiting"),
    ("in_progress", "resolved"),
    ("waiting", "in_progress"),
    ("waiting", "resolved"),
    ("resolved", "closed"),
    ("resolved", "in_progress"),
    ("closed", "in_progress"),
)


def _seed() -> None:
    """The default workflow of every kind (kosh.quality.workflows) and the number counters."""
    statuses = sa.table(
        "quality_workflow_statuses",
        sa.column("kind", sa.String),
        sa.column("status", sa.String),
        sa.column("category", sa.String),
        sa.column("position", sa.Integer),
        sa.column("initial", sa.Boolean),
    )
    transitions = sa.table(
        "quality_workflow_transitions",
        sa.column("kind", sa.String),
        sa.column("from_status", sa.String),
        sa.column("to_status", sa.String),
    )
    sequences = sa.table(
        "quality_ticket_sequences",
        sa.column("kind", sa.String),
        sa.column("last_value", sa.Integer),
    )
    op.bulk_insert(
        statuses,
        [
            {"kind": kind, "status": status, "category": category, "position": i, "initial": i == 0}
            for kind in KINDS
            for i, (status, category) in enumerate(STATUSES)
        ],
    )
    op.bulk_insert(
        transitions,
        [{"kind": k, "from_status": a, "to_status": b} for k in KINDS for a, b in TRANSITIONS],
    )
    op.bulk_insert(sequences, [{"kind": k, "last_value": 0} for k in (*KINDS, "rma")])


def upgrade() -> None:
    op.create_table(
        "quality_sla_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("response_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.Column("calendar_code", sa.String(length=32), nullable=True),
        sa.Column("day_start", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("warning_pct", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('maintenance', 'ncr', 'replacement')",
            name=op.f("ck_quality_sla_policies_kind_known"),
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'critical')",
            name=op.f("ck_quality_sla_policies_priority_known"),
        ),
        sa.CheckConstraint(
            "resolution_minutes >= response_minutes",
            name=op.f("ck_quality_sla_policies_resolution_after_response"),
        ),
        sa.CheckConstraint(
            "response_minutes > 0", name=op.f("ck_quality_sla_policies_response_positive")
        ),
        sa.CheckConstraint(
            "warning_pct BETWEEN 1 AND 99", name=op.f("ck_quality_sla_policies_warning_in_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_sla_policies")),
        sa.UniqueConstraint("kind", "priority", name=op.f("uq_quality_sla_policies_kind_priority")),
    )
    op.create_table(
        "quality_ticket_sequences",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_quality_ticket_sequences")),
    )
    op.create_table(
        "quality_workflow_statuses",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("initial", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "category IN ('open', 'waiting', 'done')",
            name=op.f("ck_quality_workflow_statuses_category_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('maintenance', 'ncr', 'replacement')",
            name=op.f("ck_quality_workflow_statuses_kind_known"),
        ),
        sa.PrimaryKeyConstraint("kind", "status", name=op.f("pk_quality_workflow_statuses")),
    )
    op.create_table(
        "quality_workflow_transitions",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=False),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint(
            "kind", "from_status", "to_status", name=op.f("pk_quality_workflow_transitions")
        ),
    )
    op.create_table(
        "quality_return_guards",
        sa.Column("sales_order_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_quality_return_guards_sales_order_id_sales_orders"),
        ),
        sa.PrimaryKeyConstraint("sales_order_id", name=op.f("pk_quality_return_guards")),
    )
    op.create_table(
        "quality_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("sales_order_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('refund', 'replacement', 'repair')",
            name=op.f("ck_quality_returns_outcome_known"),
        ),
        sa.CheckConstraint(
            "status IN ('authorised', 'received', 'closed')",
            name=op.f("ck_quality_returns_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_quality_returns_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_quality_returns_sales_order_id_sales_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_returns")),
        sa.UniqueConstraint("number", name=op.f("uq_quality_returns_number")),
    )
    with op.batch_alter_table("quality_returns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_returns_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quality_returns_sales_order_id"), ["sales_order_id"], unique=False
        )

    op.create_table(
        "quality_return_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("sales_order_line_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("restocked_qty", sa.Integer(), nullable=False),
        sa.Column("scrapped_qty", sa.Integer(), nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_quality_return_lines_qty_positive")),
        sa.CheckConstraint(
            "restocked_qty + scrapped_qty <= qty",
            name=op.f("ck_quality_return_lines_within_returned"),
        ),
        sa.CheckConstraint(
            "restocked_qty >= 0 AND scrapped_qty >= 0",
            name=op.f("ck_quality_return_lines_outcomes_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_quality_return_lines_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_quality_return_lines_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["quality_returns.id"],
            name=op.f("fk_quality_return_lines_return_id_quality_returns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_line_id"],
            ["sales_order_lines.id"],
            name=op.f("fk_quality_return_lines_sales_order_line_id_sales_order_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_return_lines")),
    )
    with op.batch_alter_table("quality_return_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_return_lines_return_id"), ["return_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quality_return_lines_sales_order_line_id"),
            ["sales_order_line_id"],
            unique=False,
        )

    op.create_table(
        "quality_maintenance_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=True),
        sa.Column("every_run_hours", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("last_done_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(every_days IS NOT NULL) <> (every_run_hours IS NOT NULL)",
            name=op.f("ck_quality_maintenance_plans_one_interval"),
        ),
        sa.CheckConstraint(
            "every_days IS NULL OR every_days > 0",
            name=op.f("ck_quality_maintenance_plans_days_positive"),
        ),
        sa.CheckConstraint(
            "every_run_hours IS NULL OR every_run_hours > 0",
            name=op.f("ck_quality_maintenance_plans_hours_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["machines.id"],
            name=op.f("fk_quality_maintenance_plans_machine_id_machines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_maintenance_plans")),
    )
    with op.batch_alter_table("quality_maintenance_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_maintenance_plans_active_next_due_on"),
            ["active", "next_due_on"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_quality_maintenance_plans_machine_id"), ["machine_id"], unique=False
        )

    op.create_table(
        "quality_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("assignee_department_id", sa.Integer(), nullable=True),
        sa.Column("part_id", sa.Integer(), nullable=True),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("machine_id", sa.Integer(), nullable=True),
        sa.Column("work_centre_id", sa.Integer(), nullable=True),
        sa.Column("sales_order_id", sa.Integer(), nullable=True),
        sa.Column("supplier_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("return_id", sa.Integer(), nullable=True),
        sa.Column("replacement_order_id", sa.Integer(), nullable=True),
        sa.Column("machine_down", sa.Boolean(), nullable=False),
        sa.Column("machine_prior_status", sa.String(length=16), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("cause", sa.String(length=100), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("corrective_action", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("opened_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('maintenance', 'ncr', 'replacement')",
            name=op.f("ck_quality_tickets_kind_known"),
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'critical')",
            name=op.f("ck_quality_tickets_priority_known"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_department_id"],
            ["departments.id"],
            name=op.f("fk_quality_tickets_assignee_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_user_id"],
            ["users.id"],
            name=op.f("fk_quality_tickets_assignee_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_quality_tickets_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["production_jobs.id"],
            name=op.f("fk_quality_tickets_job_id_production_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_quality_tickets_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_quality_tickets_machine_id_machines")
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_quality_tickets_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["quality_maintenance_plans.id"],
            name=op.f("fk_quality_tickets_plan_id_quality_maintenance_plans"),
        ),
        sa.ForeignKeyConstraint(
            ["replacement_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_quality_tickets_replacement_order_id_sales_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["quality_returns.id"],
            name=op.f("fk_quality_tickets_return_id_quality_returns"),
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_quality_tickets_sales_order_id_sales_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_quality_tickets_supplier_id_suppliers")
        ),
        sa.ForeignKeyConstraint(
            ["work_centre_id"],
            ["work_centres.id"],
            name=op.f("fk_quality_tickets_work_centre_id_work_centres"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_tickets")),
        sa.UniqueConstraint("number", name=op.f("uq_quality_tickets_number")),
        sa.UniqueConstraint("plan_id", "due_on", name=op.f("uq_quality_tickets_plan_id_due_on")),
    )
    with op.batch_alter_table("quality_tickets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_tickets_kind_status"), ["kind", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quality_tickets_lot_id"), ["lot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_quality_tickets_machine_id"), ["machine_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quality_tickets_sales_order_id"), ["sales_order_id"], unique=False
        )

    op.create_table(
        "quality_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_quality_attachments_size_positive")),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["quality_tickets.id"],
            name=op.f("fk_quality_attachments_ticket_id_quality_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_attachments")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_quality_attachments_stored_name")),
    )
    with op.batch_alter_table("quality_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_attachments_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "quality_ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "kind IN ('status', 'comment')", name=op.f("ck_quality_ticket_events_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["quality_tickets.id"],
            name=op.f("fk_quality_ticket_events_ticket_id_quality_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_ticket_events")),
    )
    with op.batch_alter_table("quality_ticket_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_ticket_events_ticket_id_id"), ["ticket_id", "id"], unique=False
        )

    _seed()


def downgrade() -> None:
    with op.batch_alter_table("quality_ticket_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_ticket_events_ticket_id_id"))

    op.drop_table("quality_ticket_events")
    with op.batch_alter_table("quality_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_attachments_ticket_id"))

    op.drop_table("quality_attachments")
    with op.batch_alter_table("quality_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_tickets_sales_order_id"))
        batch_op.drop_index(batch_op.f("ix_quality_tickets_machine_id"))
        batch_op.drop_index(batch_op.f("ix_quality_tickets_lot_id"))
        batch_op.drop_index(batch_op.f("ix_quality_tickets_kind_status"))

    op.drop_table("quality_tickets")
    with op.batch_alter_table("quality_maintenance_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_maintenance_plans_machine_id"))
        batch_op.drop_index(batch_op.f("ix_quality_maintenance_plans_active_next_due_on"))

    op.drop_table("quality_maintenance_plans")
    with op.batch_alter_table("quality_return_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_return_lines_sales_order_line_id"))
        batch_op.drop_index(batch_op.f("ix_quality_return_lines_return_id"))

    op.drop_table("quality_return_lines")
    with op.batch_alter_table("quality_returns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_returns_sales_order_id"))
        batch_op.drop_index(batch_op.f("ix_quality_returns_created_at"))

    op.drop_table("quality_returns")
    op.drop_table("quality_return_guards")
    op.drop_table("quality_workflow_transitions")
    op.drop_table("quality_workflow_statuses")
    op.drop_table("quality_ticket_sequences")
    op.drop_table("quality_sla_policies")
