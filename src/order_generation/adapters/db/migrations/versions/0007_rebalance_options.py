"""Trading options (SPEC §8): a model's default options, and each stored portfolio's options
as applied and the band widening ``relax`` needed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from order_generation.adapters.db.types import ExactDecimal

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # JSON text; NULL: no defaults (a model), or rebalanced without options (a portfolio, as
    # every portfolio stored before this migration was).
    op.add_column("models", sa.Column("rebalance_options", sa.Text(), nullable=True))
    op.add_column("rebalance_portfolios", sa.Column("options", sa.Text(), nullable=True))
    op.add_column("rebalance_portfolios", sa.Column("relaxed_by", ExactDecimal(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rebalance_portfolios") as table:
        table.drop_column("relaxed_by")
        table.drop_column("options")
    with op.batch_alter_table("models") as table:
        table.drop_column("rebalance_options")
