"""stock: lots (PCNs), balances, the ledger, PCN sequences, verify runs, part search index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kosh.core.db
import kosh.core.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_KINDS = "'receive', 'pick', 'restock', 'transfer', 'adjust', 'consume', 'scrap', 'ship', 'produce'"
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _pg_trgm_available() -> bool:
    """Create pg_trgm if we may; a role without the right gets a plain index instead."""
    bind = op.get_bind()
    installed = bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
    if installed.scalar() is not None:
        return True
    try:
        # A savepoint, so a refused CREATE EXTENSION does not abort the migration.
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return False
    return True


SEARCH_COLUMNS = ("number", "description", "mpn")


def _create_part_search_indexes() -> None:
    trigram = op.get_bind().dialect.name == "postgresql" and _pg_trgm_available()
    for column in SEARCH_COLUMNS:
        if trigram:
            op.create_index(
                f"ix_parts_{column}_search",
                "parts",
                [column],
                unique=False,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
        else:
            with op.batch_alter_table("parts", schema=None) as batch_op:
                batch_op.create_index(f"ix_parts_{column}_search", [column], unique=False)


def upgrade() -> None:
    _create_part_search_indexes()

    op.create_table(
        "lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pcn", sa.String(length=64), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("received_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("date_code", sa.String(length=32), nullable=True),
        sa.Column("supplier", sa.String(length=200), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["part_id"], ["parts.id"], name=op.f("fk_lots_part_id_parts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lots")),
        sa.UniqueConstraint("pcn", name=op.f("uq_lots_pcn")),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lots_part_id_received_at_id"),
            ["part_id", "received_at", "id"],
            unique=False,
        )

    op.create_table(
        "stock_balances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.CheckConstraint("qty >= 0", name=op.f("ck_stock_balances_qty_non_negative")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stock_balances_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_stock_balances_lot_id_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_balances")),
        sa.UniqueConstraint(
            "lot_id", "location_id", name=op.f("uq_stock_balances_lot_id_location_id")
        ),
    )
    with op.batch_alter_table("stock_balances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_balances_location_id"), ["location_id"], unique=False
        )

    op.create_table(
        "stock_transactions",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("from_location_id", sa.Integer(), nullable=True),
        sa.Column("to_location_id", sa.Integer(), nullable=True),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.CheckConstraint("qty > 0", name=op.f("ck_stock_transactions_qty_positive")),
        sa.CheckConstraint(f"kind IN ({_KINDS})", name=op.f("ck_stock_transactions_kind_known")),
        sa.CheckConstraint(
            "from_location_id IS NOT NULL OR to_location_id IS NOT NULL",
            name=op.f("ck_stock_transactions_moves_somewhere"),
        ),
        sa.CheckConstraint(
            "from_location_id IS NULL OR to_location_id IS NULL "
            "OR from_location_id <> to_location_id",
            name=op.f("ck_stock_transactions_distinct_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["from_location_id"],
            ["locations.id"],
            name=op.f("fk_stock_transactions_from_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_stock_transactions_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_stock_transactions_part_id_parts")
        ),
        sa.ForeignKeyConstraint(
            ["to_location_id"],
            ["locations.id"],
            name=op.f("fk_stock_transactions_to_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_transactions")),
    )
    with op.batch_alter_table("stock_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_transactions_lot_id_id"), ["lot_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_transactions_part_id_id"), ["part_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_transactions_from_location_id_id"),
            ["from_location_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_stock_transactions_to_location_id_id"),
            ["to_location_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_stock_transactions_reference"), ["reference"], unique=False
        )

    op.create_table(
        "pcn_sequences",
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("last_value", _BIG_ID, nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_pcn_sequences")),
    )

    op.create_table(
        "verify_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", kosh.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("ledger_rows", _BIG_ID, nullable=False),
        sa.Column("balance_rows", sa.Integer(), nullable=False),
        sa.Column("drift_count", sa.Integer(), nullable=False),
        sa.Column("differences", kosh.core.types.JSONType, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verify_runs")),
    )
    with op.batch_alter_table("verify_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verify_runs_finished_at"), ["finished_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("verify_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verify_runs_finished_at"))
    op.drop_table("verify_runs")
    op.drop_table("pcn_sequences")
    with op.batch_alter_table("stock_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_transactions_reference"))
        batch_op.drop_index(batch_op.f("ix_stock_transactions_to_location_id_id"))
        batch_op.drop_index(batch_op.f("ix_stock_transactions_from_location_id_id"))
        batch_op.drop_index(batch_op.f("ix_stock_transactions_part_id_id"))
        batch_op.drop_index(batch_op.f("ix_stock_transactions_lot_id_id"))
    op.drop_table("stock_transactions")
    with op.batch_alter_table("stock_balances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_balances_location_id"))
    op.drop_table("stock_balances")
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lots_part_id_received_at_id"))
    op.drop_table("lots")
    with op.batch_alter_table("parts", schema=None) as batch_op:
        for column in SEARCH_COLUMNS:
            batch_op.drop_index(f"ix_parts_{column}_search")
    # pg_trgm stays: other objects may use it, and dropping needs more rights than creating.
