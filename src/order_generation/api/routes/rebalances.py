"""Stored rebalance runs (SPEC §3 "Stored rebalances")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from order_generation.api.deps import DatabaseDep
from order_generation.api.rebalance_schemas import (
    PortfolioIds,
    PortfolioOut,
    PositionOut,
    RebalanceOut,
    json_response,
    portfolio_json,
    position_json,
    run_json,
)
from order_generation.api.routes import API_PREFIX
from order_generation.api.schemas import ErrorOut, Version
from order_generation.services import rebalances as service

router = APIRouter(
    prefix=API_PREFIX,
    tags=["rebalances"],
    responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)

Offset = Annotated[int | None, Query(description="Default 0.")]
Limit = Annotated[int | None, Query(description="Default 10, at most 100.")]
SortBy = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Comma-separated rebalance_date, rebalance_id, model_name, "
        "number_of_portfolios; prefix - for descending, + (default) for ascending. "
        "Default: newest first.",
    ),
]


@router.get("/rebalances", response_model=list[RebalanceOut])
async def list_rebalances(
    db: DatabaseDep, offset: Offset = None, limit: Limit = None, sort_by: SortBy = None
) -> Response:
    runs = await service.list_rebalances(db, offset, limit, sort_by)
    return json_response([run_json(r) for r in runs])


@router.post("/rebalances/portfolios", response_model=list[RebalanceOut])
async def rebalances_of_portfolios(
    body: PortfolioIds, db: DatabaseDep, offset: Offset = None, limit: Limit = None
) -> Response:
    runs = await service.list_rebalances(db, offset, limit, None, portfolio_ids=body.portfolios)
    return json_response([run_json(r) for r in runs])


@router.get("/rebalance/{rebalance_id}", response_model=RebalanceOut)
async def get_rebalance(rebalance_id: str, db: DatabaseDep) -> Response:
    return json_response(run_json(await service.get_rebalance(db, rebalance_id)))


@router.delete(
    "/rebalance/{rebalance_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"model": ErrorOut}},
)
async def delete_rebalance(
    rebalance_id: str, version: Annotated[Version, Query()], db: DatabaseDep
) -> Response:
    await service.delete_rebalance(db, rebalance_id, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/rebalance/{rebalance_id}/portfolios", response_model=list[PortfolioOut])
async def rebalance_portfolios(rebalance_id: str, db: DatabaseDep) -> Response:
    portfolios = await service.rebalance_portfolios(db, rebalance_id)
    return json_response([portfolio_json(p) for p in portfolios])


@router.get(
    "/rebalance/{rebalance_id}/portfolio/{portfolio_id}/positions",
    response_model=list[PositionOut],
)
async def rebalance_positions(rebalance_id: str, portfolio_id: str, db: DatabaseDep) -> Response:
    positions = await service.rebalance_positions(db, rebalance_id, portfolio_id)
    return json_response([position_json(p) for p in positions])
