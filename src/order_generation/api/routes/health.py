"""Liveness and readiness probes for Kubernetes, and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from order_generation.api.deps import DatabaseDep

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "the database is unreachable"}})
async def ready(db: DatabaseDep) -> JSONResponse:
    try:
        await db.ping()
    except Exception as error:  # any failure to answer means "not ready"
        return JSONResponse(
            status_code=503,
            content={"status": "unavailable", "database": type(error).__name__},
        )
    return JSONResponse(content={"status": "ok", "database": "ok"})


@router.get("/metrics", response_class=Response, tags=["operations"])
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
