"""The one retry rule of job chunks, and procrastinate's side of it (adapters/job_queue)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import procrastinate.jobs
import pytest

from order_generation.adapters.job_queue import (
    CHUNK_TASK,
    ProcrastinateQueue,
    _ChunkRetry,
    _RetryLater,
    retry_wait_seconds,
)


def test_the_wait_doubles_from_two_seconds_up_to_a_minute() -> None:
    assert [retry_wait_seconds(a) for a in range(7)] == [2, 4, 8, 16, 32, 60, 60]


def chunk_job(attempts: int) -> procrastinate.jobs.Job:
    return procrastinate.jobs.Job(
        id=1,
        queue="default",
        lock=None,
        queueing_lock=None,
        task_name=CHUNK_TASK,
        task_kwargs={"job_id": "a" * 24, "chunk": 0},
        attempts=attempts,
    )


@pytest.mark.parametrize(("attempts", "seconds"), [(0, 2), (2, 8), (9, 60)])
def test_procrastinate_waits_by_the_same_rule(attempts: int, seconds: int) -> None:
    before = datetime.now(UTC)
    decision = _ChunkRetry().get_retry_decision(
        exception=_RetryLater("a service was unavailable"), job=chunk_job(attempts)
    )
    after = datetime.now(UTC)
    assert decision is not None
    assert decision.retry_at is not None
    assert before + timedelta(seconds=seconds) <= decision.retry_at
    assert decision.retry_at <= after + timedelta(seconds=seconds)


def test_only_a_chunk_that_asks_for_it_is_retried() -> None:
    assert _ChunkRetry().get_retry_decision(exception=KeyError("bug"), job=chunk_job(0)) is None


def test_the_chunk_task_uses_the_rule() -> None:
    class NoWork:
        async def run_chunk(self, job_id: str, number: int) -> None: ...

        async def fail(self, job_id: str, error: str) -> None: ...

        async def unfinished(self, created_before: object = None) -> list[tuple[str, list[int]]]:
            return []

    queue = ProcrastinateQueue(
        NoWork(),
        "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        attempts=5,
        stalled_seconds=30,
        worker_concurrency=1,
    )
    assert isinstance(queue.app.tasks[CHUNK_TASK].retry_strategy, _ChunkRetry)
