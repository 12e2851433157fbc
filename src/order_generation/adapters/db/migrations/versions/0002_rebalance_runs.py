"""Rebalance runs: the run, its portfolios, their positions, and the price snapshot.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from order_generation.adapters.db.types import ExactDecimal, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rebalances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rebalance_id", sa.String(length=24), nullable=False),
        sa.Column("model_id", sa.String(length=24), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        sa.Column("rebalance_date", UtcDateTime(), nullable=False),
        sa.Column("number_of_portfolios", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rebalances")),
        sa.UniqueConstraint("rebalance_id", name=op.f("uq_rebalances_rebalance_id")),
    )
    op.create_index("ix_rebalances_model_id", "rebalances", ["model_id"])
    op.create_index("ix_rebalances_model_name", "rebalances", ["model_name"])
    op.create_index("ix_rebalances_number_of_portfolios", "rebalances", ["number_of_portfolios"])
    op.create_index("ix_rebalances_rebalance_date", "rebalances", ["rebalance_date"])

    op.create_table(
        "rebalance_portfolios",
        sa.Column("rebalance_id", sa.String(length=24), nullable=False),
        sa.Column("portfolio_id", sa.String(length=24), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("portfolio_name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("market_value", ExactDecimal(), nullable=False),
        sa.Column("cash_before_rebalance", ExactDecimal(), nullable=False),
        sa.Column("cash_after_rebalance", ExactDecimal(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rebalance_id"],
            ["rebalances.rebalance_id"],
            name=op.f("fk_rebalance_portfolios_rebalance_id_rebalances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "rebalance_id", "portfolio_id", name=op.f("pk_rebalance_portfolios")
        ),
    )
    op.create_index(
        "ix_rebalance_portfolios_portfolio_id", "rebalance_portfolios", ["portfolio_id"]
    )

    op.create_table(
        "rebalance_prices",
        sa.Column("rebalance_id", sa.String(length=24), nullable=False),
        sa.Column("security_id", sa.String(length=24), nullable=False),
        sa.Column("ticker", sa.String(length=64), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rebalance_id"],
            ["rebalances.rebalance_id"],
            name=op.f("fk_rebalance_prices_rebalance_id_rebalances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rebalance_id", "security_id", name=op.f("pk_rebalance_prices")),
    )
    op.create_table(
        "rebalance_positions",
        sa.Column("rebalance_id", sa.String(length=24), nullable=False),
        sa.Column("portfolio_id", sa.String(length=24), nullable=False),
        sa.Column("security_id", sa.String(length=24), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("original_quantity", ExactDecimal(), nullable=False),
        sa.Column("adjusted_quantity", ExactDecimal(), nullable=False),
        sa.Column("original_position_market_value", ExactDecimal(), nullable=False),
        sa.Column("adjusted_position_market_value", ExactDecimal(), nullable=False),
        sa.Column("target", ExactDecimal(), nullable=False),
        sa.Column("high_drift", ExactDecimal(), nullable=False),
        sa.Column("low_drift", ExactDecimal(), nullable=False),
        sa.Column("actual", ExactDecimal(), nullable=False),
        sa.Column("actual_drift", ExactDecimal(), nullable=False),
        sa.Column("transaction_type", sa.String(length=4), nullable=True),
        sa.Column("trade_quantity", ExactDecimal(), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rebalance_id", "portfolio_id"],
            ["rebalance_portfolios.rebalance_id", "rebalance_portfolios.portfolio_id"],
            name=op.f("fk_rebalance_positions_rebalance_id_rebalance_portfolios"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "rebalance_id", "portfolio_id", "security_id", name=op.f("pk_rebalance_positions")
        ),
    )


def downgrade() -> None:
    op.drop_table("rebalance_positions")
    op.drop_table("rebalance_prices")
    op.drop_table("rebalance_portfolios")
    op.drop_table("rebalances")
