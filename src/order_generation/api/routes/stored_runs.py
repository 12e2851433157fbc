"""Stored rebalance runs (SPEC §3 "Stored rebalances"): read (streamed) and deleted."""

from __future__ import annotations

import functools
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from order_generation.api.deps import StoredRunsDep
from order_generation.api.exact_json import ExactJsonRoute
from order_generation.api.rebalance_schemas import (
    PortfolioIds,
    PortfolioOut,
    RebalanceOut,
    RunPositionOut,
    json_response,
    portfolios_stream,
    position_json,
    run_stream,
    runs_stream,
    streamed,
)
from order_generation.api.routes import API_PREFIX
from order_generation.api.schemas import (
    ErrorOut,
    ObjectIdPath,
    QueryNumber,
    RunLimit,
    VersionQuery,
    sort_pattern,
)
from order_generation.domain.rebalance import (
    DEFAULT_RUN_LIMIT,
    MAX_RUN_LIMIT,
    REBALANCE_SORT_FIELDS,
)

router = APIRouter(
    prefix=API_PREFIX,
    route_class=ExactJsonRoute,
    tags=["rebalances"],
    responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)

Offset = Annotated[QueryNumber | None, Query(description="Default 0.")]
Limit = Annotated[
    RunLimit | None, Query(description=f"Default {DEFAULT_RUN_LIMIT}, at most {MAX_RUN_LIMIT}.")
]
SortBy = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Comma-separated rebalance_date, rebalance_id, model_name, "
        "number_of_portfolios; prefix - for descending, + (default) for ascending. "
        "Default: newest first.",
        json_schema_extra={"pattern": sort_pattern(REBALANCE_SORT_FIELDS)},
    ),
]


Include = Annotated[
    Literal["summary"] | None,
    Query(description="summary: each portfolio's figures without its positions."),
]


@router.get("/rebalances", response_model=list[RebalanceOut])
async def list_rebalances(
    runs: StoredRunsDep,
    offset: Offset = None,
    limit: Limit = None,
    sort_by: SortBy = None,
    include: Include = None,
) -> Response:
    headers = await runs.page(offset, limit, sort_by)
    summary = include == "summary"
    slices = functools.partial(runs.portfolio_slices, summary=summary)
    return streamed(runs_stream(headers, slices, summary=summary))


@router.post("/rebalances/portfolios", response_model=list[RebalanceOut])
async def rebalances_of_portfolios(
    body: PortfolioIds, runs: StoredRunsDep, offset: Offset = None, limit: Limit = None
) -> Response:
    headers = await runs.page(offset, limit, None, portfolio_ids=body.portfolios)
    return streamed(runs_stream(headers, runs.portfolio_slices))


@router.get("/rebalance/{rebalance_id}", response_model=RebalanceOut)
async def get_rebalance(
    rebalance_id: ObjectIdPath, runs: StoredRunsDep, include: Include = None
) -> Response:
    run = await runs.header(rebalance_id)
    summary = include == "summary"
    return streamed(run_stream(run, runs.portfolio_slices(run, summary=summary), summary=summary))


@router.delete(
    "/rebalance/{rebalance_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"model": ErrorOut}},
)
async def delete_rebalance(
    rebalance_id: ObjectIdPath, version: VersionQuery, runs: StoredRunsDep
) -> Response:
    await runs.delete(rebalance_id, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


PortfolioOffset = Annotated[QueryNumber | None, Query(description="Default 0.")]
PortfolioLimit = Annotated[QueryNumber | None, Query(description="Default: all the rest.")]


@router.get("/rebalance/{rebalance_id}/portfolios", response_model=list[PortfolioOut])
async def run_portfolios(
    rebalance_id: ObjectIdPath,
    runs: StoredRunsDep,
    offset: PortfolioOffset = None,
    limit: PortfolioLimit = None,
    include: Include = None,
) -> Response:
    """The run's portfolios in run order: all, or a page of them."""
    run = await runs.header(rebalance_id)
    page = runs.run_page(run, offset, limit)
    summary = include == "summary"
    slices = runs.portfolio_slices(run, summary=summary, page=page)
    return streamed(portfolios_stream(slices, summary=summary))


@router.get(
    "/rebalance/{rebalance_id}/portfolio/{portfolio_id}/positions",
    response_model=list[RunPositionOut],
)
async def run_positions(
    rebalance_id: ObjectIdPath, portfolio_id: ObjectIdPath, runs: StoredRunsDep
) -> Response:
    positions = await runs.positions(rebalance_id, portfolio_id)
    return json_response([position_json(p) for p in positions])
