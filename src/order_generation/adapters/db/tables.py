"""Table definitions (SQLAlchemy Core). The schema itself is owned by the Alembic migrations in
``migrations/versions``; these objects describe it for queries and must match it."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
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
    # Default trading options (SPEC §8) as JSON, NULL for none (migration 0007).
    Column("rebalance_options", Text, nullable=True),
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
    # False while a job's chunks are still being stored (migration 0004): such a run is not
    # visible to any read, and is deleted whole if its job fails or is cancelled.
    Column("complete", Boolean, nullable=False, server_default="1"),
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
    # Trading options as applied (JSON) and relax's widening; NULL without options (0007).
    Column("options", Text, nullable=True),
    Column("relaxed_by", ExactDecimal, nullable=True),
    # "Which runs include portfolio X" (POST /rebalances/portfolios).
    Index("ix_rebalance_portfolios_portfolio_id", "portfolio_id"),
)

# No foreign key to rebalance_portfolios (dropped by migration 0005): a run stores ~10^2 rows
# here per portfolio, and the per-row check doubled PostgreSQL's cost of storing them (measured:
# a COPY of 168,000 rows 1.3-1.5 s with it, 0.75 s without). Rows are written only with their
# portfolio, in the same transaction, and deleted explicitly before it (RebalanceRepository).
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

# --- Rebalance jobs (migration 0004) --------------------------------------------------------

rebalance_jobs = Table(
    "rebalance_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # creation order
    Column("job_id", ID, nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("model_id", ID, nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("rebalanced", Integer, nullable=False),
    Column("infeasible", Integer, nullable=False),
    Column("in_band", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    # Reserved at the start; the run row exists (complete = false) from then on.
    Column("rebalance_id", ID, nullable=False),
    Column("error", Text, nullable=True),
    # What every chunk computes against, fixed when the job starts (JSON): the model's
    # positions and version, and the price snapshot of the whole run.
    Column("inputs", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
)

rebalance_job_chunks = Table(
    "rebalance_job_chunks",
    metadata,
    Column(
        "job_id",
        ID,
        ForeignKey("rebalance_jobs.job_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("chunk", Integer, primary_key=True),
    Column("first", Integer, nullable=False),
    Column("portfolio_ids", Text, nullable=False),  # JSON list, in model order
    # JSON list of names (or nulls) beside the ids, as fetched when the job started; NULL when
    # they could not be fetched then (migration 0006).
    Column("portfolio_names", Text, nullable=True),
    # Set in the transaction that stores the chunk's portfolios: a chunk taken twice (a worker
    # killed after storing, before acknowledging) is stored once.
    Column("stored", Boolean, nullable=False, server_default="0"),
)
