"""stock: the ledger is indexed by time, so the dashboard's movements per day reads only
the last 30 days of a large ledger

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_stock_transactions_at"), "stock_transactions", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_stock_transactions_at"), table_name="stock_transactions")
