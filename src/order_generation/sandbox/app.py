"""The sandbox ASGI app: the five simulated services plus the sandbox's own control endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query
from starlette.responses import Response

from order_generation.sandbox.faults import SERVICES, FaultSpec, Service
from order_generation.sandbox.middleware import SandboxMiddleware
from order_generation.sandbox.model import SandboxData
from order_generation.sandbox.services import StateDep, accounting, order, portfolio, pricing
from order_generation.sandbox.services import security as security_service
from order_generation.sandbox.state import SandboxState


def create_sandbox_app(
    data: SandboxData, *, random_prices: bool = False, seed: int | None = None
) -> FastAPI:
    """An ASGI app serving the simulated GlobeCo services on ``data``.

    ``random_prices`` makes every price a fresh N(close, std) draw, as the real pricing service
    does; ``seed`` makes those draws reproducible. The state is at ``app.state.sandbox``.
    """
    app = FastAPI(
        title="GlobeCo sandbox",
        description="Simulated GlobeCo services for the Order Generation Service (docs/sandbox.md)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    state = SandboxState(data, random_prices=random_prices, seed=seed)
    app.state.sandbox = state
    services = (
        accounting.router,
        security_service.router,
        pricing.router,
        portfolio.router,
        order.router,
    )
    for router in (*services, control):
        app.include_router(router)
    # The middleware matches against the service routers' own routes (the app's route list
    # holds included routers, not routes).
    service_routes = [route for router in services for route in router.routes]
    app.add_middleware(SandboxMiddleware, state=state, routes=service_routes)
    return app


control = APIRouter(tags=["sandbox"])


@control.get("/health")
async def health(state: StateDep) -> dict[str, Any]:
    return {
        "status": "UP",
        "services": list(SERVICES),
        "securities": len(state.data.securities),
        "prices": len(state.data.prices),
        "portfolios": len(state.data.portfolios),
    }


@control.post("/sandbox/faults", status_code=201)
async def set_fault(state: StateDep, spec: FaultSpec) -> dict[str, object]:
    """Make ``spec.service`` fail (replacing its current fault)."""
    return state.faults.set(spec).as_json()


@control.get("/sandbox/faults")
async def list_faults(state: StateDep) -> list[dict[str, object]]:
    return [fault.as_json() for fault in state.faults.active()]


@control.delete("/sandbox/faults", status_code=204)
async def clear_faults(state: StateDep, service: Service | None = None) -> Response:
    """Clear every fault, or only ``?service=``'s."""
    state.faults.clear(service)
    return Response(status_code=204)


@control.get("/sandbox/requests")
async def request_counts(state: StateDep) -> dict[str, int]:
    """Requests received per ``"METHOD /path/{template}"`` since the last reset."""
    return dict(sorted(state.requests.items()))


@control.get("/sandbox/correlation-ids")
async def correlation_ids(state: StateDep) -> list[dict[str, str]]:
    """The ``X-Correlation-ID`` of each recent request that carried one, oldest first."""
    return [{"request": r, "correlation_id": c} for r, c in state.correlation_ids]


@control.delete("/sandbox/requests", status_code=204)
async def reset_request_counts(state: StateDep) -> Response:
    state.requests.clear()
    return Response(status_code=204)


@control.get("/sandbox/orders")
async def received_orders(
    state: StateDep, portfolio_id: Annotated[str | None, Query()] = None
) -> list[dict[str, Any]]:
    """Orders the order service created, in arrival order (optionally of one portfolio)."""
    return [o for o in state.orders if portfolio_id is None or o["portfolioId"] == portfolio_id]


@control.delete("/sandbox/orders", status_code=204)
async def clear_orders(state: StateDep) -> Response:
    state.orders.clear()
    return Response(status_code=204)


@control.post("/sandbox/reset", status_code=204)
async def reset(state: StateDep) -> Response:
    """Clear faults, request counters and received orders at once (tests call this first)."""
    state.reset()
    return Response(status_code=204)
