"""sales: shipments with carrier and tracking (several per order), refunded lines of web
orders for the returns desk; storefront: a store may
use the Shipment Tracking extension, keeps per-part stock rules (buffer, excluded) and draws
on several warehouses in priority order; catalog: parts get a list price apart from the cost
(existing parts start with list_price = unit_cost)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 11:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kosh.core.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_shipments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=80), nullable=False),
        sa.Column("carrier", sa.String(length=100), nullable=True),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        sa.Column("shipped_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_orders.id"],
            name=op.f("fk_sales_shipments_order_id_sales_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_shipments")),
        sa.UniqueConstraint("number", name=op.f("uq_sales_shipments_number")),
    )
    with op.batch_alter_table("sales_shipments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_shipments_order_id"), ["order_id"], unique=False)
    op.create_table(
        "sales_shipment_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_sales_shipment_lines_qty_positive")),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["sales_shipments.id"],
            name=op.f("fk_sales_shipment_lines_shipment_id_sales_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["sales_order_lines.id"],
            name=op.f("fk_sales_shipment_lines_order_line_id_sales_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_sales_shipment_lines_part_id_parts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_shipment_lines")),
    )
    with op.batch_alter_table("sales_shipment_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_shipment_lines_shipment_id"), ["shipment_id"], unique=False
        )
    op.create_table(
        "sales_refunded_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("qty_shipped", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("external_modified_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_sales_refunded_lines_qty_positive")),
        sa.CheckConstraint(
            "qty_shipped >= 0 AND qty_shipped <= qty",
            name=op.f("ck_sales_refunded_lines_shipped_within"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_orders.id"],
            name=op.f("fk_sales_refunded_lines_order_id_sales_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["sales_order_lines.id"],
            name=op.f("fk_sales_refunded_lines_order_line_id_sales_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_sales_refunded_lines_part_id_parts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_refunded_lines")),
    )
    with op.batch_alter_table("sales_refunded_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_refunded_lines_order_id"), ["order_id"], unique=False
        )
    with op.batch_alter_table("storefront_stores", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("shipment_tracking", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "storefront_stock_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("buffer", sa.Integer(), nullable=True),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "buffer IS NULL OR buffer >= 0",
            name=op.f("ck_storefront_stock_rules_buffer_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["storefront_stores.id"],
            name=op.f("fk_storefront_stock_rules_store_id_storefront_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_storefront_stock_rules_part_id_parts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storefront_stock_rules")),
        sa.UniqueConstraint(
            "store_id", "part_id", name=op.f("uq_storefront_stock_rules_store_id_part_id")
        ),
    )
    op.create_table(
        "storefront_store_warehouses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["storefront_stores.id"],
            name=op.f("fk_storefront_store_warehouses_store_id_storefront_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_storefront_store_warehouses_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storefront_store_warehouses")),
        sa.UniqueConstraint(
            "store_id",
            "warehouse_id",
            name=op.f("uq_storefront_store_warehouses_store_id_warehouse_id"),
        ),
    )
    # Data: every store draws on the one warehouse it had.
    op.execute(
        "INSERT INTO storefront_store_warehouses (store_id, warehouse_id, priority) "
        "SELECT id, warehouse_id, 0 FROM storefront_stores"
    )
    with op.batch_alter_table("parts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("list_price", sa.Numeric(precision=14, scale=4), nullable=True)
        )
        batch_op.create_check_constraint(
            "list_price_non_negative", "list_price IS NULL OR list_price >= 0"
        )
    # Data: the one price parts had served as the sales default; it stays their list price
    # until someone sets a real one, so no web order changes its review outcome.
    op.execute("UPDATE parts SET list_price = unit_cost WHERE unit_cost IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("parts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_parts_list_price_non_negative"), type_="check")
        batch_op.drop_column("list_price")
    op.drop_table("storefront_store_warehouses")
    op.drop_table("storefront_stock_rules")
    with op.batch_alter_table("storefront_stores", schema=None) as batch_op:
        batch_op.drop_column("shipment_tracking")
    with op.batch_alter_table("sales_refunded_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_refunded_lines_order_id"))
    op.drop_table("sales_refunded_lines")
    with op.batch_alter_table("sales_shipment_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_shipment_lines_shipment_id"))
    op.drop_table("sales_shipment_lines")
    with op.batch_alter_table("sales_shipments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_shipments_order_id"))
    op.drop_table("sales_shipments")
