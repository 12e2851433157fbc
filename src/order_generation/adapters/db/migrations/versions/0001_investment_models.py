"""Investment models, their positions and their portfolios.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from order_generation.adapters.db.types import ExactDecimal, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.String(24), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("last_rebalance_date", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.UniqueConstraint("model_id", name="uq_models_model_id"),
    )
    op.create_index("ix_models_name", "models", ["name"])
    op.create_index("ix_models_last_rebalance_date", "models", ["last_rebalance_date"])
    op.create_table(
        "model_positions",
        sa.Column("model_id", sa.String(24), nullable=False),
        sa.Column("security_id", sa.String(24), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("target", ExactDecimal(), nullable=False),
        sa.Column("high_drift", ExactDecimal(), nullable=False),
        sa.Column("low_drift", ExactDecimal(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.model_id"],
            name="fk_model_positions_model_id_models",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "security_id", name="pk_model_positions"),
    )
    op.create_table(
        "model_portfolios",
        sa.Column("portfolio_id", sa.String(24), nullable=False),
        sa.Column("model_id", sa.String(24), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.model_id"],
            name="fk_model_portfolios_model_id_models",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("portfolio_id", name="pk_model_portfolios"),
    )
    op.create_index("ix_model_portfolios_model_id", "model_portfolios", ["model_id"])


def downgrade() -> None:
    op.drop_table("model_portfolios")
    op.drop_table("model_positions")
    op.drop_table("models")
