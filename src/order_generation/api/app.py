"""The FastAPI application factory: the one place where the service is wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from order_generation import __version__
from order_generation.api.errors import install_error_handlers, path_methods
from order_generation.api.middleware import ObservabilityMiddleware
from order_generation.api.openapi import install_openapi
from order_generation.api.routes import API_PREFIX, health, jobs, models, rebalancing, stored_runs
from order_generation.config import Settings, get_settings
from order_generation.log_setup import configure_logging
from order_generation.observability.tracing import telemetry_from_environment
from order_generation.wiring import service_parts


def create_app(settings: Settings) -> FastAPI:
    telemetry = telemetry_from_environment()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.callback(telemetry.shutdown)  # last out: flushes what the others reported
            parts = await stack.enter_async_context(
                service_parts(settings, telemetry, take_chunks=settings.in_process_workers)
            )
            app.state.database = parts.database
            app.state.clients = parts.clients
            app.state.models = parts.models
            app.state.stored_runs = parts.stored_runs
            app.state.rebalancer = parts.rebalancer
            app.state.jobs = parts.jobs
            yield

    app = FastAPI(
        title="GlobeCo Order Generation Service",
        version=__version__,
        description="Investment models and exact whole-unit portfolio rebalancing.",
        lifespan=lifespan,
        # No "/path/" → "/path" redirects: they would echo the request's Host header.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.telemetry = telemetry
    install_error_handlers(app)
    install_openapi(app, uses_database=_uses_database)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["x-correlation-id", "retry-after"],
    )
    app.add_middleware(
        ObservabilityMiddleware, telemetry=telemetry, trusted_hosts=settings.trusted_hosts
    )
    routers = (health.router, models.router, rebalancing.router, jobs.router, stored_runs.router)
    for router in routers:
        app.include_router(router)
    app.state.path_methods = path_methods(routers)
    telemetry.instrument_app(app)
    return app


def _uses_database(path: str) -> bool:
    return path.startswith(API_PREFIX) or path == "/health/ready"


def create_app_from_environment() -> FastAPI:
    """The app for a worker process of ``ogs serve --workers N`` (settings from ``OGS_*``)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
