"""Use cases for investment models: the rules live in the domain, the storage in the
repository; this module puts them together in transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from enum import Enum
from typing import Literal

from order_generation.adapters.db.database import Database, UnitOfWork
from order_generation.domain.errors import InvalidState, NotFound, RuleViolation, VersionConflict
from order_generation.domain.investment_model import (
    MODEL_SORT_FIELDS,
    InvestmentModel,
    Position,
    new_model,
    require_object_id,
)
from order_generation.domain.paging import check_page, fit_page, parse_sort

ModelChange = Callable[[InvestmentModel], InvestmentModel]


class Keep(Enum):
    """Marker for "leave the stored value as it is"."""

    KEEP = "keep"


KEEP = Keep.KEEP


async def create_model(
    db: Database, name: str, positions: Iterable[Position], portfolios: Iterable[str]
) -> InvestmentModel:
    model = new_model(name, positions, portfolios)
    async with db.unit_of_work() as uow:
        await _check_portfolios_free(uow, model)
        await uow.models.add(model)
        await uow.commit()
    return model


async def get_model(db: Database, model_id: str) -> InvestmentModel:
    model_id = require_object_id(model_id, "model id")
    async with db.unit_of_work(write=False) as uow:
        model = await uow.models.get(model_id)
    if model is None:
        raise NotFound(f"model {model_id} not found")
    return model


async def list_models(
    db: Database, offset: int | None, limit: int | None, sort_by: str | None
) -> list[InvestmentModel]:
    page = check_page(offset, limit)
    sort = parse_sort(sort_by, MODEL_SORT_FIELDS)
    async with db.unit_of_work(write=False) as uow:
        page = fit_page(page, await uow.models.count())
        return await uow.models.page(page, sort)


async def replace_model(
    db: Database,
    model_id: str,
    *,
    name: str,
    positions: Iterable[Position],
    portfolios: Iterable[str],
    last_rebalance_date: datetime | Literal[Keep.KEEP] | None,
    version: int,
) -> InvestmentModel:
    """PUT: the whole model at once. ``last_rebalance_date=KEEP`` leaves the stored date."""

    def revise(model: InvestmentModel) -> InvestmentModel:
        when = model.last_rebalance_date if last_rebalance_date is KEEP else last_rebalance_date
        return model.revised(
            name=name, positions=positions, portfolios=portfolios, last_rebalance_date=when
        )

    return await change_model(db, model_id, revise, expected_version=version)


async def delete_model(db: Database, model_id: str, version: int) -> None:
    model_id = require_object_id(model_id, "model id")
    async with db.unit_of_work() as uow:
        model = await uow.models.get(model_id, for_update=True)
        if model is None:
            raise NotFound(f"model {model_id} not found")
        if model.version != version:
            raise _conflict(model, version)
        if model.portfolios:
            raise InvalidState(
                f"model {model_id} still has {len(model.portfolios)} portfolio(s); "
                "remove them before deleting the model",
                code="MODEL_HAS_PORTFOLIOS",
            )
        await uow.models.delete(model_id, version)
        await uow.commit()


async def change_model(
    db: Database, model_id: str, change: ModelChange, *, expected_version: int | None
) -> InvestmentModel:
    """Applies ``change`` to the stored model and saves it at the next version.

    With ``expected_version`` a stale version fails with VersionConflict and changes nothing.
    Without one (adding a position, attaching portfolios), the change applies to the newest
    model: the row is locked while it is read and written, so concurrent changes queue and
    none is lost.
    """
    model_id = require_object_id(model_id, "model id")
    async with db.unit_of_work() as uow:
        current = await uow.models.get(model_id, for_update=True)
        if current is None:
            raise NotFound(f"model {model_id} not found")
        version = current.version if expected_version is None else expected_version
        if current.version != version:
            raise _conflict(current, version)
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
            code="PORTFOLIO_IN_OTHER_MODEL",
        )


def _conflict(current: InvestmentModel, version: int) -> VersionConflict:
    return VersionConflict(
        f"model {current.model_id} is at version {current.version}, not {version}; "
        "read it again and retry"
    )
