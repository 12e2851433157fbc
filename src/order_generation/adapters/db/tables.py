"""Table definitions (SQLAlchemy Core). The schema itself is owned by the Alembic migrations in
``migrations/versions``; these objects describe it for queries and must match it."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, String, Table

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
