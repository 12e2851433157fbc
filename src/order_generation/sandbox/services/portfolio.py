"""Portfolio Service (Python/FastAPI + Mongo): a portfolio by id, all of them, and a v2 search.

Quirks kept: ``dateCreated`` is a naive ISO datetime (no time zone); a malformed id is a 404 like
an unknown one.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from order_generation.sandbox.model import SandboxPortfolio
from order_generation.sandbox.services import StateDep
from order_generation.sandbox.services._paging import v2_pagination
from order_generation.sandbox.state import SandboxState
from order_generation.sandbox.wire import fastapi_error, json_response

router = APIRouter(tags=["portfolio"])

_NAME = re.compile(r"[a-zA-Z0-9\s\-_]{1,200}")


@router.get("/api/v1/portfolio/{portfolioId}")
async def portfolio(
    state: StateDep, portfolio_id: Annotated[str, Path(alias="portfolioId")]
) -> Response:
    found = state.portfolios.get(portfolio_id)
    if found is None:
        return fastapi_error(404, "Portfolio not found")
    return json_response(_dto(state, found))


@router.get("/api/v1/portfolios")
async def portfolios(state: StateDep) -> Response:
    return json_response([_dto(state, p) for p in state.data.portfolios])


@router.get("/api/v2/portfolios")
async def search_portfolios(
    state: StateDep,
    name: str | None = None,
    name_like: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    if name is not None and name_like is not None:
        return fastapi_error(400, "Only one of 'name' or 'name_like' parameters can be provided")
    for value in (name, name_like):
        if value is not None and not _NAME.fullmatch(value):
            return fastapi_error(
                400,
                "Name must be 1-200 characters and contain only alphanumeric characters, "
                "spaces, hyphens, and underscores",
            )
    found: list[SandboxPortfolio] | tuple[SandboxPortfolio, ...] = state.data.portfolios
    if name is not None:
        found = [p for p in found if p.name.lower() == name.lower()]
    elif name_like is not None:
        found = [p for p in found if name_like.lower() in p.name.lower()]
    page = found[offset : offset + limit]
    return json_response(
        {
            "portfolios": [_dto(state, p) for p in page],
            "pagination": v2_pagination(len(found), limit, offset),
        }
    )


def _dto(state: SandboxState, p: SandboxPortfolio) -> dict[str, object]:
    created = dt.datetime.fromtimestamp(state.loaded_ns // 1_000_000 / 1000, dt.UTC)
    return {
        "portfolioId": p.portfolio_id,
        "name": p.name,
        "dateCreated": created.replace(tzinfo=None).isoformat(timespec="microseconds"),
        "version": 1,
    }
