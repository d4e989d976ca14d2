"""sales and storefront: customers, sales orders, reservations, web stores, staged web
orders, the sync-back outbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kosh.core.db
import kosh.core.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("email_key", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("billing_address", kosh.core.types.JSONType, nullable=True),
        sa.Column("shipping_address", kosh.core.types.JSONType, nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("email_key", name=op.f("uq_customers_email_key")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_name"), ["name"], unique=False)

    op.create_table(
        "sales_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("backorder", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("external_store", sa.String(length=32), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("external_status", sa.String(length=20), nullable=True),
        sa.Column("external_modified_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reopenable", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'confirmed', 'partially_shipped', 'shipped', 'on_hold', "
            "'cancelled')",
            name=op.f("ck_sales_orders_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_sales_orders_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_sales_orders_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_orders")),
        sa.UniqueConstraint(
            "external_store", "external_id", name=op.f("uq_sales_orders_external_store_external_id")
        ),
        sa.UniqueConstraint("number", name=op.f("uq_sales_orders_number")),
    )
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_orders_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sales_orders_external_id"), ["external_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sales_orders_status_id"), ["status", "id"], unique=False
        )

    op.create_table(
        "stock_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("qty_reserved", sa.Integer(), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "qty_reserved >= 0", name=op.f("ck_stock_reservations_qty_reserved_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_stock_reservations_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_reservations_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_reservations")),
        sa.UniqueConstraint(
            "part_id", "warehouse_id", name=op.f("uq_stock_reservations_part_id_warehouse_id")
        ),
    )
    with op.batch_alter_table("stock_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_reservations_warehouse_id"), ["warehouse_id"], unique=False
        )

    op.create_table(
        "storefront_stores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("base_url", sa.String(length=300), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("webhook_secret_enc", sa.Text(), nullable=False),
        sa.Column("consumer_key_enc", sa.Text(), nullable=True),
        sa.Column("consumer_secret_enc", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('woocommerce')", name=op.f("ck_storefront_stores_kind_known")),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_storefront_stores_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storefront_stores")),
        sa.UniqueConstraint("code", name=op.f("uq_storefront_stores_code")),
    )
    op.create_table(
        "sales_order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("qty_reserved", sa.Integer(), nullable=False),
        sa.Column("qty_shipped", sa.Integer(), nullable=False),
        sa.Column("external_line_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("qty > 0", name=op.f("ck_sales_order_lines_qty_positive")),
        sa.CheckConstraint(
            "qty_reserved + qty_shipped <= qty", name=op.f("ck_sales_order_lines_within_ordered")
        ),
        sa.CheckConstraint(
            "qty_reserved >= 0", name=op.f("ck_sales_order_lines_qty_reserved_non_negative")
        ),
        sa.CheckConstraint(
            "qty_shipped >= 0", name=op.f("ck_sales_order_lines_qty_shipped_non_negative")
        ),
        sa.CheckConstraint(
            "unit_price >= 0", name=op.f("ck_sales_order_lines_unit_price_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_orders.id"],
            name=op.f("fk_sales_order_lines_order_id_sales_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_sales_order_lines_part_id_parts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_order_lines")),
        sa.UniqueConstraint(
            "order_id", "line_no", name=op.f("uq_sales_order_lines_order_id_line_no")
        ),
    )
    with op.batch_alter_table("sales_order_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_order_lines_part_id"), ["part_id"], unique=False)

    op.create_table(
        "storefront_outbox",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("sales_order_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", kosh.core.types.JSONType, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed', 'cancelled')",
            name=op.f("ck_storefront_outbox_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_storefront_outbox_sales_order_id_sales_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["storefront_stores.id"],
            name=op.f("fk_storefront_outbox_store_id_storefront_stores"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storefront_outbox")),
    )
    with op.batch_alter_table("storefront_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_storefront_outbox_sales_order_id"), ["sales_order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_storefront_outbox_status_next_attempt_at_id"),
            ["status", "next_attempt_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_storefront_outbox_store_id_external_id_id"),
            ["store_id", "external_id", "id"],
            unique=False,
        )

    op.create_table(
        "storefront_sku_map",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_storefront_sku_map_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["storefront_stores.id"],
            name=op.f("fk_storefront_sku_map_store_id_storefront_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storefront_sku_map")),
        sa.UniqueConstraint("store_id", "sku", name=op.f("uq_storefront_sku_map_store_id_sku")),
    )
    with op.batch_alter_table("storefront_sku_map", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_storefront_sku_map_part_id"), ["part_id"], unique=False
        )

    op.create_table(
        "storefront_staged_orders",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("delivery_id", sa.String(length=100), nullable=True),
        sa.Column("external_status", sa.String(length=20), nullable=True),
        sa.Column("source_modified_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", kosh.core.types.JSONType, nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("reasons", kosh.core.types.JSONType, nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sales_order_id", sa.Integer(), nullable=True),
        sa.Column("received_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", kosh.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'applied', 'review', 'ignored', 'cancelled')",
            name=op.f("ck_storefront_staged_orders_status_known"),
        ),
        sa.CheckConstraint(
            "attempts >= 0", name=op.f("ck_storefront_staged_orders_attempts_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_storefront_staged_orders_sales_order_id_sales_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["storefront_stores.id"],
            name=op.f("fk_storefront_staged_orders_store_id_storefront_stores"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storefront_staged_orders")),
        sa.UniqueConstraint(
            "store_id",
            "external_id",
            "dedupe_key",
            name=op.f("uq_storefront_staged_orders_store_id_external_id_dedupe_key"),
        ),
    )
    with op.batch_alter_table("storefront_staged_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_storefront_staged_orders_order_key",
            ["store_id", "external_id", "source_modified_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_storefront_staged_orders_processed_at"), ["processed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_storefront_staged_orders_sales_order_id"),
            ["sales_order_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_storefront_staged_orders_status_next_attempt_at_id"),
            ["status", "next_attempt_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    for table, indexes in (
        (
            "storefront_staged_orders",
            [
                "ix_storefront_staged_orders_order_key",
                "ix_storefront_staged_orders_status_next_attempt_at_id",
                "ix_storefront_staged_orders_sales_order_id",
                "ix_storefront_staged_orders_processed_at",
            ],
        ),
        ("storefront_sku_map", ["ix_storefront_sku_map_part_id"]),
        (
            "storefront_outbox",
            [
                "ix_storefront_outbox_store_id_external_id_id",
                "ix_storefront_outbox_status_next_attempt_at_id",
                "ix_storefront_outbox_sales_order_id",
            ],
        ),
        ("sales_order_lines", ["ix_sales_order_lines_part_id"]),
        ("storefront_stores", []),
        ("stock_reservations", ["ix_stock_reservations_warehouse_id"]),
        (
            "sales_orders",
            [
                "ix_sales_orders_status_id",
                "ix_sales_orders_external_id",
                "ix_sales_orders_customer_id",
            ],
        ),
        ("customers", ["ix_customers_name"]),
    ):
        if indexes:
            with op.batch_alter_table(table, schema=None) as batch_op:
                for index in indexes:
                    batch_op.drop_index(index)
        op.drop_table(table)
