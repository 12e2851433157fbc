"""Rebalancing endpoints (SPEC §3 "Rebalancing")."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from order_generation.api.deps import JobsDep, RebalancerDep
from order_generation.api.exact_json import ExactJsonRoute
from order_generation.api.rebalance_schemas import (
    JobOut,
    RebalanceResultOut,
    job_json,
    json_response,
    result_json,
)
from order_generation.api.routes import API_PREFIX
from order_generation.api.schemas import ErrorOut, ObjectIdPath

router = APIRouter(
    prefix=API_PREFIX,
    route_class=ExactJsonRoute,
    tags=["rebalancing"],
    responses={
        400: {"model": ErrorOut},
        404: {"model": ErrorOut},
        503: {"model": ErrorOut, "description": "a required GlobeCo service is unavailable"},
    },
)


@router.post(
    "/portfolio/{portfolio_id}/rebalance",
    response_model=RebalanceResultOut,
    responses={422: {"model": ErrorOut, "description": "no feasible solution exists"}},
)
async def rebalance_portfolio(portfolio_id: ObjectIdPath, rebalancer: RebalancerDep) -> Response:
    rebalance_id, outcome = await rebalancer.rebalance_portfolio(portfolio_id)
    return json_response(result_json(rebalance_id, outcome))


ModeQuery = Annotated[
    Literal["sync", "async"] | None,
    Query(
        description="sync (default): answer the run's results. async: answer 202 with a job "
        "(SPEC §9) and compute the run in the background, chunk by chunk."
    ),
]


@router.post(
    "/model/{model_id}/rebalance",
    response_model=list[RebalanceResultOut],
    responses={
        202: {"model": JobOut, "description": "mode=async: the job, at Location"},
        422: {"model": ErrorOut, "description": "mode=async: the model has no portfolios"},
    },
)
async def rebalance_model(
    model_id: ObjectIdPath, rebalancer: RebalancerDep, jobs: JobsDep, mode: ModeQuery = None
) -> Response:
    if mode == "async":
        job = await jobs.start(model_id)
        return json_response(
            job_json(job),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": f"{API_PREFIX}/jobs/{job.job_id}"},
        )
    run = await rebalancer.rebalance_model(model_id)
    if run is None:  # no portfolios: nothing to do, nothing stored
        return json_response([])
    return json_response([result_json(run.rebalance_id, p) for p in run.portfolios])
