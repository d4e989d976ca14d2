"""stock: lots carry the lot code and country of origin from the supplier's label; the
ledger gains the movement kind receipt_reversal (a reversed purchase receipt);
purchasing: reorder rules gain an order multiple and a lead time

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_OLD_KINDS = (
    "'receive', 'pick', 'restock', 'transfer', 'adjust', 'consume', 'scrap', 'ship', 'produce'"
)
_NEW_KINDS = f"{_OLD_KINDS}, 'receipt_reversal'"
_CHECK = "ck_stock_transactions_kind_known"


def _kinds(kinds: str) -> None:
    # batch mode: SQLite recreates the table with the new CHECK; PostgreSQL alters in place.
    with op.batch_alter_table("stock_transactions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(_CHECK), f"kind IN ({kinds})")


def upgrade() -> None:
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lot_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("country_of_origin", sa.String(length=8), nullable=True))
    _kinds(_NEW_KINDS)
    with op.batch_alter_table("reorder_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_multiple", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lead_time_days", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_reorder_rules_order_multiple_positive"),
            "order_multiple IS NULL OR order_multiple >= 1",
        )
        batch_op.create_check_constraint(
            op.f("ck_reorder_rules_lead_time_ok"), "lead_time_days IS NULL OR lead_time_days >= 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("reorder_rules", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_reorder_rules_lead_time_ok"), type_="check")
        batch_op.drop_constraint(op.f("ck_reorder_rules_order_multiple_positive"), type_="check")
        batch_op.drop_column("lead_time_days")
        batch_op.drop_column("order_multiple")
    # The old schema has no such kind: a reversal reads as the count correction it was before.
    op.execute("UPDATE stock_transactions SET kind = 'adjust' WHERE kind = 'receipt_reversal'")
    _kinds(_OLD_KINDS)
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_column("country_of_origin")
        batch_op.drop_column("lot_code")
