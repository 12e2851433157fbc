"""Runs record the model version they read; a failed portfolio has no money figures.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from order_generation.adapters.db.types import ExactDecimal

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_MONEY = ("market_value", "cash_before_rebalance", "cash_after_rebalance")


def upgrade() -> None:
    # Runs stored before this revision did not record it: NULL, not a guess.
    op.add_column("rebalances", sa.Column("model_version", sa.Integer(), nullable=True))
    # Batch mode: SQLite cannot alter a column in place (Alembic copies the table there).
    with op.batch_alter_table("rebalance_portfolios") as table:
        for column in _MONEY:
            table.alter_column(column, existing_type=ExactDecimal(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("rebalance_portfolios") as table:
        for column in _MONEY:
            table.alter_column(column, existing_type=ExactDecimal(), nullable=False)
    op.drop_column("rebalances", "model_version")
