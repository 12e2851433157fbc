"""Probes for Kubernetes, details for people, and Prometheus metrics (SPEC §3, §10)."""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, Request, Response

from order_generation import __version__
from order_generation.api.deps import DatabaseDep
from order_generation.api.schemas import ErrorOut
from order_generation.domain.errors import DatabaseUnavailable
from order_generation.observability.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    """The process is up (it answers). Nothing else is checked."""
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


@router.get("/health")
async def details(request: Request, db: DatabaseDep) -> dict[str, Any]:
    """For people, not probes: version, the database, and each GlobeCo service's circuit and
    last call. Always 200; ``status`` is "degraded" while the database does not answer or a
    circuit is not closed."""
    started = time.perf_counter()
    try:
        await db.ping()
        database: dict[str, Any] = {
            "status": "ok",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    except DatabaseUnavailable as error:
        database = {"status": "unavailable", "error": error.message}
    clients = request.app.state.clients
    outcomes = clients.last_outcomes()
    services = {
        name: {
            "circuit": state,
            "last_call": None
            if outcomes[name] is None
            else {
                "outcome": outcomes[name].outcome,
                "at": outcomes[name].at.isoformat(),
                "detail": outcomes[name].detail,
            },
        }
        for name, state in clients.circuit_states().items()
    }
    healthy = database["status"] == "ok" and all(
        s["circuit"] == "closed" for s in services.values()
    )
    return {
        "status": "ok" if healthy else "degraded",
        "service": "globeco-order-generation-service",
        "version": __version__,
        "pid": os.getpid(),
        "database": {"backend": db.url.get_backend_name(), **database},
        "globeco_services": services,
    }


@router.get("/metrics", response_class=Response, tags=["operations"])
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)
