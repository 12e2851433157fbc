"""Investment models in the database: three tables mapped to one immutable domain value."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from order_generation.adapters.db.tables import model_portfolios, model_positions, models
from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import NotFound, RuleViolation, check_version
from order_generation.domain.investment_model import InvestmentModel, Position
from order_generation.domain.paging import Page, SortKey
from order_generation.domain.trading_options import layer_from_text, layer_text

_IDS_PER_QUERY = 10_000


class ModelRepository:
    """Reads and optimistic-concurrency writes of investment models within one transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def get(self, model_id: str, *, for_update: bool = False) -> InvestmentModel | None:
        """The model, or None. ``for_update`` locks its row until the transaction ends, so a
        read-modify-write cannot interleave with another writer (SQLite's BEGIN IMMEDIATE
        already serialises writers; PostgreSQL needs the row lock)."""
        query = select(models).where(models.c.model_id == model_id)
        found = await self._load(query.with_for_update() if for_update else query)
        return found[0] if found else None

    async def owner_of(self, portfolio_id: str) -> InvestmentModel | None:
        """The model whose portfolios include ``portfolio_id``, if any (at most one can)."""
        owner = (
            select(model_portfolios.c.model_id)
            .where(model_portfolios.c.portfolio_id == portfolio_id)
            .scalar_subquery()
        )
        found = await self._load(select(models).where(models.c.model_id == owner))
        return found[0] if found else None

    async def mark_rebalanced(self, model_id: str, when: datetime, *, version: int) -> bool:
        """Sets ``last_rebalance_date`` if the model is still at ``version`` (the one the run
        read); like every write it moves the version on. False when the model changed or was
        deleted meanwhile: it is left as it is (the run is kept)."""
        result = await self._db.execute(
            update(models)
            .where(models.c.model_id == model_id, models.c.version == version)
            .values(last_rebalance_date=when, version=models.c.version + 1)
        )
        return bool(result.rowcount == 1)

    async def count(self) -> int:
        return int((await self._db.execute(select(func.count()).select_from(models))).scalar_one())

    async def page(self, page: Page, sort: Sequence[SortKey] = ()) -> list[InvestmentModel]:
        binary = "C" if self._db.dialect.name == "postgresql" else "BINARY"
        query = select(models).order_by(*_order_by(sort, binary)).offset(page.offset)
        if page.limit is not None:
            query = query.limit(page.limit)
        return await self._load(query)

    async def owners(self, portfolio_ids: Iterable[str]) -> dict[str, str]:
        """portfolio id → id of the model that holds it, for those held by any model.

        Asked ``_IDS_PER_QUERY`` ids at a time: a model of 10^5 portfolios is more than one
        statement may bind (asyncpg takes at most 32,767 arguments; SQLite's limit depends on its
        build)."""
        ids = list(portfolio_ids)
        owners: dict[str, str] = {}
        for start in range(0, len(ids), _IDS_PER_QUERY):
            rows = await self._db.execute(
                select(model_portfolios.c.portfolio_id, model_portfolios.c.model_id).where(
                    model_portfolios.c.portfolio_id.in_(ids[start : start + _IDS_PER_QUERY])
                )
            )
            owners.update((row.portfolio_id, row.model_id) for row in rows)
        return owners

    async def add(self, model: InvestmentModel) -> None:
        await self._db.execute(
            insert(models).values(
                model_id=model.model_id,
                name=model.name,
                last_rebalance_date=model.last_rebalance_date,
                version=model.version,
                created_at=model.created_at,
                rebalance_options=_options_text(model),
            )
        )
        await self._insert_children(model)

    async def update(self, model: InvestmentModel, expected_version: int) -> InvestmentModel:
        """Stores ``model`` if the stored version is still ``expected_version``; returns it at
        the next version. A stale version raises VersionConflict and changes nothing."""
        result = await self._db.execute(
            update(models)
            .where(models.c.model_id == model.model_id, models.c.version == expected_version)
            .values(
                name=model.name,
                last_rebalance_date=model.last_rebalance_date,
                rebalance_options=_options_text(model),
                version=models.c.version + 1,
            )
        )
        if result.rowcount != 1:
            await self._raise_missing_or_stale(model.model_id, expected_version)
        for table in (model_positions, model_portfolios):
            await self._db.execute(delete(table).where(table.c.model_id == model.model_id))
        await self._insert_children(model)
        stored = await self.get(model.model_id)
        assert stored is not None
        return stored

    async def delete(self, model_id: str, expected_version: int) -> None:
        for table in (model_positions, model_portfolios):
            await self._db.execute(delete(table).where(table.c.model_id == model_id))
        result = await self._db.execute(
            delete(models).where(
                models.c.model_id == model_id, models.c.version == expected_version
            )
        )
        if result.rowcount != 1:
            await self._raise_missing_or_stale(model_id, expected_version)

    async def _insert_children(self, model: InvestmentModel) -> None:
        if model.positions:
            await self._db.execute(
                insert(model_positions),
                [
                    {
                        "model_id": model.model_id,
                        "security_id": p.security_id,
                        "ordinal": i,
                        "target": p.target,
                        "high_drift": p.high_drift,
                        "low_drift": p.low_drift,
                    }
                    for i, p in enumerate(model.positions)
                ],
            )
        if model.portfolios:
            try:
                await self._db.execute(
                    insert(model_portfolios),
                    [
                        {"model_id": model.model_id, "portfolio_id": pid, "ordinal": i}
                        for i, pid in enumerate(model.portfolios)
                    ],
                )
            except IntegrityError as error:
                # Another model took one of these portfolios since the service checked.
                raise RuleViolation(
                    "a portfolio of this request already belongs to another model",
                    code=ErrorCode.PORTFOLIO_IN_OTHER_MODEL,
                ) from error

    async def _raise_missing_or_stale(self, model_id: str, expected_version: int) -> None:
        current = (
            await self._db.execute(select(models.c.version).where(models.c.model_id == model_id))
        ).scalar_one_or_none()
        if current is None:
            raise NotFound(f"model {model_id} not found")
        check_version("model", model_id, current, expected_version)

    async def _load(self, query: Select[tuple[object, ...]]) -> list[InvestmentModel]:
        rows = (await self._db.execute(query)).all()
        if not rows:
            return []
        ids = [row.model_id for row in rows]
        positions: defaultdict[str, list[Position]] = defaultdict(list)
        for p in await self._db.execute(
            select(model_positions)
            .where(model_positions.c.model_id.in_(ids))
            .order_by(model_positions.c.model_id, model_positions.c.ordinal)
        ):
            positions[p.model_id].append(
                Position(p.security_id, p.target, p.high_drift, p.low_drift)
            )
        portfolios: defaultdict[str, list[str]] = defaultdict(list)
        for p in await self._db.execute(
            select(model_portfolios.c.model_id, model_portfolios.c.portfolio_id)
            .where(model_portfolios.c.model_id.in_(ids))
            .order_by(model_portfolios.c.model_id, model_portfolios.c.ordinal)
        ):
            portfolios[p.model_id].append(p.portfolio_id)
        return [
            InvestmentModel(
                model_id=row.model_id,
                name=row.name,
                positions=tuple(positions[row.model_id]),
                portfolios=tuple(portfolios[row.model_id]),
                last_rebalance_date=row.last_rebalance_date,
                version=row.version,
                created_at=row.created_at,
                rebalance_options=(
                    None
                    if row.rebalance_options is None
                    else layer_from_text(row.rebalance_options)
                ),
            )
            for row in rows
        ]


def _options_text(model: InvestmentModel) -> str | None:
    options = model.rebalance_options
    return None if options is None else layer_text(options)


def _options_of(text: str | None) -> dict[str, Any] | None:
    return None if text is None else layer_from_text(text)


def _order_by(sort: Sequence[SortKey], binary_collation: str) -> list[ColumnElement[Any]]:
    clauses: list[ColumnElement[Any]] = []
    for key in sort:
        column = models.c[key.field]
        if key.field == "name":
            # Case-insensitive first, then byte order: the same result on every database,
            # whatever its locale.
            for part in (func.lower(column), column.collate(binary_collation)):
                clauses.append(part.desc() if key.descending else part.asc())
        elif key.field == "last_rebalance_date":
            # Never rebalanced counts as oldest, the same on SQLite and PostgreSQL.
            clauses.append(
                column.desc().nulls_last() if key.descending else column.asc().nulls_first()
            )
        else:
            clauses.append(column.desc() if key.descending else column.asc())
    clauses.append(models.c.id)  # creation order breaks ties, so pages never overlap
    return clauses
