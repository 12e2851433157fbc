"""Reading and deleting stored rebalance runs (SPEC §3 "Stored rebalances"); computing them is
``services.rebalancing``.

A run can hold a hundred thousand positions, so runs are read as a header first and then their
portfolios a slice at a time (``portfolio_slices``): whoever answers holds one slice, never the
whole run. Each slice is its own short read; a run deleted half-way through its reading stops
the reading with ``NotFound`` rather than giving a shortened run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from order_generation.adapters.db.database import Database
from order_generation.domain.errors import NotFound
from order_generation.domain.ids import require_object_id
from order_generation.domain.investment_model import valid_portfolios
from order_generation.domain.paging import Page, check_page, fit_page, parse_sort
from order_generation.domain.rebalance import (
    DEFAULT_RUN_LIMIT,
    MAX_RUN_LIMIT,
    REBALANCE_SORT_FIELDS,
    PortfolioRebalance,
    PositionRebalance,
    RunHeader,
)

# Portfolios per slice when a run is read in slices (about 10^4 positions for 100 holdings).
SLICE_PORTFOLIOS = 100
# Without positions a portfolio is a few hundred bytes: bigger slices, fewer round trips.
SUMMARY_SLICE_PORTFOLIOS = 2000


class StoredRunService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self,
        offset: int | None,
        limit: int | None,
        sort_by: str | None,
        portfolio_ids: Sequence[str] | None = None,
    ) -> list[RunHeader]:
        """A page of runs, newest first unless ``sort_by`` says otherwise; with
        ``portfolio_ids`` only the runs that include at least one of those portfolios."""
        page = check_page(offset, limit, default_limit=DEFAULT_RUN_LIMIT, max_limit=MAX_RUN_LIMIT)
        sort = parse_sort(sort_by, REBALANCE_SORT_FIELDS)
        ids = None if portfolio_ids is None else list(valid_portfolios(portfolio_ids))
        async with self._db.unit_of_work(write=False) as uow:
            page = fit_page(page, await uow.rebalances.count(ids))
            return await uow.rebalances.headers(page, sort, ids)

    async def header(self, rebalance_id: str) -> RunHeader:
        """The run without its portfolios (read those with ``portfolio_slices``)."""
        rebalance_id = require_object_id(rebalance_id, "rebalance id")
        async with self._db.unit_of_work(write=False) as uow:
            header = await uow.rebalances.header(rebalance_id)
        if header is None:
            raise NotFound(f"rebalance {rebalance_id} not found")
        return header

    async def portfolio_slices(
        self,
        run: RunHeader,
        size: int | None = None,
        *,
        summary: bool = False,
        page: Page | None = None,
    ) -> AsyncIterator[list[PortfolioRebalance]]:
        """The run's portfolios in run order, ``size`` at a time: with their positions unless
        ``summary``; all of them, or the ``page`` (checked with ``run_page``)."""
        if size is None:
            size = SUMMARY_SLICE_PORTFOLIOS if summary else SLICE_PORTFOLIOS
        start, stop = 0, run.number_of_portfolios
        if page is not None:
            start = page.offset
            stop = start if page.limit is None else start + page.limit
        for first in range(start, stop, size):
            count = min(size, stop - first)
            async with self._db.unit_of_work(write=False) as uow:
                portfolios = await uow.rebalances.portfolios(
                    run.rebalance_id, first=first, count=count, with_positions=not summary
                )
            if len(portfolios) != count:
                raise NotFound(f"rebalance {run.rebalance_id} was deleted while it was being read")
            yield portfolios

    @staticmethod
    def run_page(run: RunHeader, offset: int | None, limit: int | None) -> Page:
        """A page of the run's portfolios: from ``offset`` (default 0), ``limit`` of them
        (default: all the rest)."""
        return fit_page(check_page(offset, limit), run.number_of_portfolios)

    async def positions(self, rebalance_id: str, portfolio_id: str) -> list[PositionRebalance]:
        """One portfolio's positions in the run."""
        rebalance_id = require_object_id(rebalance_id, "rebalance id")
        portfolio_id = require_object_id(portfolio_id, "portfolio id")
        async with self._db.unit_of_work(write=False) as uow:
            if await uow.rebalances.header(rebalance_id) is None:
                raise NotFound(f"rebalance {rebalance_id} not found")
            portfolio = await uow.rebalances.portfolio(rebalance_id, portfolio_id)
        if portfolio is None:
            raise NotFound(f"portfolio {portfolio_id} is not part of rebalance {rebalance_id}")
        return list(portfolio.positions)

    async def delete(self, rebalance_id: str, version: int) -> None:
        rebalance_id = require_object_id(rebalance_id, "rebalance id")
        async with self._db.unit_of_work() as uow:
            await uow.rebalances.delete(rebalance_id, version)
            await uow.commit()
