"""Rebalancing endpoints (SPEC §3 "Rebalancing")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response, status

from order_generation.api.deps import JobsDep, RebalancerDep
from order_generation.api.exact_json import ExactJsonRoute
from order_generation.api.options import RebalanceOptions
from order_generation.api.rebalance_schemas import (
    JobOut,
    RebalanceResultOut,
    job_json,
    json_response,
    result_json,
)
from order_generation.api.routes import API_PREFIX
from order_generation.api.schemas import ErrorOut, ObjectIdPath

_OPTIONS = (
    "Optional trading options (SPEC §8), over the model's rebalance_options field by field. "
    "No body: today's rebalance, byte for byte."
)


class ModelRebalanceOptions(RebalanceOptions):
    """The options of every portfolio of the run, and ``portfolio_options`` of some."""

    # Any key: one outside the model is refused by name (INVALID_OPTION), not by the schema.
    portfolio_options: dict[str, RebalanceOptions] | None = None

    def layer(self) -> dict[str, Any]:
        own = super().layer()
        own.pop("portfolio_options", None)
        return own

    def portfolio_layers(self) -> dict[str, dict[str, Any]]:
        return {p: o.layer() for p, o in (self.portfolio_options or {}).items()}


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
async def rebalance_portfolio(
    portfolio_id: ObjectIdPath,
    rebalancer: RebalancerDep,
    options: Annotated[RebalanceOptions | None, Body(description=_OPTIONS)] = None,
) -> Response:
    layer = None if options is None else options.layer()
    rebalance_id, outcome = await rebalancer.rebalance_portfolio(portfolio_id, layer)
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
    model_id: ObjectIdPath,
    rebalancer: RebalancerDep,
    jobs: JobsDep,
    mode: ModeQuery = None,
    options: Annotated[ModelRebalanceOptions | None, Body(description=_OPTIONS)] = None,
) -> Response:
    layer = None if options is None else options.layer()
    portfolio_layers = None if options is None else options.portfolio_layers()
    if mode == "async":
        job = await jobs.start(model_id, layer, portfolio_layers)
        return json_response(
            job_json(job),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": f"{API_PREFIX}/jobs/{job.job_id}"},
        )
    run = await rebalancer.rebalance_model(model_id, layer, portfolio_layers)
    if run is None:  # no portfolios: nothing to do, nothing stored
        return json_response([])
    rebalance_id = run.rebalance_id or None  # a dry run was not stored: it has no id
    return json_response([result_json(rebalance_id, p) for p in run.portfolios])
