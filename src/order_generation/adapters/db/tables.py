"""Table definitions (SQLAlchemy Core). The schema itself is owned by the Alembic migrations in
``migrations/versions``; these objects describe it for queries and must match it."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from order_generation.adapters.db.types import ExactDecimal, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(24)

models = Table(
    "models",
    metadata,
    # The surrogate key gives creation order, the default order of GET /models.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", ID, nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("last_rebalance_date", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_models_name", "name"),
    Index("ix_models_last_rebalance_date", "last_rebalance_date"),
)

model_positions = Table(
    "model_positions",
    metadata,
    Column(
        "model_id",
        ID,
        ForeignKey("models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("security_id", ID, primary_key=True),
    Column("ordinal", Integer, nullable=False),
    Column("target", ExactDecimal, nullable=False),
    Column("high_drift", ExactDecimal, nullable=False),
    Column("low_drift", ExactDecimal, nullable=False),
)

model_portfolios = Table(
    "model_portfolios",
    metadata,
    # Primary key on the portfolio alone: a portfolio belongs to at most one model, enforced by
    # the database even when two requests race.
    Column("portfolio_id", ID, primary_key=True),
    Column(
        "model_id",
        ID,
        ForeignKey("models.model_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("ordinal", Integer, nullable=False),
)

# --- Rebalance runs (migration 0002) --------------------------------------------------------
# Every field the API reports is stored as it was reported, derived ones included: a stored run
# is a record of what the service answered, not something to recompute with newer code.

rebalances = Table(
    "rebalances",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rebalance_id", ID, nullable=False, unique=True),
    Column("model_id", ID, nullable=False, index=True),
    Column("model_name", String(255), nullable=False),
    Column("model_version", Integer, nullable=True),  # migration 0003; NULL for older runs
    Column("rebalance_date", UtcDateTime, nullable=False),
    Column("number_of_portfolios", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_rebalances_rebalance_date", "rebalance_date"),
    Index("ix_rebalances_model_name", "model_name"),
    Index("ix_rebalances_number_of_portfolios", "number_of_portfolios"),
)

rebalance_portfolios = Table(
    "rebalance_portfolios",
    metadata,
    Column(
        "rebalance_id",
        ID,
        ForeignKey("rebalances.rebalance_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("portfolio_id", ID, primary_key=True),
    Column("ordinal", Integer, nullable=False),
    Column("portfolio_name", String(255), nullable=True),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    # NULL for a failed portfolio, whose holdings could not be read (migration 0003).
    Column("market_value", ExactDecimal, nullable=True),
    Column("cash_before_rebalance", ExactDecimal, nullable=True),
    Column("cash_after_rebalance", ExactDecimal, nullable=True),
    # "Which runs include portfolio X" (POST /rebalances/portfolios).
    Index("ix_rebalance_portfolios_portfolio_id", "portfolio_id"),
)

rebalance_positions = Table(
    "rebalance_positions",
    metadata,
    Column("rebalance_id", ID, primary_key=True),
    Column("portfolio_id", ID, primary_key=True),
    Column("security_id", ID, primary_key=True),
    Column("ordinal", Integer, nullable=False),
    Column("price", ExactDecimal, nullable=False),
    Column("original_quantity", ExactDecimal, nullable=False),
    Column("adjusted_quantity", ExactDecimal, nullable=False),
    Column("original_position_market_value", ExactDecimal, nullable=False),
    Column("adjusted_position_market_value", ExactDecimal, nullable=False),
    Column("target", ExactDecimal, nullable=False),
    Column("high_drift", ExactDecimal, nullable=False),
    Column("low_drift", ExactDecimal, nullable=False),
    Column("actual", ExactDecimal, nullable=False),
    Column("actual_drift", ExactDecimal, nullable=False),
    Column("transaction_type", String(4), nullable=True),
    Column("trade_quantity", ExactDecimal, nullable=False),
    Column("trade_date", Date, nullable=False),
    ForeignKeyConstraint(
        ["rebalance_id", "portfolio_id"],
        ["rebalance_portfolios.rebalance_id", "rebalance_portfolios.portfolio_id"],
        ondelete="CASCADE",
    ),
)

rebalance_prices = Table(
    "rebalance_prices",
    metadata,
    Column(
        "rebalance_id",
        ID,
        ForeignKey("rebalances.rebalance_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("security_id", ID, primary_key=True),
    Column("ticker", String(64), nullable=False),
    Column("price", ExactDecimal, nullable=False),
)
