"""A job's memory is bounded by its chunk, not by its size (SPEC §9): the peak of Python
allocations while a job of 10 chunks runs stays close to that of a job of 1 chunk, where holding
the whole run would take about ten times as much. (The API process runs the chunks here: in
process on SQLite, through its own procrastinate worker on PostgreSQL.)"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from order_generation.sandbox import create_sandbox_app, generate_data, start_sandbox_in_thread
from tests.e2e.test_jobs import FINISHED, job_api, start_job, wait_for
from tests.fixtures.sandbox import Sandbox
from tests.reliability.conftest import Figures
from tests.support import V1, create_model, spread_model

pytestmark = pytest.mark.slow

CHUNK = 40
HOLDINGS = 60
DATA = generate_data(portfolios=10 * CHUNK, positions=HOLDINGS, seed=11)


@pytest.fixture(scope="module")
def big_sandbox() -> Iterator[Sandbox]:
    running = start_sandbox_in_thread(create_sandbox_app(DATA))
    try:
        with httpx.Client(base_url=running.url, trust_env=False, timeout=10) as client:
            yield Sandbox(running.url, DATA, client)
    finally:
        running.stop()


async def peak_of_job(database_url: str, sandbox: Sandbox, portfolios: int) -> int:
    """Peak traced bytes while a job of the first ``portfolios`` portfolios runs."""
    ids = [p.portfolio_id for p in DATA.portfolios[:portfolios]]
    # One chunk at a time on PostgreSQL too (its workers take OGS_JOB_WORKER_CONCURRENCY chunks
    # at once: memory is chunk × that concurrency).
    options = {"job_chunk_portfolios": CHUNK, "job_worker_concurrency": 1}
    async with job_api(database_url, sandbox, **options) as api:
        model = await create_model(api, spread_model(sandbox, count=20), ids, name=f"M{portfolios}")
        tracemalloc.start()
        try:
            job = await start_job(api, model["model_id"])
            done = await wait_for(api, job["job_id"], lambda j: j["status"] in FINISHED, 300)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert done["status"] == "succeeded", done
        run = await api.get(f"{V1}/rebalance/{done['rebalance_id']}", params={"include": "summary"})
        assert len(run.json()["portfolios"]) == portfolios
        # Free the model's portfolios for the next job (a portfolio has one model).
        detached = await api.request(
            "DELETE",
            f"{V1}/model/{model['model_id']}/portfolio",
            json={"portfolios": ids},
        )
        assert detached.status_code == 200, detached.text
    return peak


async def test_a_job_holds_one_chunk_at_a_time(
    database_url: str, big_sandbox: Sandbox, figures: Figures
) -> None:
    one_chunk = await peak_of_job(database_url, big_sandbox, CHUNK)
    ten_chunks = await peak_of_job(database_url, big_sandbox, 10 * CHUNK)
    print(
        f"\njob memory: peak {one_chunk / 1e6:.1f} MB for 1 chunk of {CHUNK} portfolios, "
        f"{ten_chunks / 1e6:.1f} MB for 10 chunks ({HOLDINGS} holdings each)"
    )
    assert ten_chunks < 1.5 * one_chunk, (one_chunk, ten_chunks)
    figures.cases["job memory"] += 1
