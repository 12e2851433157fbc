"""Use cases for investment models: the rules live in the domain, the storage in the
repository; this class puts them together in transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from order_generation.adapters.db.database import Database, UnitOfWork
from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import InvalidState, NotFound, RuleViolation, check_version
from order_generation.domain.ids import require_object_id
from order_generation.domain.investment_model import (
    MODEL_SORT_FIELDS,
    InvestmentModel,
    Position,
    new_model,
)
from order_generation.domain.paging import check_page, fit_page, parse_sort

ModelChange = Callable[[InvestmentModel], InvestmentModel]


class ModelService:
    """Reads and writes of investment models (SPEC §2-§3)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        name: str,
        positions: Iterable[Position],
        portfolios: Iterable[str],
        rebalance_options: Mapping[str, Any] | None = None,
    ) -> InvestmentModel:
        model = new_model(name, positions, portfolios, _checked(rebalance_options))
        async with self._db.unit_of_work() as uow:
            await _check_portfolios_free(uow, model)
            await uow.models.add(model)
            await uow.commit()
        return model

    async def get(self, model_id: str) -> InvestmentModel:
        model_id = require_object_id(model_id, "model id")
        async with self._db.unit_of_work(write=False) as uow:
            model = await uow.models.get(model_id)
        if model is None:
            raise NotFound(f"model {model_id} not found")
        return model

    async def page(
        self, offset: int | None, limit: int | None, sort_by: str | None
    ) -> list[InvestmentModel]:
        page = check_page(offset, limit)
        sort = parse_sort(sort_by, MODEL_SORT_FIELDS)
        async with self._db.unit_of_work(write=False) as uow:
            page = fit_page(page, await uow.models.count())
            return await uow.models.page(page, sort)

    async def replace(
        self,
        model_id: str,
        *,
        name: str,
        positions: Iterable[Position],
        portfolios: Iterable[str],
        last_rebalance_date: datetime | None,
        keep_last_rebalance_date: bool,
        version: int,
        rebalance_options: Mapping[str, Any] | None = None,
        keep_rebalance_options: bool = True,
    ) -> InvestmentModel:
        """PUT: the whole model at once. ``keep_last_rebalance_date`` (the field was left out)
        keeps the stored date; otherwise ``last_rebalance_date`` replaces it (None clears).
        ``keep_rebalance_options`` likewise keeps the stored default options."""
        checked = _checked(rebalance_options)

        def revise(model: InvestmentModel) -> InvestmentModel:
            when = model.last_rebalance_date if keep_last_rebalance_date else last_rebalance_date
            options = model.rebalance_options if keep_rebalance_options else checked
            return model.revised(
                name=name,
                positions=positions,
                portfolios=portfolios,
                last_rebalance_date=when,
                rebalance_options=options,
            )

        return await self._change(model_id, revise, version)

    async def delete(self, model_id: str, version: int) -> None:
        """Deletes the model at ``version``; refused while portfolios are attached."""
        model_id = require_object_id(model_id, "model id")
        async with self._db.unit_of_work() as uow:
            model = await uow.models.get(model_id, for_update=True)
            if model is None:
                raise NotFound(f"model {model_id} not found")
            check_version("model", model_id, model.version, version)
            if model.portfolios:
                raise InvalidState(
                    f"model {model_id} still has {len(model.portfolios)} portfolio(s); "
                    "remove them before deleting the model",
                    code=ErrorCode.MODEL_HAS_PORTFOLIOS,
                )
            await uow.models.delete(model_id, version)
            await uow.commit()

    async def add_position(
        self, model_id: str, position: Position, version: int | None
    ) -> InvestmentModel:
        return await self._change(model_id, lambda m: m.with_position_added(position), version)

    async def update_position(
        self, model_id: str, position: Position, version: int | None
    ) -> InvestmentModel:
        return await self._change(model_id, lambda m: m.with_position_updated(position), version)

    async def remove_position(
        self, model_id: str, position: Position, version: int | None
    ) -> InvestmentModel:
        """Removes the position only if the stored one has exactly these values."""
        return await self._change(model_id, lambda m: m.with_position_removed(position), version)

    async def add_portfolios(
        self, model_id: str, portfolio_ids: Iterable[str], version: int | None
    ) -> InvestmentModel:
        ids = list(portfolio_ids)
        return await self._change(model_id, lambda m: m.with_portfolios_added(ids), version)

    async def remove_portfolios(
        self, model_id: str, portfolio_ids: Iterable[str], version: int | None
    ) -> InvestmentModel:
        ids = list(portfolio_ids)
        return await self._change(model_id, lambda m: m.with_portfolios_removed(ids), version)

    async def _change(
        self, model_id: str, change: ModelChange, expected_version: int | None
    ) -> InvestmentModel:
        """Applies ``change`` to the stored model and saves it at the next version.

        With ``expected_version`` a stale version fails with VersionConflict and changes
        nothing. Without one (adding a position, attaching portfolios), the change applies to
        the newest model: the row is locked while it is read and written, so concurrent changes
        queue and none is lost.
        """
        model_id = require_object_id(model_id, "model id")
        async with self._db.unit_of_work() as uow:
            current = await uow.models.get(model_id, for_update=True)
            if current is None:
                raise NotFound(f"model {model_id} not found")
            version = current.version if expected_version is None else expected_version
            check_version("model", model_id, current.version, version)
            changed = change(current)
            await _check_portfolios_free(uow, changed)
            saved = await uow.models.update(changed, expected_version=version)
            await uow.commit()
            return saved


async def _check_portfolios_free(uow: UnitOfWork, model: InvestmentModel) -> None:
    owners = await uow.models.owners(model.portfolios)
    taken = {pid: owner for pid, owner in owners.items() if owner != model.model_id}
    if taken:
        listed = ", ".join(f"{pid} (model {owner})" for pid, owner in sorted(taken.items()))
        raise RuleViolation(
            f"a portfolio belongs to at most one model; already taken: {listed}",
            code=ErrorCode.PORTFOLIO_IN_OTHER_MODEL,
        )


def _checked(options: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Default options without ``dry_run`` (a request's choice: as a default it would silently
    stop every rebalance of the model; the API's schema has no such field there). Whether the
    securities they name are known is checked when a rebalance uses them: that changes."""
    if options and "dry_run" in options:
        raise RuleViolation(
            "rebalance_options.dry_run: a dry run is asked per request, not stored as a default",
            code=ErrorCode.INVALID_OPTION,
            errors=[{"field": "rebalance_options.dry_run", "message": "not a model default",
                     "type": "invalid_option"}],
        )  # fmt: skip
    return options
