"""Stored positions lose their foreign key to their portfolio: checking it per row doubled the
cost of storing a big run on PostgreSQL (rows are written with their portfolio and deleted
before it, in one transaction, by the repository).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NAME = "fk_rebalance_positions_rebalance_id_rebalance_portfolios"


def upgrade() -> None:
    # Batch mode: SQLite cannot drop a constraint in place (Alembic copies the table there).
    with op.batch_alter_table("rebalance_positions") as table:
        table.drop_constraint(_NAME, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("rebalance_positions") as table:
        table.create_foreign_key(
            _NAME,
            "rebalance_portfolios",
            ["rebalance_id", "portfolio_id"],
            ["rebalance_id", "portfolio_id"],
            ondelete="CASCADE",
        )
