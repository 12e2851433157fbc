"""Request-scoped access to the application's long-lived parts (made in ``api.app``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from order_generation.adapters.db.database import Database
from order_generation.services.jobs import JobService
from order_generation.services.models import ModelService
from order_generation.services.rebalancing import Rebalancer
from order_generation.services.stored_runs import StoredRunService


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _models(request: Request) -> ModelService:
    models: ModelService = request.app.state.models
    return models


def _stored_runs(request: Request) -> StoredRunService:
    runs: StoredRunService = request.app.state.stored_runs
    return runs


def _jobs(request: Request) -> JobService:
    jobs: JobService = request.app.state.jobs
    return jobs


def _rebalancer(request: Request) -> Rebalancer:
    rebalancer: Rebalancer = request.app.state.rebalancer
    return rebalancer


DatabaseDep = Annotated[Database, Depends(_database)]
ModelsDep = Annotated[ModelService, Depends(_models)]
StoredRunsDep = Annotated[StoredRunService, Depends(_stored_runs)]
RebalancerDep = Annotated[Rebalancer, Depends(_rebalancer)]
JobsDep = Annotated[JobService, Depends(_jobs)]
