"""Request-scoped access to the application's long-lived parts (made in ``api.app``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from order_generation.adapters.db.database import Database
from order_generation.services.rebalancing import Rebalancer


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _rebalancer(request: Request) -> Rebalancer:
    rebalancer: Rebalancer = request.app.state.rebalancer
    return rebalancer


DatabaseDep = Annotated[Database, Depends(_database)]
RebalancerDep = Annotated[Rebalancer, Depends(_rebalancer)]
