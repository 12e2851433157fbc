"""Applies the Alembic migrations; used at start-up and by ``ogs db upgrade``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from order_generation.adapters.db.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: PostgreSQL advisory lock key that serialises concurrent upgrades (several
# workers or pods starting together).
_UPGRADE_LOCK = 0x0665_0001


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(database: Database) -> None:
    """Brings the schema to the newest migration, inside one transaction."""
    async with database.write_engine.begin() as connection:
        await connection.run_sync(_upgrade_on)


def _upgrade_on(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def upgrade_database(url: str) -> None:
    """Synchronous entry point for the command line."""

    async def run() -> None:
        database = Database(url)
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    asyncio.run(run())
