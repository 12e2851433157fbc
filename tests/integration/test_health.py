"""Readiness follows the database: 200 while it answers, 503 once it is gone."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import make_url

from order_generation.api.app import create_app
from tests.fixtures.api import settings_for
from tests.fixtures.database import POSTGRES_URL


@pytest.mark.postgres
async def test_ready_turns_503_when_the_database_goes_away(postgres_server_url: str | None) -> None:
    if postgres_server_url is None or POSTGRES_URL is None:
        pytest.skip("PostgreSQL tests need OGS_TEST_POSTGRES_URL")
    import asyncpg

    admin_dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(False)
    name = f"ogs_ready_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(False)
        app = create_app(settings_for(url))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
                assert (await api.get("/health/ready")).status_code == 200
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                gone = await api.get("/health/ready")
                assert gone.status_code == 503
                assert gone.json()["code"] == "DATABASE_UNAVAILABLE"
                assert gone.headers["retry-after"].isdigit()
                assert (await api.get("/health/live")).status_code == 200
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
