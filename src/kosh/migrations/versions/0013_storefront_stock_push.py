"""storefront: stock levels pushed to the shop (a store opts in; stock events in the outbox
carry no sales order)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 09:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("storefront_stores", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stock_push", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("storefront_outbox", schema=None) as batch_op:
        batch_op.alter_column("sales_order_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM storefront_outbox WHERE sales_order_id IS NULL")
    with op.batch_alter_table("storefront_outbox", schema=None) as batch_op:
        batch_op.alter_column("sales_order_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("storefront_stores", schema=None) as batch_op:
        batch_op.drop_column("stock_push")
