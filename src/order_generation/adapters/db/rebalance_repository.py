"""Stored rebalance runs: one run, its portfolios, their positions and its price snapshot."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from order_generation.adapters.db.tables import (
    rebalance_portfolios,
    rebalance_positions,
    rebalance_prices,
    rebalances,
)
from order_generation.domain.errors import NotFound, VersionConflict
from order_generation.domain.paging import Page, SortKey
from order_generation.domain.rebalance import (
    PortfolioRebalance,
    PositionRebalance,
    RebalanceRun,
    SecurityPrice,
)

# Domain field order: rows are selected in it and turned into values positionally.
_POSITION_FIELDS = [f.name for f in fields(PositionRebalance)]
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
        await self._db.execute(
            insert(rebalances).values(
                rebalance_id=run.rebalance_id,
                model_id=run.model_id,
                model_name=run.model_name,
                model_version=run.model_version,
                rebalance_date=run.rebalance_date,
                number_of_portfolios=run.number_of_portfolios,
                version=run.version,
                created_at=run.created_at,
            )
        )
        if run.portfolios:
            await self._db.execute(
                insert(rebalance_portfolios),
                [
                    {
                        "rebalance_id": run.rebalance_id,
                        "ordinal": i,
                        **{f: getattr(p, f) for f in _PORTFOLIO_FIELDS},
                    }
                    for i, p in enumerate(run.portfolios)
                ],
            )
        await self._insert_rows(
            rebalance_positions,
            ("rebalance_id", "portfolio_id", "ordinal", *_POSITION_FIELDS),
            (
                (
                    run.rebalance_id,
                    portfolio.portfolio_id,
                    i,
                    *(getattr(p, f) for f in _POSITION_FIELDS),
                )
                for portfolio in run.portfolios
                for i, p in enumerate(portfolio.positions)
            ),
        )
        if run.prices:
            await self._db.execute(
                insert(rebalance_prices),
                [
                    {
                        "rebalance_id": run.rebalance_id,
                        "security_id": p.security_id,
                        "ticker": p.ticker,
                        "price": p.price,
                    }
                    for p in run.prices
                ],
            )

    async def _insert_rows(
        self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Bulk insert straight on the driver: COPY on PostgreSQL, executemany on SQLite.

        A big run has ~10^5 position rows; SQLAlchemy's per-row parameter handling costs twice
        the database's own work, and row-by-row inserts on PostgreSQL ten times a COPY. The
        columns' own bind processors still convert each value. Runs inside the caller's
        transaction (earlier statements have begun it)."""
        dialect = self._db.dialect
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        order = [columns.index(name) for name in compiled.positiontup or ()]
        processors = [table.c[columns[i]].type.bind_processor(dialect) for i in order]
        prepared = [
            tuple(
                value if process is None else process(value)
                for value, process in zip((row[i] for i in order), processors, strict=True)
            )
            for row in rows
        ]
        if not prepared:
            return
        if dialect.name == "postgresql":
            raw = await self._db.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                table.name, records=prepared, columns=[columns[i] for i in order]
            )
        else:
            await self._db.exec_driver_sql(compiled.string, prepared)

    async def get(self, rebalance_id: str) -> RebalanceRun | None:
        found = await self._load(
            select(rebalances).where(rebalances.c.rebalance_id == rebalance_id)
        )
        return found[0] if found else None

    async def count(self, portfolio_ids: Sequence[str] | None = None) -> int:
        query = select(func.count()).select_from(rebalances)
        if portfolio_ids is not None:
            query = query.where(_includes_any(portfolio_ids))
        return int((await self._db.execute(query)).scalar_one())

    async def page(
        self, page: Page, sort: Sequence[SortKey], portfolio_ids: Sequence[str] | None = None
    ) -> list[RebalanceRun]:
        binary = "C" if self._db.dialect.name == "postgresql" else "BINARY"
        query = select(rebalances).order_by(*_order_by(sort, binary)).offset(page.offset)
        if page.limit is not None:
            query = query.limit(page.limit)
        if portfolio_ids is not None:
            query = query.where(_includes_any(portfolio_ids))
        return await self._load(query)

    async def exists(self, rebalance_id: str) -> bool:
        query = select(rebalances.c.id).where(rebalances.c.rebalance_id == rebalance_id)
        return (await self._db.execute(query)).first() is not None

    async def portfolios(self, rebalance_id: str) -> list[PortfolioRebalance]:
        return await self._portfolios_of(rebalance_id, None)

    async def portfolio(self, rebalance_id: str, portfolio_id: str) -> PortfolioRebalance | None:
        found = await self._portfolios_of(rebalance_id, portfolio_id)
        return found[0] if found else None

    async def delete(self, rebalance_id: str, expected_version: int) -> None:
        current = (
            await self._db.execute(
                select(rebalances.c.version)
                .where(rebalances.c.rebalance_id == rebalance_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if current is None:
            raise NotFound(f"rebalance {rebalance_id} not found")
        if current != expected_version:
            raise VersionConflict(
                f"rebalance {rebalance_id} is at version {current}, not {expected_version}"
            )
        for table in (rebalance_positions, rebalance_portfolios, rebalance_prices, rebalances):
            await self._db.execute(delete(table).where(table.c.rebalance_id == rebalance_id))

    async def _load(self, query: Select[Any]) -> list[RebalanceRun]:
        runs = (await self._db.execute(query)).all()
        loaded = []
        # One run at a time: an equality on the leading key column always uses the primary key
        # index, where an IN list over runs of very different sizes can lead PostgreSQL's
        # planner to scan the whole positions table.
        for r in runs:
            prices = await self._db.execute(
                select(rebalance_prices)
                .where(rebalance_prices.c.rebalance_id == r.rebalance_id)
                .order_by(rebalance_prices.c.security_id)
            )
            loaded.append(
                RebalanceRun(
                    rebalance_id=r.rebalance_id,
                    model_id=r.model_id,
                    model_name=r.model_name,
                    model_version=r.model_version,
                    rebalance_date=r.rebalance_date,
                    portfolios=tuple(await self._portfolios_of(r.rebalance_id, None)),
                    prices=tuple(SecurityPrice(p.security_id, p.ticker, p.price) for p in prices),
                    version=r.version,
                    created_at=r.created_at,
                )
            )
        return loaded

    async def _portfolios_of(
        self, rebalance_id: str, portfolio_id: str | None
    ) -> list[PortfolioRebalance]:
        portfolio_query = select(rebalance_portfolios).where(
            rebalance_portfolios.c.rebalance_id == rebalance_id
        )
        position_query = select(
            rebalance_positions.c.portfolio_id,
            *(rebalance_positions.c[f] for f in _POSITION_FIELDS),
        ).where(rebalance_positions.c.rebalance_id == rebalance_id)
        if portfolio_id is not None:
            portfolio_query = portfolio_query.where(
                rebalance_portfolios.c.portfolio_id == portfolio_id
            )
            position_query = position_query.where(
                rebalance_positions.c.portfolio_id == portfolio_id
            )
        positions: defaultdict[str, list[PositionRebalance]] = defaultdict(list)
        for row in await self._db.execute(
            position_query.order_by(
                rebalance_positions.c.portfolio_id, rebalance_positions.c.ordinal
            )
        ):
            positions[row[0]].append(PositionRebalance(*row[1:]))
        return [
            PortfolioRebalance(
                **{f: getattr(row, f) for f in _PORTFOLIO_FIELDS},
                positions=tuple(positions[row.portfolio_id]),
            )
            for row in await self._db.execute(
                portfolio_query.order_by(rebalance_portfolios.c.ordinal)
            )
        ]


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
