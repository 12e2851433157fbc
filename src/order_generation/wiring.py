"""The service's long-lived parts, made in one place for the API process and ``ogs worker``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass

import structlog

from order_generation.adapters.db.database import Database
from order_generation.adapters.db.migrate import upgrade
from order_generation.adapters.globeco import GlobecoClients
from order_generation.adapters.job_queue import InProcessQueue, ProcrastinateQueue
from order_generation.config import Settings
from order_generation.observability import metrics
from order_generation.observability.tracing import Telemetry
from order_generation.services.jobs import JobService
from order_generation.services.models import ModelService
from order_generation.services.rebalancing import Rebalancer
from order_generation.services.stored_runs import StoredRunService

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Parts:
    database: Database
    clients: GlobecoClients
    models: ModelService
    stored_runs: StoredRunService
    rebalancer: Rebalancer
    jobs: JobService
    queue: InProcessQueue | ProcrastinateQueue


@contextlib.asynccontextmanager
async def service_parts(
    settings: Settings, telemetry: Telemetry, *, take_chunks: bool
) -> AsyncIterator[Parts]:
    """Everything the service runs on, open while inside. ``take_chunks``: this process also
    works on job chunks (with SQLite the API process always does: it is the only one)."""
    async with AsyncExitStack() as stack:
        database = Database(
            settings.database_url,
            echo=settings.database_echo,
            timeout_seconds=settings.database_timeout_seconds,
        )
        stack.push_async_callback(database.dispose)
        if settings.migrate_on_start:
            await upgrade(database)
        clients = await stack.enter_async_context(GlobecoClients.from_settings(settings))
        telemetry.instrument_io(clients.http, database.engine)
        solver_pool = stack.enter_context(
            ThreadPoolExecutor(settings.rebalance_concurrency, thread_name_prefix="solver")
        )
        metrics.forget_dead_processes()
        rebalancer = Rebalancer(
            database,
            clients,
            optimizer_timeout_seconds=settings.optimizer_timeout_seconds,
            concurrency=settings.rebalance_concurrency,
            optional_lookup_timeout_seconds=settings.optional_lookup_timeout_seconds,
            max_inflight=settings.max_inflight_rebalances,
            solver_pool=solver_pool,
            telemetry=telemetry,
        )
        jobs = JobService(database, rebalancer, chunk_portfolios=settings.job_chunk_portfolios)
        queue: InProcessQueue | ProcrastinateQueue
        if database.engine.dialect.name == "postgresql":
            queue = ProcrastinateQueue(
                jobs,
                settings.database_url,
                attempts=settings.job_chunk_attempts,
                stalled_seconds=settings.job_stalled_seconds,
                worker_concurrency=settings.job_worker_concurrency,
            )
            await stack.enter_async_context(queue.open())
            if take_chunks:
                worker = asyncio.create_task(queue.keep_working(), name="ogs-job-worker")
                stack.push_async_callback(stop_worker, worker)
        else:
            queue = InProcessQueue(jobs, attempts=settings.job_chunk_attempts)
            await stack.enter_async_context(queue.running())
        jobs.use_queue(queue)
        yield Parts(
            database=database,
            clients=clients,
            models=ModelService(database),
            stored_runs=StoredRunService(database),
            rebalancer=rebalancer,
            jobs=jobs,
            queue=queue,
        )


# How long a stopping worker may take to hand back its chunks (procrastinate's own graceful
# shutdown is 10 s); past that the process stops without it and the chunks are retaken later.
_WORKER_STOP_SECONDS = 15.0


async def stop_worker(task: asyncio.Task[None]) -> None:
    """Cancels a worker task and waits for it, within bounds."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=_WORKER_STOP_SECONDS)
    if not done:
        # E.g. the database went away and the worker's last writes wait on it: shutting down
        # must not wait for ever (its chunks are taken again once its heartbeats stop).
        log.warning("job worker did not stop in time; leaving it", seconds=_WORKER_STOP_SECONDS)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("job worker ended with an error", exc_info=task.exception())
