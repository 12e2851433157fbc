"""The FastAPI application factory: the one place where the service is wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from order_generation import __version__
from order_generation.adapters.db.database import Database
from order_generation.adapters.db.migrate import upgrade
from order_generation.api.errors import install_error_handlers
from order_generation.api.middleware import ObservabilityMiddleware
from order_generation.api.routes import health, models
from order_generation.config import Settings


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url, echo=settings.database_echo)
        try:
            await upgrade(database)
            app.state.database = database
            yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="GlobeCo Order Generation Service",
        version=__version__,
        description="Investment models and exact whole-unit portfolio rebalancing.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["x-request-id"],
    )
    app.add_middleware(ObservabilityMiddleware)
    app.include_router(health.router)
    app.include_router(models.router)
    return app
