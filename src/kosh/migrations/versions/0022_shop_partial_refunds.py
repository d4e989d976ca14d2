"""sales: units of a web order line refunded before they shipped (no longer to ship), a
line's own warehouse (a web order split over its store's warehouses), and
refunded lines keyed by the store's refund id (each refund recorded once); quality: an RMA
may be `proposed` (drafted from a shop refund, confirmed by the returns desk)

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-01 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sales_order_lines") as batch:
        batch.add_column(
            sa.Column("qty_cancelled", sa.Integer(), nullable=False, server_default="0")
        )
        batch.create_check_constraint(
            op.f("ck_sales_order_lines_cancelled_non_negative"), "qty_cancelled >= 0"
        )
        batch.create_check_constraint(
            op.f("ck_sales_order_lines_within_open"),
            "qty_reserved + qty_shipped + qty_cancelled <= qty",
        )
        batch.add_column(sa.Column("warehouse_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_sales_order_lines_warehouse_id_warehouses"),
            "warehouses",
            ["warehouse_id"],
            ["id"],
        )
    with op.batch_alter_table("sales_refunded_lines") as batch:
        batch.add_column(sa.Column("external_refund_id", sa.String(length=32), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_sales_refunded_lines_order_line_id_external_refund_id"),
            ["order_line_id", "external_refund_id"],
        )
    with op.batch_alter_table("quality_returns") as batch:
        batch.drop_constraint(op.f("ck_quality_returns_status_known"), type_="check")
        batch.create_check_constraint(
            op.f("ck_quality_returns_status_known"),
            "status IN ('proposed', 'authorised', 'received', 'closed')",
        )


def downgrade() -> None:
    op.execute(
        "DELETE FROM quality_return_lines WHERE return_id IN "
        "(SELECT id FROM quality_returns WHERE status = 'proposed')"
    )
    op.execute("DELETE FROM quality_returns WHERE status = 'proposed'")
    with op.batch_alter_table("quality_returns") as batch:
        batch.drop_constraint(op.f("ck_quality_returns_status_known"), type_="check")
        batch.create_check_constraint(
            op.f("ck_quality_returns_status_known"),
            "status IN ('authorised', 'received', 'closed')",
        )
    with op.batch_alter_table("sales_refunded_lines") as batch:
        batch.drop_constraint(
            op.f("uq_sales_refunded_lines_order_line_id_external_refund_id"), type_="unique"
        )
        batch.drop_column("external_refund_id")
    with op.batch_alter_table("sales_order_lines") as batch:
        batch.drop_constraint(
            op.f("fk_sales_order_lines_warehouse_id_warehouses"), type_="foreignkey"
        )
        batch.drop_column("warehouse_id")
        batch.drop_constraint(op.f("ck_sales_order_lines_within_open"), type_="check")
        batch.drop_constraint(op.f("ck_sales_order_lines_cancelled_non_negative"), type_="check")
        batch.drop_column("qty_cancelled")
