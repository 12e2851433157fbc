"""Liveness and readiness probes for Kubernetes, and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from order_generation.api.deps import DatabaseDep
from order_generation.api.schemas import ErrorOut

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/health/ready",
    responses={503: {"model": ErrorOut, "description": "the database did not answer in time"}},
)
async def ready(db: DatabaseDep) -> dict[str, str]:
    """Ready when the database answers a trivial query within OGS_DATABASE_TIMEOUT_SECONDS
    (503 DATABASE_UNAVAILABLE otherwise). GlobeCo services are never part of readiness."""
    await db.ping()
    return {"status": "ok", "database": "ok"}


@router.get("/metrics", response_class=Response, tags=["operations"])
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
