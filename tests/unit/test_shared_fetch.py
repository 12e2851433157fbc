"""SharedFetch: a bulk answer kept for a while and shared by concurrent callers."""

from __future__ import annotations

import asyncio
from itertools import count

from order_generation.adapters.globeco._cache import SharedFetch


async def test_an_entry_expiring_between_two_clock_reads_is_fetched_again() -> None:
    """Every clock read is 40 s later: an entry present when tested may be gone when read."""
    ticks = count(0, 40)
    fetched: list[int] = []

    async def fetch() -> int:
        fetched.append(len(fetched))
        return len(fetched)

    shared = SharedFetch(fetch, ttl_seconds=60, clock=lambda: float(next(ticks)))
    answers = [await shared.get() for _ in range(5)]
    assert answers == sorted(answers)
    assert answers[0] == 1
    assert len(fetched) >= 2  # it expired on the way, and was fetched again rather than failing


async def test_concurrent_callers_share_one_fetch_and_a_caller_giving_up_cancels_nothing() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return "answer"

    shared = SharedFetch(fetch, ttl_seconds=60)
    impatient = asyncio.create_task(shared.get())
    await started.wait()
    patient = asyncio.create_task(shared.get())
    impatient.cancel()
    release.set()
    assert await patient == "answer"
    assert calls == 1
    assert await shared.get() == "answer"
    assert calls == 1
