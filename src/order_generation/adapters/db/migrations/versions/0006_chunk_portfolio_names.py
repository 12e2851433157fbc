"""A job's chunks carry their portfolios' names, fetched once when the job starts (the
Portfolio Service lists every portfolio in one answer; fetching it per chunk costs a big job
O(portfolios²)).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for chunks of jobs started before: their workers look the names up, as before.
    op.add_column("rebalance_job_chunks", sa.Column("portfolio_names", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rebalance_job_chunks") as table:
        table.drop_column("portfolio_names")
