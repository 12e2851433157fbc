"""Rebalance jobs and their chunks (SPEC §9)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from order_generation.adapters.db.tables import rebalance_job_chunks, rebalance_jobs
from order_generation.domain.jobs import Chunk, Job, JobCounts, JobStatus
from order_generation.domain.paging import Page

_COUNT_FIELDS = ("rebalanced", "infeasible", "in_band", "failed")


class JobRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, job: Job, inputs: str, chunks: Sequence[Chunk]) -> None:
        await self._db.execute(
            insert(rebalance_jobs).values(
                job_id=job.job_id,
                kind=job.kind,
                model_id=job.model_id,
                status=job.status,
                total=job.total,
                done=job.done,
                **{f: getattr(job.counts, f) for f in _COUNT_FIELDS},
                rebalance_id=job.rebalance_id,
                error=job.error,
                inputs=inputs,
                created_at=job.created_at,
                started_at=job.started_at,
                finished_at=job.finished_at,
            )
        )
        if chunks:
            await self._db.execute(
                insert(rebalance_job_chunks),
                [
                    {
                        "job_id": job.job_id,
                        "chunk": c.number,
                        "first": c.first,
                        "portfolio_ids": json.dumps(c.portfolio_ids),
                        "portfolio_names": (
                            None if c.portfolio_names is None else json.dumps(c.portfolio_names)
                        ),
                    }
                    for c in chunks
                ],
            )

    async def get(self, job_id: str, *, for_update: bool = False) -> Job | None:
        """The job; ``for_update`` locks its row until the transaction ends (PostgreSQL), so
        chunks, cancels and failures of one job are applied one at a time."""
        query = select(rebalance_jobs).where(rebalance_jobs.c.job_id == job_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).first()
        return None if row is None else _job(row)

    async def count(self, status: JobStatus | None = None) -> int:
        query = select(func.count()).select_from(rebalance_jobs)
        if status is not None:
            query = query.where(rebalance_jobs.c.status == status)
        return int((await self._db.execute(query)).scalar_one())

    async def page(self, page: Page, status: JobStatus | None = None) -> list[Job]:
        """Newest first."""
        query = select(rebalance_jobs).order_by(rebalance_jobs.c.id.desc()).offset(page.offset)
        if page.limit is not None:
            query = query.limit(page.limit)
        if status is not None:
            query = query.where(rebalance_jobs.c.status == status)
        return [_job(row) for row in await self._db.execute(query)]

    async def inputs(self, job_id: str) -> str:
        query = select(rebalance_jobs.c.inputs).where(rebalance_jobs.c.job_id == job_id)
        return str((await self._db.execute(query)).scalar_one())

    async def chunk(self, job_id: str, number: int) -> tuple[Chunk, bool] | None:
        """The chunk and whether it is stored already."""
        row = (
            await self._db.execute(
                select(rebalance_job_chunks).where(
                    rebalance_job_chunks.c.job_id == job_id,
                    rebalance_job_chunks.c.chunk == number,
                )
            )
        ).first()
        if row is None:
            return None
        names = None if row.portfolio_names is None else tuple(json.loads(row.portfolio_names))
        return Chunk(row.chunk, row.first, tuple(json.loads(row.portfolio_ids)), names), row.stored

    async def chunks_to_store(self, job_id: str) -> list[int]:
        rows = await self._db.execute(
            select(rebalance_job_chunks.c.chunk)
            .where(
                rebalance_job_chunks.c.job_id == job_id,
                rebalance_job_chunks.c.stored.is_(False),
            )
            .order_by(rebalance_job_chunks.c.chunk)
        )
        return list(rows.scalars())

    async def unfinished(self, created_before: datetime | None = None) -> list[str]:
        """Jobs queued or running (and created before ``created_before``), oldest first."""
        query = select(rebalance_jobs.c.job_id).where(
            rebalance_jobs.c.status.in_(("queued", "running"))
        )
        if created_before is not None:
            query = query.where(rebalance_jobs.c.created_at < created_before)
        rows = await self._db.execute(query.order_by(rebalance_jobs.c.id))
        return list(rows.scalars())

    async def mark_stored(self, job_id: str, number: int) -> bool:
        """Marks the chunk stored; False when it already was (it must not be stored twice)."""
        result = await self._db.execute(
            update(rebalance_job_chunks)
            .where(
                rebalance_job_chunks.c.job_id == job_id,
                rebalance_job_chunks.c.chunk == number,
                rebalance_job_chunks.c.stored.is_(False),
            )
            .values(stored=True)
        )
        return bool(result.rowcount)

    async def update(self, job: Job) -> None:
        """Writes the job's status, progress and times (the rest never changes)."""
        await self._db.execute(
            update(rebalance_jobs)
            .where(rebalance_jobs.c.job_id == job.job_id)
            .values(
                status=job.status,
                done=job.done,
                **{f: getattr(job.counts, f) for f in _COUNT_FIELDS},
                error=job.error,
                started_at=job.started_at,
                finished_at=job.finished_at,
            )
        )


def _job(row: Any) -> Job:
    return Job(
        job_id=row.job_id,
        kind=row.kind,
        model_id=row.model_id,
        status=row.status,
        total=row.total,
        done=row.done,
        counts=JobCounts(*(getattr(row, f) for f in _COUNT_FIELDS)),
        rebalance_id=row.rebalance_id,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
