"""Rebalance jobs and their chunks; runs that are not yet complete; procrastinate's queue
tables on PostgreSQL (the job queue, docs/adr/0010).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.util import await_only

from order_generation.adapters.db.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.String(24)


def upgrade() -> None:
    with op.batch_alter_table("rebalances") as table:
        table.add_column(
            sa.Column("complete", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "rebalance_jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("model_id", _ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("rebalanced", sa.Integer(), nullable=False),
        sa.Column("infeasible", sa.Integer(), nullable=False),
        sa.Column("in_band", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("rebalance_id", _ID, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rebalance_jobs"),
        sa.UniqueConstraint("job_id", name="uq_rebalance_jobs_job_id"),
    )
    op.create_index("ix_rebalance_jobs_model_id", "rebalance_jobs", ["model_id"])
    op.create_index("ix_rebalance_jobs_status", "rebalance_jobs", ["status"])
    op.create_table(
        "rebalance_job_chunks",
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("first", sa.Integer(), nullable=False),
        sa.Column("portfolio_ids", sa.Text(), nullable=False),
        sa.Column("stored", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("job_id", "chunk", name="pk_rebalance_job_chunks"),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["rebalance_jobs.job_id"],
            name="fk_rebalance_job_chunks_job_id_rebalance_jobs",
            ondelete="CASCADE",
        ),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        # procrastinate's schema is many statements (functions with bodies); asyncpg runs a
        # multi-statement script only through its own execute, on this migration's connection.
        driver = bind.connection.driver_connection
        assert driver is not None
        await_only(driver.execute(SchemaManager.get_schema()))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            """
            DO $$
            DECLARE item record;
            BEGIN
                FOR item IN SELECT oid::regprocedure AS signature FROM pg_proc
                            WHERE proname LIKE 'procrastinate%' LOOP
                    EXECUTE 'DROP FUNCTION IF EXISTS ' || item.signature || ' CASCADE';
                END LOOP;
                FOR item IN SELECT tablename FROM pg_tables
                            WHERE tablename LIKE 'procrastinate%'
                              AND schemaname = current_schema() LOOP
                    EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(item.tablename) || ' CASCADE';
                END LOOP;
                FOR item IN SELECT typname FROM pg_type
                            WHERE typname LIKE 'procrastinate%' AND typtype = 'e' LOOP
                    EXECUTE 'DROP TYPE IF EXISTS ' || quote_ident(item.typname) || ' CASCADE';
                END LOOP;
            END $$;
            """
        )
    op.drop_table("rebalance_job_chunks")
    op.drop_index("ix_rebalance_jobs_status", table_name="rebalance_jobs")
    op.drop_index("ix_rebalance_jobs_model_id", table_name="rebalance_jobs")
    op.drop_table("rebalance_jobs")
    with op.batch_alter_table("rebalances") as table:
        table.drop_column("complete")
