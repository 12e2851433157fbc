"""The FastAPI application factory: the one place where the service is wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from order_generation import __version__
from order_generation.adapters.db.database import Database
from order_generation.adapters.db.migrate import upgrade
from order_generation.adapters.globeco import GlobecoClients
from order_generation.api.errors import install_error_handlers, path_methods
from order_generation.api.middleware import ObservabilityMiddleware
from order_generation.api.openapi import install_openapi
from order_generation.api.routes import API_PREFIX, health, models, rebalances, rebalancing
from order_generation.config import Settings
from order_generation.services.rebalancing import Rebalancer


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            database = Database(
                settings.database_url,
                echo=settings.database_echo,
                timeout_seconds=settings.database_timeout_seconds,
            )
            stack.push_async_callback(database.dispose)
            await upgrade(database)
            clients = await stack.enter_async_context(GlobecoClients.from_settings(settings))
            solver_pool = stack.enter_context(
                ThreadPoolExecutor(settings.rebalance_concurrency, thread_name_prefix="solver")
            )
            app.state.database = database
            app.state.clients = clients
            app.state.rebalancer = Rebalancer(
                database,
                clients,
                optimizer_timeout_seconds=settings.optimizer_timeout_seconds,
                concurrency=settings.rebalance_concurrency,
                optional_lookup_timeout_seconds=settings.optional_lookup_timeout_seconds,
                solver_pool=solver_pool,
            )
            yield

    app = FastAPI(
        title="GlobeCo Order Generation Service",
        version=__version__,
        description="Investment models and exact whole-unit portfolio rebalancing.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_openapi(app, database_paths=(API_PREFIX, "/health/ready"))
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["x-request-id"],
    )
    app.add_middleware(ObservabilityMiddleware)
    routers = (health.router, models.router, rebalancing.router, rebalances.router)
    for router in routers:
        app.include_router(router)
    app.state.path_methods = path_methods(routers)
    return app
