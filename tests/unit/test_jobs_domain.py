"""Job rules in the domain (SPEC §9): chunking, counts, which jobs can be cancelled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import InvalidState
from order_generation.domain.jobs import (
    FINISHED,
    JOB_STATUSES,
    Chunk,
    Job,
    JobCounts,
    JobStatus,
    check_cancellable,
    chunks_of,
)

IDS = [f"{n:024x}" for n in range(10)]


def job(status: JobStatus) -> Job:
    return Job(
        job_id="a" * 24,
        kind="model_rebalance",
        model_id="b" * 24,
        status=status,
        total=3,
        done=0,
        counts=JobCounts(),
        rebalance_id="c" * 24,
        error=None,
        created_at=datetime(2026, 12, 7, tzinfo=UTC),
        started_at=None,
        finished_at=None,
    )


@pytest.mark.parametrize(
    ("portfolios", "size", "expected"),
    [
        (1, 3, [(0, 0, 1)]),
        (3, 3, [(0, 0, 3)]),
        (4, 3, [(0, 0, 3), (1, 3, 1)]),
        (7, 3, [(0, 0, 3), (1, 3, 3), (2, 6, 1)]),
        (2, 1, [(0, 0, 1), (1, 1, 1)]),
        (0, 3, []),
    ],
)
def test_chunks_cover_every_portfolio_once_in_order(
    portfolios: int, size: int, expected: list[tuple[int, int, int]]
) -> None:
    chunks = chunks_of(IDS[:portfolios], size)
    assert [(c.number, c.first, len(c.portfolio_ids)) for c in chunks] == expected
    assert [p for c in chunks for p in c.portfolio_ids] == IDS[:portfolios]
    listed = IDS[:portfolios]
    assert all(c.portfolio_ids == tuple(listed[c.first : c.first + size]) for c in chunks)


@given(st.integers(0, 500), st.integers(1, 600))
def test_chunks_partition_any_list(count: int, size: int) -> None:
    ids = [str(n) for n in range(count)]
    chunks = chunks_of(ids, size)
    assert [p for c in chunks for p in c.portfolio_ids] == ids
    assert all(1 <= len(c.portfolio_ids) <= size for c in chunks)
    assert [c.number for c in chunks] == list(range(len(chunks)))
    assert all(c.first == c.number * size for c in chunks)


def test_chunks_carry_the_names_known_when_the_job_started() -> None:
    names = {IDS[0]: "Growth", IDS[2]: "Income", "f" * 24: "not in the job"}
    chunks = chunks_of(IDS[:3], 2, names)
    assert [c.portfolio_names for c in chunks] == [("Growth", None), ("Income",)]
    assert [c.portfolio_names for c in chunks_of(IDS[:3], 2)] == [None, None]
    assert [c.portfolio_names for c in chunks_of(IDS[:3], 2, {})] == [(None, None), (None,)]


def test_a_chunk_holds_at_least_one_portfolio() -> None:
    with pytest.raises(ValueError, match=r"^a chunk holds at least one portfolio$"):
        chunks_of(IDS, 0)


def test_counts_count_each_status_and_add_up() -> None:
    first = JobCounts.of(["rebalanced", "infeasible", "rebalanced", "failed"])
    assert first == JobCounts(rebalanced=2, infeasible=1, in_band=0, failed=1)
    second = JobCounts.of(["in_band", "failed", "rebalanced", "infeasible"])
    assert first + second == JobCounts(rebalanced=3, infeasible=2, in_band=1, failed=2)
    assert (first + second).total == 8
    assert JobCounts().total == 0
    with pytest.raises(ValueError, match="unknown portfolio status"):
        JobCounts.of(["rebalanced", "lost"])


def test_only_queued_and_running_jobs_are_cancelled() -> None:
    assert check_cancellable(job("queued")) is True
    assert check_cancellable(job("running")) is True
    assert check_cancellable(job("cancelled")) is False  # again: nothing changes
    for status in ("succeeded", "failed"):
        with pytest.raises(InvalidState) as refused:
            check_cancellable(job(status))
        assert str(refused.value) == (
            f"job {'a' * 24} has already {status}; only queued or running jobs can be cancelled"
        )
        assert refused.value.code is ErrorCode.JOB_FINISHED


def test_finished_statuses() -> None:
    assert set(JOB_STATUSES) == {"queued", "running", "succeeded", "failed", "cancelled"}
    assert {s for s in JOB_STATUSES if job(s).finished} == FINISHED
    assert {"succeeded", "failed", "cancelled"} == FINISHED
    assert Chunk(0, 0, ("x",)).portfolio_ids == ("x",)
