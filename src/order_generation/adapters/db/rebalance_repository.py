"""Stored rebalance runs: one run, its portfolios, their positions and its price snapshot."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from order_generation.adapters.db.bulk import copy_into, driver_rows
from order_generation.adapters.db.tables import (
    rebalance_portfolios,
    rebalance_positions,
    rebalance_prices,
    rebalances,
)
from order_generation.domain.errors import NotFound, check_version
from order_generation.domain.paging import Page, SortKey
from order_generation.domain.rebalance import (
    PortfolioRebalance,
    PositionRebalance,
    RebalanceRun,
    RunHeader,
    SecurityPrice,
)
from order_generation.domain.trading_options import options_from_text, options_text

# Domain field order: rows are selected in it and turned into values positionally.
_POSITION_FIELDS = PositionRebalance._fields
_HEADER_FIELDS = [f.name for f in fields(RunHeader)]
_DELETE_PORTFOLIOS = 500
_PORTFOLIO_FIELDS = [
    "portfolio_id",
    "portfolio_name",
    "status",
    "reason",
    "market_value",
    "cash_before_rebalance",
    "cash_after_rebalance",
]


class RebalanceRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, run: RebalanceRun) -> None:
        """Writes the whole run; the caller's unit of work makes it all-or-nothing."""
        await self.add_header(run.header, complete=True)
        await self.add_portfolios(run.rebalance_id, run.portfolios, first=0)
        await self.add_prices(run.rebalance_id, run.prices)

    async def add_header(self, header: RunHeader, *, complete: bool) -> None:
        """The run's row. An incomplete run (a job's, while its chunks are stored) is invisible
        to every read until ``publish``."""
        await self._db.execute(
            insert(rebalances).values(
                **{f: getattr(header, f) for f in _HEADER_FIELDS}, complete=complete
            )
        )

    async def add_portfolios(
        self, rebalance_id: str, portfolios: Sequence[PortfolioRebalance], *, first: int
    ) -> None:
        """Portfolios ``first``, ``first + 1``, ... of the run (run order), with positions."""
        if not portfolios:
            return
        await self._db.execute(
            insert(rebalance_portfolios),
            [
                {
                    "rebalance_id": rebalance_id,
                    "ordinal": first + i,
                    **{f: getattr(p, f) for f in _PORTFOLIO_FIELDS},
                    "options": None if p.options is None else options_text(p.options),
                    "relaxed_by": p.relaxed_by,
                }
                for i, p in enumerate(portfolios)
            ],
        )
        await self._insert_rows(
            rebalance_positions,
            ("rebalance_id", "portfolio_id", "ordinal", *_POSITION_FIELDS),
            (
                (rebalance_id, portfolio.portfolio_id, i, *p)
                for portfolio in portfolios
                for i, p in enumerate(portfolio.positions)
            ),
        )

    async def add_prices(self, rebalance_id: str, prices: Sequence[SecurityPrice]) -> None:
        if prices:
            await self._db.execute(
                insert(rebalance_prices),
                [
                    {
                        "rebalance_id": rebalance_id,
                        "security_id": p.security_id,
                        "ticker": p.ticker,
                        "price": p.price,
                    }
                    for p in prices
                ],
            )

    async def priced_securities(self, rebalance_id: str) -> set[str]:
        """The securities the run's price snapshot holds so far (a job adds each chunk's)."""
        rows = await self._db.execute(
            select(rebalance_prices.c.security_id).where(
                rebalance_prices.c.rebalance_id == rebalance_id
            )
        )
        return set(rows.scalars())

    async def publish(self, rebalance_id: str, rebalance_date: datetime) -> None:
        """Makes an incomplete run visible, dated when it completed."""
        await self._db.execute(
            update(rebalances)
            .where(rebalances.c.rebalance_id == rebalance_id)
            .values(complete=True, rebalance_date=rebalance_date)
        )

    async def discard(self, rebalance_id: str) -> None:
        """Deletes an incomplete run and whatever of it was stored (never a complete one)."""
        incomplete = select(rebalances.c.rebalance_id).where(
            rebalances.c.rebalance_id == rebalance_id, rebalances.c.complete.is_(False)
        )
        if (await self._db.execute(incomplete)).first() is not None:
            await self._delete_rows(rebalance_id)

    async def _insert_rows(
        self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Bulk insert straight on the driver: COPY on PostgreSQL, executemany on SQLite.

        A big run has ~10^5 position rows; SQLAlchemy's per-row parameter handling costs twice
        the database's own work, and row-by-row inserts on PostgreSQL ten times a COPY. Runs
        inside the caller's transaction (earlier statements have begun it)."""
        if self._db.dialect.name == "postgresql":
            await copy_into(self._db, table, columns, rows)
            return
        prepared = driver_rows(table, columns, rows, self._db.dialect)
        if prepared.rows:
            await self._db.exec_driver_sql(prepared.statement, prepared.rows)

    async def header(self, rebalance_id: str) -> RunHeader | None:
        """The run without its portfolios, or None."""
        rows = await self._db.execute(
            select(*_header_columns()).where(
                rebalances.c.rebalance_id == rebalance_id, rebalances.c.complete.is_(True)
            )
        )
        row = rows.first()
        return None if row is None else RunHeader(*row)

    async def count(self, portfolio_ids: Sequence[str] | None = None) -> int:
        query = select(func.count()).select_from(rebalances).where(rebalances.c.complete.is_(True))
        if portfolio_ids is not None:
            query = query.where(_includes_any(portfolio_ids))
        return int((await self._db.execute(query)).scalar_one())

    async def headers(
        self, page: Page, sort: Sequence[SortKey], portfolio_ids: Sequence[str] | None = None
    ) -> list[RunHeader]:
        """A page of runs, without their portfolios (read those with ``portfolios``)."""
        binary = "C" if self._db.dialect.name == "postgresql" else "BINARY"
        query = (
            select(*_header_columns())
            .where(rebalances.c.complete.is_(True))
            .order_by(*_order_by(sort, binary))
            .offset(page.offset)
        )
        if page.limit is not None:
            query = query.limit(page.limit)
        if portfolio_ids is not None:
            query = query.where(_includes_any(portfolio_ids))
        return [RunHeader(*row) for row in await self._db.execute(query)]

    async def portfolios(
        self,
        rebalance_id: str,
        *,
        first: int = 0,
        count: int | None = None,
        with_positions: bool = True,
    ) -> list[PortfolioRebalance]:
        """The run's portfolios in run order, with their positions unless told not to: all of
        them, or ``count`` from the ``first`` (0-based), so a big run is read a slice at a time."""
        portfolio_query = select(*_portfolio_columns()).where(
            rebalance_portfolios.c.rebalance_id == rebalance_id,
            rebalance_portfolios.c.ordinal >= first,
        )
        if count is not None:
            portfolio_query = portfolio_query.where(rebalance_portfolios.c.ordinal < first + count)
        rows = (
            await self._db.execute(portfolio_query.order_by(rebalance_portfolios.c.ordinal))
        ).all()
        if not rows:
            return []
        positions: defaultdict[str, list[PositionRebalance]] = defaultdict(list)
        if with_positions:
            ids = [row.portfolio_id for row in rows]
            positions = await self._positions(rebalance_id, ids if count is not None else None)
        # Positionally (rows hold _PORTFOLIO_FIELDS in order): a summary read of a big run
        # makes 10^3-10^5 of these.
        return [
            PortfolioRebalance(
                row[0], row[1], row[2], row[3], row[4], row[5], row[6], tuple(positions[row[0]]),
                row[8], None if row[7] is None else options_from_text(row[7]),
            )
            for row in rows
        ]  # fmt: skip

    async def portfolio(self, rebalance_id: str, portfolio_id: str) -> PortfolioRebalance | None:
        row = (
            await self._db.execute(
                select(rebalance_portfolios).where(
                    rebalance_portfolios.c.rebalance_id == rebalance_id,
                    rebalance_portfolios.c.portfolio_id == portfolio_id,
                )
            )
        ).first()
        if row is None:
            return None
        positions = await self._positions(rebalance_id, [portfolio_id])
        return PortfolioRebalance(
            **{f: getattr(row, f) for f in _PORTFOLIO_FIELDS},
            positions=tuple(positions[portfolio_id]),
            relaxed_by=row.relaxed_by,
            options=None if row.options is None else options_from_text(row.options),
        )

    async def delete(self, rebalance_id: str, expected_version: int) -> None:
        current = (
            await self._db.execute(
                select(rebalances.c.version)
                .where(rebalances.c.rebalance_id == rebalance_id, rebalances.c.complete.is_(True))
                .with_for_update()
            )
        ).scalar_one_or_none()
        if current is None:
            raise NotFound(f"rebalance {rebalance_id} not found")
        check_version("rebalance", rebalance_id, current, expected_version)
        await self._delete_rows(rebalance_id)

    async def _delete_rows(self, rebalance_id: str) -> None:
        """Deletes the run: its positions ``_DELETE_PORTFOLIOS`` portfolios at a time (a run of
        10^5 portfolios has 10^7 position rows, more than one statement may take within the
        database timeout), then the rest."""
        ids = select(rebalance_portfolios.c.portfolio_id).where(
            rebalance_portfolios.c.rebalance_id == rebalance_id
        )
        portfolio_ids = list((await self._db.execute(ids)).scalars())
        for start in range(0, len(portfolio_ids), _DELETE_PORTFOLIOS):
            await self._db.execute(
                delete(rebalance_positions).where(
                    rebalance_positions.c.rebalance_id == rebalance_id,
                    rebalance_positions.c.portfolio_id.in_(
                        portfolio_ids[start : start + _DELETE_PORTFOLIOS]
                    ),
                )
            )
        for table in (rebalance_portfolios, rebalance_prices, rebalances):
            await self._db.execute(delete(table).where(table.c.rebalance_id == rebalance_id))

    async def _positions(
        self, rebalance_id: str, portfolio_ids: Sequence[str] | None
    ) -> defaultdict[str, list[PositionRebalance]]:
        """Positions by portfolio, in stored order: of ``portfolio_ids``, or of the whole run.
        Always by the primary key's leading columns, so PostgreSQL reads only these rows."""
        query = select(
            rebalance_positions.c.portfolio_id,
            *(rebalance_positions.c[f] for f in _POSITION_FIELDS),
        ).where(rebalance_positions.c.rebalance_id == rebalance_id)
        if portfolio_ids is not None:
            query = query.where(rebalance_positions.c.portfolio_id.in_(portfolio_ids))
        positions: defaultdict[str, list[PositionRebalance]] = defaultdict(list)
        for row in await self._db.execute(
            query.order_by(rebalance_positions.c.portfolio_id, rebalance_positions.c.ordinal)
        ):
            positions[row[0]].append(PositionRebalance(*row[1:]))
        return positions


def _portfolio_columns() -> list[ColumnElement[Any]]:
    """``_PORTFOLIO_FIELDS``, then options and relaxed_by: a portfolio row's columns in the
    order ``portfolios`` reads them."""
    names = [*_PORTFOLIO_FIELDS, "options", "relaxed_by"]
    return [rebalance_portfolios.c[name] for name in names]


def _header_columns() -> list[ColumnElement[Any]]:
    return [rebalances.c[f] for f in _HEADER_FIELDS]


def _includes_any(portfolio_ids: Sequence[str]) -> ColumnElement[bool]:
    holding = select(rebalance_portfolios.c.rebalance_id).where(
        rebalance_portfolios.c.portfolio_id.in_(portfolio_ids)
    )
    return rebalances.c.rebalance_id.in_(holding)


def _order_by(sort: Sequence[SortKey], binary_collation: str) -> list[ColumnElement[Any]]:
    # Newest first unless asked otherwise: what the portal shows by default.
    keys = sort or (SortKey("rebalance_date", descending=True),)
    clauses: list[ColumnElement[Any]] = []
    for key in keys:
        column = rebalances.c[key.field]
        parts = (
            [func.lower(column), column.collate(binary_collation)]
            if key.field == "model_name"
            else [column]
        )
        clauses += [part.desc() if key.descending else part.asc() for part in parts]
    clauses.append(rebalances.c.id.desc() if not sort else rebalances.c.id.asc())
    return clauses
