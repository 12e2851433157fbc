"""Request-scoped access to the application's long-lived parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from order_generation.adapters.db.database import Database


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(_database)]
