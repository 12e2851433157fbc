"""Rebalance jobs (SPEC §9): a model run in the background, chunk by chunk, published whole.

Starting a job fixes what it computes against (the model's positions and version, one price
snapshot), cuts the portfolios into chunks and hands the chunks to a queue: procrastinate on
PostgreSQL, so any worker process of any replica takes them; a queue in the API process on
SQLite. Each chunk is computed by the same engine as a synchronous run
(``Rebalancer.outcomes``) and stored in one transaction that also marks the chunk stored and
counts its portfolios, so a chunk taken twice (its worker killed after storing) is stored once.
The transaction that stores the last chunk publishes the run. A cancelled or failed job deletes
what its chunks stored; the run never appears.

Memory is bounded by the chunk: a worker holds one chunk's holdings and outcomes at a time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import structlog

from order_generation.adapters.db.database import Database
from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import InvalidState, NotFound, RuleViolation
from order_generation.domain.ids import new_object_id, require_object_id
from order_generation.domain.investment_model import InvestmentModel, Position
from order_generation.domain.jobs import (
    DEFAULT_JOB_LIMIT,
    MAX_JOB_LIMIT,
    MODEL_REBALANCE,
    Chunk,
    Job,
    JobCounts,
    JobStatus,
    check_cancellable,
    chunks_of,
)
from order_generation.domain.paging import check_page, fit_page
from order_generation.domain.rebalance import PortfolioRebalance, RunHeader
from order_generation.domain.trading_options import RunOptions
from order_generation.services.rebalancing import (
    PriceSnapshot,
    Rebalancer,
    check_named_securities,
    run_options,
)

log = structlog.get_logger(__name__)


class ChunkQueue(Protocol):
    """Where a job's chunks wait for a worker."""

    async def enqueue(self, job_id: str, chunks: Sequence[int]) -> None: ...


class JobService:
    def __init__(self, db: Database, rebalancer: Rebalancer, *, chunk_portfolios: int) -> None:
        self._db = db
        self._rebalancer = rebalancer
        self._chunk_portfolios = chunk_portfolios
        self._queue: ChunkQueue | None = None

    def use_queue(self, queue: ChunkQueue) -> None:
        """The queue new jobs' chunks go to (made after this service: its workers call it)."""
        self._queue = queue

    async def start(
        self,
        model_id: str,
        options: Mapping[str, Any] | None = None,
        portfolio_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Job:
        """Queues a run of every portfolio of the model, with the request's trading options
        over the model's (SPEC §8; fixed now, like the prices). Raises NotFound, InvalidState
        (no portfolios), RuleViolation (options naming an unknown portfolio or security, or a
        dry run: a job's run is its stored result) or ServiceUnavailable (the prices could not
        be fetched: nothing queued)."""
        model_id = require_object_id(model_id, "model id")
        if options is not None and options.get("dry_run"):
            raise RuleViolation(
                "dry_run cannot be combined with mode=async: a job's answer is its stored run",
                code=ErrorCode.INVALID_OPTION,
                errors=[{"field": "dry_run", "message": "not with mode=async", "type": "invalid"}],
            )
        async with self._db.unit_of_work(write=False) as uow:
            model = await uow.models.get(model_id)
        if model is None:
            raise NotFound(f"model {model_id} not found")
        layers = run_options(model, options, portfolio_options or {})
        if not model.portfolios:
            raise InvalidState(
                f"model {model_id} has no portfolios to rebalance; add portfolios first",
                code=ErrorCode.MODEL_HAS_NO_PORTFOLIOS,
            )
        snapshot, names = await asyncio.gather(
            self._rebalancer.price_snapshot(), self._rebalancer.portfolio_names()
        )
        check_named_securities(layers, model, snapshot)
        # Names fixed here, like the prices: one list of every portfolio for the whole job,
        # however many chunks (None if it could not be had: each chunk looks them up).
        chunks = chunks_of(model.portfolios, self._chunk_portfolios, names)
        now = datetime.now(UTC)
        job = Job(
            job_id=new_object_id(),
            kind=MODEL_REBALANCE,
            model_id=model.model_id,
            status="queued",
            total=len(model.portfolios),
            done=0,
            counts=JobCounts(),
            rebalance_id=new_object_id(),
            error=None,
            created_at=now,
            started_at=None,
            finished_at=None,
        )
        header = RunHeader(
            rebalance_id=job.rebalance_id,
            model_id=model.model_id,
            model_name=model.name,
            model_version=model.version,
            rebalance_date=now,
            number_of_portfolios=job.total,
            version=1,
            created_at=now,
        )
        async with self._db.unit_of_work() as uow:
            await uow.jobs.add(job, encode_inputs(model, snapshot, layers), chunks)
            await uow.rebalances.add_header(header, complete=False)
            await uow.commit()
        assert self._queue is not None, "JobService.use_queue was not called"
        try:
            await self._queue.enqueue(job.job_id, [c.number for c in chunks])
        except Exception as error:
            await self.fail(job.job_id, f"the job could not be queued: {error}")
            raise
        log.info("job queued", job_id=job.job_id, model_id=model_id, chunks=len(chunks))
        return job

    async def get(self, job_id: str) -> Job:
        job_id = require_object_id(job_id, "job id")
        async with self._db.unit_of_work(write=False) as uow:
            job = await uow.jobs.get(job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    async def page(
        self, offset: int | None, limit: int | None, status: JobStatus | None
    ) -> list[Job]:
        """Newest first, optionally only those with ``status``."""
        page = check_page(offset, limit, default_limit=DEFAULT_JOB_LIMIT, max_limit=MAX_JOB_LIMIT)
        async with self._db.unit_of_work(write=False) as uow:
            page = fit_page(page, await uow.jobs.count(status))
            return await uow.jobs.page(page, status)

    async def cancel(self, job_id: str) -> Job:
        """Cancels a queued or running job: what its chunks stored is deleted and its run never
        appears. Cancelling a cancelled job changes nothing; a finished one is InvalidState."""
        job_id = require_object_id(job_id, "job id")
        async with self._db.unit_of_work() as uow:
            job = await uow.jobs.get(job_id, for_update=True)
            if job is None:
                raise NotFound(f"job {job_id} not found")
            if not check_cancellable(job):
                return job
            job = replace(job, status="cancelled", finished_at=datetime.now(UTC))
            await uow.jobs.update(job)
            await uow.rebalances.discard(job.rebalance_id)
            await uow.commit()
        log.info("job cancelled", job_id=job_id, done=job.done, total=job.total)
        return job

    async def fail(self, job_id: str, error: str) -> None:
        """Marks an unfinished job failed and deletes what its chunks stored."""
        async with self._db.unit_of_work() as uow:
            job = await uow.jobs.get(job_id, for_update=True)
            if job is None or job.finished:
                return
            await uow.jobs.update(
                replace(job, status="failed", error=error, finished_at=datetime.now(UTC))
            )
            await uow.rebalances.discard(job.rebalance_id)
            await uow.commit()
        log.error("job failed", job_id=job_id, error=error)

    async def unfinished(
        self, created_before: datetime | None = None
    ) -> list[tuple[str, list[int]]]:
        """Queued or running jobs (created before ``created_before``) and their chunks not yet
        stored, oldest first: to resume them after a restart, or to find chunks never queued."""
        async with self._db.unit_of_work(write=False) as uow:
            return [
                (job_id, await uow.jobs.chunks_to_store(job_id))
                for job_id in await uow.jobs.unfinished(created_before)
            ]

    async def run_chunk(self, job_id: str, number: int) -> None:
        """Computes and stores one chunk; the last one publishes the run. Raises what the
        computation raises (ServiceUnavailable: the queue tries the chunk again later)."""
        async with self._db.unit_of_work() as uow:
            job = await uow.jobs.get(job_id, for_update=True)
            found = None if job is None else await uow.jobs.chunk(job_id, number)
            if job is None or job.finished or found is None or found[1]:
                return  # cancelled, failed, or this chunk was stored by an earlier attempt
            if job.started_at is None:
                await uow.jobs.update(replace(job, status="running", started_at=datetime.now(UTC)))
            inputs = await uow.jobs.inputs(job_id)
            await uow.commit()
        chunk = found[0]
        model, snapshot, layers = decode_inputs(inputs)
        names = (
            None
            if chunk.portfolio_names is None
            else dict(zip(chunk.portfolio_ids, chunk.portfolio_names, strict=True))
        )
        outcomes = await self._rebalancer.outcomes(
            model, chunk.portfolio_ids, snapshot, _today(), names, layers
        )
        await self._store_chunk(job_id, chunk, outcomes, model, snapshot)

    async def _store_chunk(
        self,
        job_id: str,
        chunk: Chunk,
        portfolios: Sequence[PortfolioRebalance],
        model: InvestmentModel,
        snapshot: PriceSnapshot,
    ) -> None:
        async with self._db.unit_of_work() as uow:
            job = await uow.jobs.get(job_id, for_update=True)
            if job is None or job.finished or not await uow.jobs.mark_stored(job_id, chunk.number):
                log.info("chunk dropped", job_id=job_id, chunk=chunk.number)
                return
            await uow.rebalances.add_portfolios(job.rebalance_id, portfolios, first=chunk.first)
            # The run's price snapshot grows with each chunk (chunks are stored one at a time,
            # under the job's lock): the securities this chunk holds or trades, not yet in it.
            priced = await uow.rebalances.priced_securities(job.rebalance_id)
            await uow.rebalances.add_prices(
                job.rebalance_id,
                [p for p in snapshot.used_by(portfolios) if p.security_id not in priced],
            )
            job = replace(
                job,
                status="running",
                done=job.done + len(portfolios),
                counts=job.counts + JobCounts.of(p.status for p in portfolios),
            )
            if job.done == job.total:
                now = datetime.now(UTC)
                await uow.rebalances.publish(job.rebalance_id, now)
                if not await uow.models.mark_rebalanced(model.model_id, now, version=model.version):
                    log.info("model changed during the job; not marked", model_id=model.model_id)
                job = replace(job, status="succeeded", finished_at=now)
            await uow.jobs.update(job)
            await uow.commit()
        log.info("chunk stored", job_id=job_id, chunk=chunk.number, done=job.done, total=job.total)


def encode_inputs(
    model: InvestmentModel, snapshot: PriceSnapshot, layers: RunOptions | None = None
) -> str:
    """What a job computes against, as JSON text (decimals as strings: exact)."""
    return json.dumps(
        {
            "options": None if layers is None else layers.document(),
            "model": {
                "model_id": model.model_id,
                "name": model.name,
                "version": model.version,
                "positions": [
                    [p.security_id, str(p.target), str(p.high_drift), str(p.low_drift)]
                    for p in model.positions
                ],
            },
            "prices": [
                [s.security_id, s.ticker, str(s.price)] for s in snapshot.by_security.values()
            ],
        },
        separators=(",", ":"),
    )


def decode_inputs(text: str) -> tuple[InvestmentModel, PriceSnapshot, RunOptions]:
    """``encode_inputs`` read back; a job queued before options existed has none."""
    data = json.loads(text)
    stored = data["model"]
    model = InvestmentModel(
        model_id=stored["model_id"],
        name=stored["name"],
        positions=tuple(
            Position(security_id, Decimal(target), Decimal(high), Decimal(low))
            for security_id, target, high, low in stored["positions"]
        ),
        portfolios=(),
        version=stored["version"],
    )
    tickers = {security_id: ticker for security_id, ticker, _ in data["prices"]}
    closes = {ticker: Decimal(price) for _, ticker, price in data["prices"]}
    options = data.get("options")
    layers = RunOptions() if options is None else RunOptions.of_document(options)
    return model, PriceSnapshot.of(tickers, closes), layers


def _today() -> date:
    return datetime.now(UTC).date()
