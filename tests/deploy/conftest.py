"""Fixtures of the deployment checks: the application built from its own factory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from order_generation.api.app import create_app
from order_generation.config import Settings
from order_generation.sandbox import create_sandbox_app, generate_data


@pytest.fixture(scope="module")
def api_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The API on a throw-away SQLite file, started (lifespan run) as `ogs serve` starts it."""
    database = Path(tmp_path_factory.mktemp("deploy")) / "ogs.db"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}")
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def sandbox_client() -> Iterator[TestClient]:
    with TestClient(create_sandbox_app(generate_data(30, 20, 1))) as client:
        yield client
