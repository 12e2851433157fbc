"""Stored rebalance runs (SPEC §3 "Stored rebalances"): read (streamed) and deleted."""

from __future__ import annotations

from typing import Annotated

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


@router.get("/rebalances", response_model=list[RebalanceOut])
async def list_rebalances(
    runs: StoredRunsDep, offset: Offset = None, limit: Limit = None, sort_by: SortBy = None
) -> Response:
    headers = await runs.page(offset, limit, sort_by)
    return streamed(runs_stream(headers, runs.portfolio_slices))


@router.post("/rebalances/portfolios", response_model=list[RebalanceOut])
async def rebalances_of_portfolios(
    body: PortfolioIds, runs: StoredRunsDep, offset: Offset = None, limit: Limit = None
) -> Response:
    headers = await runs.page(offset, limit, None, portfolio_ids=body.portfolios)
    return streamed(runs_stream(headers, runs.portfolio_slices))


@router.get("/rebalance/{rebalance_id}", response_model=RebalanceOut)
async def get_rebalance(rebalance_id: ObjectIdPath, runs: StoredRunsDep) -> Response:
    run = await runs.header(rebalance_id)
    return streamed(run_stream(run, runs.portfolio_slices(run)))


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


@router.get("/rebalance/{rebalance_id}/portfolios", response_model=list[PortfolioOut])
async def run_portfolios(rebalance_id: ObjectIdPath, runs: StoredRunsDep) -> Response:
    run = await runs.header(rebalance_id)
    return streamed(portfolios_stream(runs.portfolio_slices(run)))


@router.get(
    "/rebalance/{rebalance_id}/portfolio/{portfolio_id}/positions",
    response_model=list[RunPositionOut],
)
async def run_positions(
    rebalance_id: ObjectIdPath, portfolio_id: ObjectIdPath, runs: StoredRunsDep
) -> Response:
    positions = await runs.positions(rebalance_id, portfolio_id)
    return json_response([position_json(p) for p in positions])
