"""Reading and deleting stored rebalance runs (SPEC §3 "Stored rebalances")."""

from __future__ import annotations

from collections.abc import Sequence

from order_generation.adapters.db.database import Database
from order_generation.domain.errors import NotFound
from order_generation.domain.investment_model import require_object_id, valid_portfolios
from order_generation.domain.paging import check_page, fit_page, parse_sort
from order_generation.domain.rebalance import (
    DEFAULT_RUN_LIMIT,
    MAX_RUN_LIMIT,
    REBALANCE_SORT_FIELDS,
    PortfolioRebalance,
    PositionRebalance,
    RebalanceRun,
)


async def list_rebalances(
    db: Database,
    offset: int | None,
    limit: int | None,
    sort_by: str | None,
    portfolio_ids: Sequence[str] | None = None,
) -> list[RebalanceRun]:
    """A page of runs, newest first unless ``sort_by`` says otherwise; with ``portfolio_ids``
    only the runs that include at least one of those portfolios."""
    page = check_page(offset, limit, default_limit=DEFAULT_RUN_LIMIT, max_limit=MAX_RUN_LIMIT)
    sort = parse_sort(sort_by, REBALANCE_SORT_FIELDS)
    ids = None if portfolio_ids is None else list(valid_portfolios(portfolio_ids))
    async with db.unit_of_work(write=False) as uow:
        page = fit_page(page, await uow.rebalances.count(ids))
        return await uow.rebalances.page(page, sort, ids)


async def get_rebalance(db: Database, rebalance_id: str) -> RebalanceRun:
    rebalance_id = require_object_id(rebalance_id, "rebalance id")
    async with db.unit_of_work(write=False) as uow:
        run = await uow.rebalances.get(rebalance_id)
    if run is None:
        raise NotFound(f"rebalance {rebalance_id} not found")
    return run


async def rebalance_portfolios(db: Database, rebalance_id: str) -> list[PortfolioRebalance]:
    rebalance_id = require_object_id(rebalance_id, "rebalance id")
    async with db.unit_of_work(write=False) as uow:
        if not await uow.rebalances.exists(rebalance_id):
            raise NotFound(f"rebalance {rebalance_id} not found")
        return await uow.rebalances.portfolios(rebalance_id)


async def rebalance_positions(
    db: Database, rebalance_id: str, portfolio_id: str
) -> list[PositionRebalance]:
    rebalance_id = require_object_id(rebalance_id, "rebalance id")
    portfolio_id = require_object_id(portfolio_id, "portfolio id")
    async with db.unit_of_work(write=False) as uow:
        if not await uow.rebalances.exists(rebalance_id):
            raise NotFound(f"rebalance {rebalance_id} not found")
        portfolio = await uow.rebalances.portfolio(rebalance_id, portfolio_id)
    if portfolio is None:
        raise NotFound(f"portfolio {portfolio_id} is not part of rebalance {rebalance_id}")
    return list(portfolio.positions)


async def delete_rebalance(db: Database, rebalance_id: str, version: int) -> None:
    rebalance_id = require_object_id(rebalance_id, "rebalance id")
    async with db.unit_of_work() as uow:
        await uow.rebalances.delete(rebalance_id, version)
        await uow.commit()
