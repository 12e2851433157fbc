"""Alembic environment. The service passes an open connection in ``config.attributes``; the
``alembic`` command line (alembic.ini at the repository root) gets one from OGS_DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from order_generation.adapters.db.tables import metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_from_settings() -> None:
    from order_generation.adapters.db.database import Database
    from order_generation.config import get_settings

    async def run() -> None:
        database = Database(get_settings().database_url)
        try:
            async with database.engine.begin() as connection:
                await connection.run_sync(run_on)
        finally:
            await database.dispose()

    asyncio.run(run())


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")

given = context.config.attributes.get("connection")
if given is None:
    run_from_settings()
else:
    run_on(given)
