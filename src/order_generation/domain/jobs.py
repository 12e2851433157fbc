"""Rebalance jobs (SPEC §9): a model run done in the background, chunk by chunk.

A job's portfolios are cut into chunks of consecutive portfolios (in model order). Each chunk is
computed and stored on its own, by whichever worker takes it; the run becomes visible only when
its last chunk is stored (whole or nothing). The job records how far it got and what came out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import InvalidState

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JOB_STATUSES: tuple[JobStatus, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED: frozenset[JobStatus] = frozenset({"succeeded", "failed", "cancelled"})
MODEL_REBALANCE = "model_rebalance"
# GET /jobs pages: 10 unless asked, at most 100, newest first.
DEFAULT_JOB_LIMIT = 10
MAX_JOB_LIMIT = 100


@dataclass(frozen=True, slots=True)
class JobCounts:
    """Portfolios done so far, by outcome; each portfolio counted once. ``in_band`` is for the
    in-band skip of SPEC §8 (portfolios left alone inside their bands)."""

    rebalanced: int = 0
    infeasible: int = 0
    in_band: int = 0
    failed: int = 0

    @classmethod
    def of(cls, statuses: Iterable[str]) -> JobCounts:
        counted = Counter(statuses)
        unknown = set(counted) - {"rebalanced", "infeasible", "in_band", "failed"}
        if unknown:
            raise ValueError(f"unknown portfolio status {sorted(unknown)}")
        return cls(
            counted["rebalanced"], counted["infeasible"], counted["in_band"], counted["failed"]
        )

    def __add__(self, other: JobCounts) -> JobCounts:
        return JobCounts(
            self.rebalanced + other.rebalanced,
            self.infeasible + other.infeasible,
            self.in_band + other.in_band,
            self.failed + other.failed,
        )

    @property
    def total(self) -> int:
        return self.rebalanced + self.infeasible + self.in_band + self.failed


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    kind: str
    model_id: str
    status: JobStatus
    total: int
    done: int
    counts: JobCounts
    # The run's id is reserved when the job starts and shown only once the run is published.
    rebalance_id: str
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True, slots=True)
class Chunk:
    """Portfolios ``first`` .. ``first + len(portfolio_ids) - 1`` of a job, in model order, and
    their names as the job found them when it started (None: not known then, look them up;
    an entry of None: the Portfolio Service did not know that portfolio)."""

    number: int
    first: int
    portfolio_ids: tuple[str, ...]
    portfolio_names: tuple[str | None, ...] | None = None


def chunks_of(
    portfolio_ids: Iterable[str], size: int, names: Mapping[str, str] | None = None
) -> list[Chunk]:
    """Consecutive chunks of at most ``size`` portfolios; every portfolio in exactly one, with
    its name from ``names`` when they are known."""
    if size < 1:
        raise ValueError("a chunk holds at least one portfolio")
    ids = tuple(portfolio_ids)
    chunks = []
    for number, first in enumerate(range(0, len(ids), size)):
        chunk_ids = ids[first : first + size]
        chunk_names = None if names is None else tuple(names.get(p) for p in chunk_ids)
        chunks.append(Chunk(number, first, chunk_ids, chunk_names))
    return chunks


def check_cancellable(job: Job) -> bool:
    """Whether cancelling changes anything: False for a job already cancelled (cancelling is
    idempotent); a job that succeeded or failed cannot be cancelled."""
    if job.status == "cancelled":
        return False
    if job.status in FINISHED:
        raise InvalidState(
            f"job {job.job_id} has already {job.status}; only queued or running jobs can be "
            "cancelled",
            code=ErrorCode.JOB_FINISHED,
        )
    return True
