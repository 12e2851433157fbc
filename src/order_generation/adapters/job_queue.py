"""Where job chunks wait and who runs them (docs/adr/0010).

- ``ProcrastinateQueue`` (PostgreSQL): each chunk is a procrastinate job in the service's own
  database, taken by any worker of any process or replica (``ogs worker``, and ``ogs serve``
  unless ``OGS_IN_PROCESS_WORKERS=false``). Workers send heartbeats; a chunk whose worker went
  silent for ``OGS_JOB_STALLED_SECONDS`` is taken again, and so is a chunk that never reached
  the queue (the job is committed before its chunks are queued: a process that dies in
  between leaves them to the workers' sweep).
- ``InProcessQueue`` (SQLite, one process): chunks run in the API process, one at a time; jobs
  left unfinished by a restart are resumed at start-up.

Either way a chunk that meets an unavailable service is tried again later, up to
``OGS_JOB_CHUNK_ATTEMPTS`` times in all; then the job fails. Any other error fails the job at
once (it is a bug, logged with its traceback, and retrying would repeat it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import procrastinate
import procrastinate.exceptions
import procrastinate.jobs
import structlog
from procrastinate.types import JSONValue
from sqlalchemy import make_url

from order_generation.domain.errors import Unavailable

log = structlog.get_logger(__name__)

CHUNK_TASK = "rebalance_chunk"
_MAX_RETRY_WAIT_SECONDS = 60.0


class ChunkWork(Protocol):
    """What the queue runs (``services.jobs.JobService``)."""

    async def run_chunk(self, job_id: str, number: int) -> None: ...

    async def fail(self, job_id: str, error: str) -> None: ...

    async def unfinished(
        self, created_before: datetime | None = None
    ) -> list[tuple[str, list[int]]]: ...


def retry_wait_seconds(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1`` (attempt counts from 0): 2, 4, 8, ... 60."""
    return min(2.0 ** (attempt + 1), _MAX_RETRY_WAIT_SECONDS)


async def run_chunk_attempt(
    service: ChunkWork, job_id: str, chunk: int, *, attempt: int, attempts: int
) -> bool:
    """One attempt at a chunk. True when it is settled (stored, dropped, or its job failed);
    False when it met an unavailable service and should be tried again later."""
    try:
        await service.run_chunk(job_id, chunk)
    except Unavailable as error:
        if attempt + 1 >= attempts:
            await service.fail(job_id, f"{error.message} (chunk {chunk}, {attempts} attempts)")
            return True
        log.warning(
            "chunk will be retried",
            job_id=job_id,
            chunk=chunk,
            attempt=attempt + 1,
            error=error.message,
        )
        return False
    except Exception as error:
        log.exception("chunk failed", job_id=job_id, chunk=chunk)
        await service.fail(job_id, f"internal error in chunk {chunk}: {type(error).__name__}")
        return True
    return True


class InProcessQueue:
    """Runs chunks in this process, in the order they were queued, one at a time."""

    def __init__(self, service: ChunkWork, *, attempts: int, grace_seconds: float = 10) -> None:
        self._service = service
        self._attempts = attempts
        self._grace = grace_seconds
        self._pending: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False

    async def enqueue(self, job_id: str, chunks: Sequence[int]) -> None:
        for chunk in chunks:
            self._pending.put_nowait((job_id, chunk))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[InProcessQueue]:
        """Runs queued chunks while inside; first queues what a restart left unfinished. On the
        way out the chunk in hand may finish (within the grace period); the rest stay queued in
        the database for the next start."""
        for job_id, chunks in await self._service.unfinished():
            log.info("resuming job", job_id=job_id, chunks=len(chunks))
            await self.enqueue(job_id, chunks)
        self._runner = asyncio.create_task(self._run(), name="ogs-in-process-jobs")
        try:
            yield self
        finally:
            self._stopping = True
            self._pending.put_nowait(None)  # wakes the runner if it is idle
            done, _ = await asyncio.wait({self._runner}, timeout=self._grace)
            if not done:
                self._runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._runner

    async def _run(self) -> None:
        while not self._stopping:
            item = await self._pending.get()
            if item is None or self._stopping:
                return
            job_id, chunk = item
            for attempt in range(self._attempts):
                if await run_chunk_attempt(
                    self._service, job_id, chunk, attempt=attempt, attempts=self._attempts
                ):
                    break
                await asyncio.sleep(retry_wait_seconds(attempt))


def procrastinate_conninfo(database_url: str) -> str:
    """libpq's form of the service's SQLAlchemy URL (psycopg, procrastinate's driver)."""
    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class ProcrastinateQueue:
    """Chunks as procrastinate jobs in PostgreSQL (procrastinate's schema: migration 0004)."""

    def __init__(
        self,
        service: ChunkWork,
        database_url: str,
        *,
        attempts: int,
        stalled_seconds: float,
        worker_concurrency: int,
    ) -> None:
        self._service = service
        self._attempts = attempts
        self._stalled_seconds = stalled_seconds
        self._concurrency = worker_concurrency
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(
                conninfo=procrastinate_conninfo(database_url),
                kwargs={"application_name": "ogs-jobs"},
                min_size=1,
                max_size=max(2, worker_concurrency + 1),
            )
        )
        self._task = self.app.task(name=CHUNK_TASK, pass_context=True, retry=_ChunkRetry())(
            self._run_chunk
        )

    async def _run_chunk(self, context: Any, job_id: str, chunk: int) -> None:
        attempt = context.job.attempts
        settled = await run_chunk_attempt(
            self._service, job_id, chunk, attempt=attempt, attempts=self._attempts
        )
        if not settled:
            raise _RetryLater(f"chunk {chunk} of job {job_id}: a service was unavailable")

    async def enqueue(self, job_id: str, chunks: Sequence[int]) -> None:
        arguments: list[dict[str, JSONValue]] = [{"job_id": job_id, "chunk": c} for c in chunks]
        await self._task.batch_defer_async(*arguments)

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[ProcrastinateQueue]:
        """The queue's connection pool, for deferring chunks (every API process)."""
        async with self.app.open_async():
            yield self

    async def keep_working(self, restart_seconds: float = 5.0) -> None:
        """``work`` until cancelled, started again whenever it stops on an error (the database
        went away, say): a worker outlives an outage as the API does."""
        while True:
            try:
                await self.work()
            except Exception:
                log.warning(
                    "job worker stopped on an error; restarting",
                    restart_seconds=restart_seconds,
                    exc_info=True,
                )
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise asyncio.CancelledError  # asked to stop while the worker was ending
            await asyncio.sleep(restart_seconds)

    async def work(self) -> None:
        """Takes chunks until cancelled (the caller has ``open`` the queue)."""
        watch = asyncio.create_task(self._watch(), name="ogs-job-watch")
        try:
            await self.app.run_worker_async(
                concurrency=self._concurrency,
                install_signal_handlers=False,
                update_heartbeat_interval=max(self._stalled_seconds / 4, 0.5),
                stalled_worker_timeout=self._stalled_seconds,
                shutdown_graceful_timeout=10,
                delete_jobs="successful",
            )
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    async def _watch(self) -> None:
        """Every ``OGS_JOB_STALLED_SECONDS / 2``: chunks of silent workers, and chunks that
        were never queued, go back to the queue."""
        while True:
            await asyncio.sleep(max(self._stalled_seconds / 2, 0.5))
            try:
                await self._retry_stalled()
                await self._queue_lost()
            except Exception:  # the database blinked: try again next round
                log.warning("could not look for stalled or lost chunks", exc_info=True)

    async def _retry_stalled(self) -> None:
        """Chunks of workers that stopped sending heartbeats (killed, frozen) are taken again;
        the chunk's own ``stored`` mark keeps a chunk from being stored twice."""
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(
            task_name=CHUNK_TASK, seconds_since_heartbeat=self._stalled_seconds
        )
        for job in stalled:
            log.warning("chunk of a silent worker taken again", queue_job=job.id)
            await manager.retry_job(job)

    async def _queue_lost(self) -> None:
        """Chunks of a job older than ``OGS_JOB_STALLED_SECONDS`` that are neither stored nor
        waiting nor in a worker's hands: the process that started the job died between storing
        it and queueing its chunks (two databases' worth of work: the job is committed first).
        They are queued now. The queue is read before the jobs, so a chunk finishing in between
        is seen stored; at worst a chunk is queued twice, and stored once."""
        waiting = await self.app.job_manager.list_jobs_async(task=CHUNK_TASK)  # one snapshot
        present = {
            (job.task_kwargs.get("job_id"), job.task_kwargs.get("chunk"))
            for job in waiting
            if job.status in ("todo", "doing")
        }
        cutoff = datetime.now(UTC) - timedelta(seconds=self._stalled_seconds)
        for job_id, chunks in await self._service.unfinished(created_before=cutoff):
            lost = [c for c in chunks if (job_id, c) not in present]
            if lost:
                log.warning("chunks never queued, queued now", job_id=job_id, chunks=lost)
            for chunk in lost:
                # A queueing lock per chunk: workers sweeping at the same moment queue it once.
                deferrer = self._task.configure(queueing_lock=f"{job_id}/{chunk}")
                with contextlib.suppress(procrastinate.exceptions.AlreadyEnqueued):
                    await deferrer.defer_async(job_id=job_id, chunk=chunk)


class _RetryLater(Exception):
    """A chunk met an unavailable service; procrastinate schedules it again."""


class _ChunkRetry(procrastinate.BaseRetryStrategy):
    """procrastinate's side of the one retry rule: when (``retry_wait_seconds``). Whether to
    try again at all is ``run_chunk_attempt``'s decision: it raises ``_RetryLater`` only then."""

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> procrastinate.RetryDecision | None:
        if not isinstance(exception, _RetryLater):
            return None
        wait = int(retry_wait_seconds(job.attempts))
        return procrastinate.RetryDecision(retry_in={"seconds": wait})
