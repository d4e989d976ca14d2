"""purchasing: suppliers, supplier parts, purchase orders, receipts, reorder rules

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kosh.core.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("lead_time_days >= 0", name=op.f("ck_suppliers_lead_time_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("code", name=op.f("uq_suppliers_code")),
    )
    with op.batch_alter_table("suppliers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_suppliers_name"), ["name"], unique=False)

    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("placed_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'placed', 'partially_received', 'received', 'cancelled', "
            "'closed_short')",
            name=op.f("ck_purchase_orders_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_purchase_orders_supplier_id_suppliers")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_purchase_orders_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_purchase_orders_number")),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_status_id"), ["status", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_supplier_id"), ["supplier_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_warehouse_id_status"),
            ["warehouse_id", "status"],
            unique=False,
        )

    op.create_table(
        "reorder_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("min_qty", sa.Integer(), nullable=False),
        sa.Column("max_qty", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("max_qty >= min_qty", name=op.f("ck_reorder_rules_max_at_least_min")),
        sa.CheckConstraint("min_qty >= 0", name=op.f("ck_reorder_rules_min_non_negative")),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_reorder_rules_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_reorder_rules_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reorder_rules")),
        sa.UniqueConstraint(
            "part_id", "warehouse_id", name=op.f("uq_reorder_rules_part_id_warehouse_id")
        ),
    )
    with op.batch_alter_table("reorder_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reorder_rules_warehouse_id"), ["warehouse_id"], unique=False
        )

    op.create_table(
        "supplier_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("manufacturer", sa.String(length=200), nullable=True),
        sa.Column("mpn", sa.String(length=100), nullable=True),
        sa.Column("pack_size", sa.Integer(), nullable=False),
        sa.Column("pack_unit", sa.String(length=16), nullable=False),
        sa.Column("min_order_qty", sa.Integer(), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=True),
        sa.Column("preferred", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "lead_time_days IS NULL OR lead_time_days >= 0",
            name=op.f("ck_supplier_parts_lead_time_ok"),
        ),
        sa.CheckConstraint("min_order_qty >= 1", name=op.f("ck_supplier_parts_min_order_positive")),
        sa.CheckConstraint("pack_size >= 1", name=op.f("ck_supplier_parts_pack_size_positive")),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_supplier_parts_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_supplier_parts_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_parts")),
        sa.UniqueConstraint("supplier_id", "sku", name=op.f("uq_supplier_parts_supplier_id_sku")),
    )
    with op.batch_alter_table("supplier_parts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supplier_parts_mpn"), ["mpn"], unique=False)
        batch_op.create_index(batch_op.f("ix_supplier_parts_part_id"), ["part_id"], unique=False)

    op.create_table(
        "purchase_order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("supplier_part_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("packs", sa.Integer(), nullable=True),
        sa.Column("qty_received", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.CheckConstraint("qty > 0", name=op.f("ck_purchase_order_lines_qty_positive")),
        sa.CheckConstraint(
            "qty_received >= 0", name=op.f("ck_purchase_order_lines_qty_received_non_negative")
        ),
        sa.CheckConstraint(
            "unit_price >= 0", name=op.f("ck_purchase_order_lines_unit_price_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_order_lines_order_id_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_purchase_order_lines_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_part_id"],
            ["supplier_parts.id"],
            name=op.f("fk_purchase_order_lines_supplier_part_id_supplier_parts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
        sa.UniqueConstraint(
            "order_id", "line_no", name=op.f("uq_purchase_order_lines_order_id_line_no")
        ),
    )
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_order_lines_part_id"), ["part_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_order_lines_supplier_part_id"),
            ["supplier_part_id"],
            unique=False,
        )

    op.create_table(
        "supplier_prices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_part_id", sa.Integer(), nullable=False),
        sa.Column("min_qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.CheckConstraint("min_qty >= 1", name=op.f("ck_supplier_prices_min_qty_positive")),
        sa.CheckConstraint(
            "unit_price >= 0", name=op.f("ck_supplier_prices_unit_price_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_part_id"],
            ["supplier_parts.id"],
            name=op.f("fk_supplier_prices_supplier_part_id_supplier_parts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_prices")),
        sa.UniqueConstraint(
            "supplier_part_id", "min_qty", name=op.f("uq_supplier_prices_supplier_part_id_min_qty")
        ),
    )
    op.create_table(
        "purchase_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("pcn", sa.String(length=64), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("lot_code", sa.String(length=64), nullable=True),
        sa.Column("date_code", sa.String(length=32), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("label_format", sa.String(length=16), nullable=True),
        sa.Column("over_receipt", sa.Boolean(), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reversed_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reversed_by", sa.String(length=100), nullable=True),
        sa.Column(
            "reversal_transaction_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.CheckConstraint("qty > 0", name=op.f("ck_purchase_receipts_qty_positive")),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["purchase_order_lines.id"],
            name=op.f("fk_purchase_receipts_line_id_purchase_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_purchase_receipts_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_purchase_receipts_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_purchase_receipts_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_receipts_order_id_purchase_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["reversal_transaction_id"],
            ["stock_transactions.id"],
            name=op.f("fk_purchase_receipts_reversal_transaction_id_stock_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["stock_transactions.id"],
            name=op.f("fk_purchase_receipts_transaction_id_stock_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_receipts")),
    )
    with op.batch_alter_table("purchase_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_receipts_line_id"), ["line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_purchase_receipts_lot_id"), ["lot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_purchase_receipts_order_id_id"), ["order_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("purchase_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_receipts_order_id_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_receipts_lot_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_receipts_line_id"))

    op.drop_table("purchase_receipts")
    op.drop_table("supplier_prices")
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_order_lines_supplier_part_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_order_lines_part_id"))

    op.drop_table("purchase_order_lines")
    with op.batch_alter_table("supplier_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplier_parts_part_id"))
        batch_op.drop_index(batch_op.f("ix_supplier_parts_mpn"))

    op.drop_table("supplier_parts")
    with op.batch_alter_table("reorder_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reorder_rules_warehouse_id"))

    op.drop_table("reorder_rules")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_orders_warehouse_id_status"))
        batch_op.drop_index(batch_op.f("ix_purchase_orders_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_orders_status_id"))

    op.drop_table("purchase_orders")
    with op.batch_alter_table("suppliers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suppliers_name"))

    op.drop_table("suppliers")
