"""Rebalance jobs (SPEC §9): read, list and cancel; started by
``POST /model/{model_id}/rebalance?mode=async`` (routes/rebalancing.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from order_generation.api.deps import JobsDep
from order_generation.api.exact_json import ExactJsonRoute
from order_generation.api.rebalance_schemas import JobOut, job_json, json_response
from order_generation.api.routes import API_PREFIX
from order_generation.api.schemas import ErrorOut, ObjectIdPath, QueryNumber, RunLimit
from order_generation.domain.jobs import DEFAULT_JOB_LIMIT, MAX_JOB_LIMIT, JobStatus

router = APIRouter(
    prefix=API_PREFIX,
    route_class=ExactJsonRoute,
    tags=["jobs"],
    responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)

Offset = Annotated[QueryNumber | None, Query(description="Default 0.")]
Limit = Annotated[
    RunLimit | None, Query(description=f"Default {DEFAULT_JOB_LIMIT}, at most {MAX_JOB_LIMIT}.")
]
StatusQuery = Annotated[JobStatus | None, Query(description="Only the jobs in this status.")]


@router.get("/jobs", response_model=list[JobOut])
async def list_jobs(
    jobs: JobsDep, status: StatusQuery = None, offset: Offset = None, limit: Limit = None
) -> Response:
    """Jobs, newest first."""
    return json_response([job_json(job) for job in await jobs.page(offset, limit, status)])


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(job_id: ObjectIdPath, jobs: JobsDep) -> Response:
    return json_response(job_json(await jobs.get(job_id)))


@router.delete(
    "/jobs/{job_id}",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={422: {"model": ErrorOut, "description": "the job has already finished"}},
)
async def cancel_job(job_id: ObjectIdPath, jobs: JobsDep) -> Response:
    """Cancels a queued or running job: nothing of its run is kept."""
    job = await jobs.cancel(job_id)
    return json_response(job_json(job), status_code=status.HTTP_202_ACCEPTED)
