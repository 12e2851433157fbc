"""Rebalance jobs (SPEC §9) end to end, on SQLite (chunks in the API process) and PostgreSQL
(chunks through procrastinate, taken by the API process's own worker), against the sandbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from order_generation.adapters.db.database import Database
from order_generation.api.app import create_app
from tests.fixtures.sandbox import Sandbox
from tests.support import V1, create_model, generated, spread_model, stored_runs

Json = dict[str, Any]
FINISHED = {"succeeded", "failed", "cancelled"}


@asynccontextmanager
async def job_api(
    database_url: str, sandbox: Sandbox, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    options: dict[str, Any] = {"job_chunk_portfolios": 3, "job_stalled_seconds": 2, **overrides}
    settings = sandbox.settings(database_url=database_url, log_format="console", **options)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ogs.test") as client:
            yield client


async def wait_for(
    api: httpx.AsyncClient, job_id: str, done: Callable[[Json], bool], seconds: float = 60
) -> Json:
    deadline = time.monotonic() + seconds
    while True:
        response = await api.get(f"{V1}/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: Json = response.json()
        if done(job):
            return job
        assert time.monotonic() < deadline, f"job did not get there in {seconds} s: {job}"
        await asyncio.sleep(0.05)


async def succeeded_run(api: httpx.AsyncClient, job_id: str) -> Json:
    """Waits for the job to finish, requires it succeeded, and reads its run whole."""
    finished = await wait_for(api, job_id, lambda j: j["status"] in FINISHED)
    assert finished["status"] == "succeeded", finished
    run: Json = (await api.get(f"{V1}/rebalance/{finished['rebalance_id']}")).json()
    return run


async def start_job(api: httpx.AsyncClient, model_id: str) -> Json:
    response = await api.post(f"{V1}/model/{model_id}/rebalance", params={"mode": "async"})
    assert response.status_code == 202, response.text
    job: Json = response.json()
    assert response.headers["location"] == f"{V1}/jobs/{job['job_id']}"
    return job


def trades_by_portfolio(results: list[Json]) -> dict[str, list[Json]]:
    return {r["portfolio_id"]: r["positions"] for r in results}


@pytest.mark.parametrize("portfolios", [1, 3, 4, 8])
async def test_a_job_stores_the_same_run_as_a_synchronous_rebalance(
    database_url: str, sandbox: Sandbox, portfolios: int
) -> None:
    """Chunks of 3: one portfolio, exactly one chunk, one more than a chunk, several chunks."""
    ids = [p.portfolio_id for p in generated(sandbox)][:portfolios]
    async with job_api(database_url, sandbox) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        job = await start_job(api, model["model_id"])
        assert job["status"] == "queued"
        assert job["total"] == portfolios
        assert job["rebalance_id"] is None

        finished = await wait_for(api, job["job_id"], lambda j: j["status"] in FINISHED)
        assert finished["status"] == "succeeded", finished
        assert finished["done"] == portfolios
        assert sum(finished["counts"].values()) == portfolios
        assert finished["started_at"] is not None
        assert finished["finished_at"] is not None
        run = (await api.get(f"{V1}/rebalance/{finished['rebalance_id']}")).json()
        assert run["number_of_portfolios"] == portfolios
        assert [p["portfolio_id"] for p in run["portfolios"]] == ids  # model order
        assert run["model_version"] == model["version"]
        assert (await api.get(f"{V1}/model/{model['model_id']}")).json()[
            "last_rebalance_date"
        ] is not None

        sync = await api.post(f"{V1}/model/{model['model_id']}/rebalance")
        assert sync.status_code == 200, sync.text
        runs = await stored_runs(api)
        (sync_run,) = [r for r in runs if r["rebalance_id"] != run["rebalance_id"]]
        same = trades_by_portfolio(run["portfolios"]) == trades_by_portfolio(sync_run["portfolios"])
        assert same, "the job's run differs from the synchronous run of the same model"
    # The price snapshot, which a job builds chunk by chunk: the same securities and prices.
    snapshots = await price_snapshots(database_url, run["rebalance_id"], sync_run["rebalance_id"])
    assert snapshots[run["rebalance_id"]] == snapshots[sync_run["rebalance_id"]]
    assert snapshots[run["rebalance_id"]]


async def price_snapshots(database_url: str, *run_ids: str) -> dict[str, list[tuple[Any, ...]]]:
    database = Database(database_url)
    try:
        async with database.unit_of_work(write=False) as uow:
            return {
                run_id: [
                    tuple(row)
                    for row in await uow.connection.execute(
                        text(
                            "SELECT security_id, ticker, price FROM rebalance_prices"
                            " WHERE rebalance_id = :run ORDER BY security_id"
                        ),
                        {"run": run_id},
                    )
                ]
                for run_id in run_ids
            }
    finally:
        await database.dispose()


async def test_a_running_job_shows_progress_and_its_run_appears_only_when_complete(
    database_url: str, sandbox: Sandbox
) -> None:
    ids = [p.portfolio_id for p in generated(sandbox)]
    async with job_api(database_url, sandbox, rebalance_concurrency=1) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        sandbox.fault("accounting", "slow", delay_ms=150)
        job = await start_job(api, model["model_id"])
        partway = await wait_for(api, job["job_id"], lambda j: 0 < j["done"] < j["total"])
        assert partway["status"] == "running"
        assert await stored_runs(api) == []  # nothing visible while incomplete
        sandbox.clear_faults()
        finished = await wait_for(api, job["job_id"], lambda j: j["status"] in FINISHED)
        assert finished["status"] == "succeeded"
        assert [r["rebalance_id"] for r in await stored_runs(api)] == [finished["rebalance_id"]]


async def test_a_cancelled_job_stores_nothing(database_url: str, sandbox: Sandbox) -> None:
    ids = [p.portfolio_id for p in generated(sandbox)]
    async with job_api(database_url, sandbox, rebalance_concurrency=1) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        sandbox.fault("accounting", "slow", delay_ms=150)
        job = await start_job(api, model["model_id"])
        await wait_for(api, job["job_id"], lambda j: j["done"] > 0)
        cancelled = await api.delete(f"{V1}/jobs/{job['job_id']}")
        assert cancelled.status_code == 202, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        sandbox.clear_faults()
        await asyncio.sleep(1.0)  # chunks in hand finish and are dropped
        after = (await api.get(f"{V1}/jobs/{job['job_id']}")).json()
        assert after["status"] == "cancelled"
        assert after["rebalance_id"] is None
        assert await stored_runs(api) == []
        assert (await api.get(f"{V1}/model/{model['model_id']}")).json()[
            "last_rebalance_date"
        ] is None
        again = await api.delete(f"{V1}/jobs/{job['job_id']}")
        assert again.status_code == 202
        assert again.json()["status"] == "cancelled"


async def test_a_finished_job_cannot_be_cancelled(database_url: str, sandbox: Sandbox) -> None:
    ids = [p.portfolio_id for p in generated(sandbox)][:2]
    async with job_api(database_url, sandbox) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        job = await start_job(api, model["model_id"])
        await wait_for(api, job["job_id"], lambda j: j["status"] == "succeeded")
        refused = await api.delete(f"{V1}/jobs/{job['job_id']}")
        assert refused.status_code == 422
        assert refused.json()["code"] == "JOB_FINISHED"
        assert len(await stored_runs(api)) == 1


async def test_a_job_whose_service_stays_down_fails_and_stores_nothing(
    database_url: str, sandbox: Sandbox
) -> None:
    ids = [p.portfolio_id for p in generated(sandbox)][:4]
    async with job_api(database_url, sandbox, job_chunk_attempts=1) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        sandbox.fault("accounting", "down")
        job = await start_job(api, model["model_id"])
        failed = await wait_for(api, job["job_id"], lambda j: j["status"] in FINISHED)
        assert failed["status"] == "failed"
        assert "accounting" in failed["error"].lower() or "unavailable" in failed["error"]
        assert failed["rebalance_id"] is None
        assert await stored_runs(api) == []


async def test_a_chunk_is_retried_after_a_short_outage(database_url: str, sandbox: Sandbox) -> None:
    ids = [p.portfolio_id for p in generated(sandbox)][:4]
    async with job_api(database_url, sandbox, job_chunk_attempts=3) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        # Every try of the first attempt fails (3 HTTP attempts each, 1 portfolio or more).
        sandbox.fault("accounting", "down", times=3)
        job = await start_job(api, model["model_id"])
        run = await succeeded_run(api, job["job_id"])
        assert [p["portfolio_id"] for p in run["portfolios"]] == ids


async def test_starting_a_job_checks_the_model_and_the_prices(
    database_url: str, sandbox: Sandbox
) -> None:
    async with job_api(database_url, sandbox) as api:
        empty = await create_model(api, spread_model(sandbox), [])
        refused = await api.post(
            f"{V1}/model/{empty['model_id']}/rebalance", params={"mode": "async"}
        )
        assert refused.status_code == 422
        assert refused.json()["code"] == "MODEL_HAS_NO_PORTFOLIOS"
        unknown = await api.post(f"{V1}/model/{'f' * 24}/rebalance", params={"mode": "async"})
        assert unknown.status_code == 404
        bad_mode = await api.post(
            f"{V1}/model/{empty['model_id']}/rebalance", params={"mode": "later"}
        )
        assert bad_mode.status_code == 400

        model = await create_model(api, spread_model(sandbox), [generated(sandbox)[0].portfolio_id])
        sandbox.fault("pricing", "down")
        unavailable = await api.post(
            f"{V1}/model/{model['model_id']}/rebalance", params={"mode": "async"}
        )
        assert unavailable.status_code == 503
        assert (await api.get(f"{V1}/jobs")).json() == []  # nothing was queued


async def test_jobs_are_listed_newest_first_and_filtered_by_status(
    database_url: str, sandbox: Sandbox
) -> None:
    ids = [p.portfolio_id for p in generated(sandbox)][:2]
    async with job_api(database_url, sandbox) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        first = await start_job(api, model["model_id"])
        await wait_for(api, first["job_id"], lambda j: j["status"] in FINISHED)
        second = await start_job(api, model["model_id"])
        await wait_for(api, second["job_id"], lambda j: j["status"] in FINISHED)
        listed = (await api.get(f"{V1}/jobs")).json()
        assert [j["job_id"] for j in listed] == [second["job_id"], first["job_id"]]
        succeeded = (await api.get(f"{V1}/jobs", params={"status": "succeeded"})).json()
        assert len(succeeded) == 2
        assert (await api.get(f"{V1}/jobs", params={"status": "failed"})).json() == []
        assert (await api.get(f"{V1}/jobs", params={"limit": 1})).json()[0]["job_id"] == (
            second["job_id"]
        )
        bad = await api.get(f"{V1}/jobs", params={"status": "finished"})
        assert bad.status_code == 400
        assert (await api.get(f"{V1}/jobs/{'a' * 24}")).status_code == 404
        assert (await api.get(f"{V1}/jobs/not-an-id")).status_code == 400


async def test_summary_and_paged_reads_of_a_run(database_url: str, sandbox: Sandbox) -> None:
    ids = [p.portfolio_id for p in generated(sandbox)]
    async with job_api(database_url, sandbox) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        job = await start_job(api, model["model_id"])
        done = await wait_for(api, job["job_id"], lambda j: j["status"] == "succeeded")
        url = f"{V1}/rebalance/{done['rebalance_id']}"
        whole = (await api.get(url)).json()
        summary = (await api.get(url, params={"include": "summary"})).json()
        assert [p["portfolio_id"] for p in summary["portfolios"]] == ids
        assert all("positions" not in p for p in summary["portfolios"])
        without = [{k: v for k, v in p.items() if k != "positions"} for p in whole["portfolios"]]
        assert summary["portfolios"] == without
        listed = (await api.get(f"{V1}/rebalances", params={"include": "summary"})).json()
        assert listed[0]["portfolios"] == without

        page = (await api.get(f"{url}/portfolios", params={"offset": 2, "limit": 3})).json()
        assert page == whole["portfolios"][2:5]
        rest = (await api.get(f"{url}/portfolios", params={"offset": 6})).json()
        assert rest == whole["portfolios"][6:]
        page_summary = await api.get(
            f"{url}/portfolios", params={"offset": 1, "limit": 1, "include": "summary"}
        )
        assert page_summary.json() == without[1:2]
        beyond = await api.get(f"{url}/portfolios", params={"offset": 9})
        assert beyond.status_code == 400
        assert beyond.json()["code"] == "INVALID_PAGING"
        bad_include = await api.get(url, params={"include": "everything"})
        assert bad_include.status_code == 400


async def test_a_job_cut_by_a_restart_is_finished_by_the_next_process(
    database_url: str, sandbox: Sandbox
) -> None:
    """SQLite: the API process runs the chunks; one that stops mid-job leaves the rest to the
    next start. PostgreSQL: the queue keeps the chunks for whichever worker comes next."""
    ids = [p.portfolio_id for p in generated(sandbox)]
    async with job_api(database_url, sandbox, rebalance_concurrency=1) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        sandbox.fault("accounting", "slow", delay_ms=100)
        job = await start_job(api, model["model_id"])
        await wait_for(api, job["job_id"], lambda j: j["done"] > 0)
    sandbox.clear_faults()
    async with job_api(database_url, sandbox) as api:
        run = await succeeded_run(api, job["job_id"])
        assert [p["portfolio_id"] for p in run["portfolios"]] == ids


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_chunks_never_queued_are_queued_by_a_worker(
    database_url: str, sandbox: Sandbox
) -> None:
    """The process that started a job died after committing it and before queueing its
    chunks (here: they are deleted from the queue). A worker finds them once the job is older
    than OGS_JOB_STALLED_SECONDS, queues them, and the run completes, each portfolio once."""
    ids = [p.portfolio_id for p in generated(sandbox)]
    async with job_api(database_url, sandbox, in_process_workers=False) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        job = await start_job(api, model["model_id"])
        database = Database(database_url)
        try:
            async with database.unit_of_work() as uow:
                queued = await uow.connection.execute(
                    text("DELETE FROM procrastinate_jobs WHERE args->>'job_id' = :job_id"),
                    {"job_id": job["job_id"]},
                )
                await uow.commit()
        finally:
            await database.dispose()
        assert queued.rowcount == 3  # 8 portfolios in chunks of 3
    async with job_api(database_url, sandbox) as api:  # this process's workers take chunks
        run = await succeeded_run(api, job["job_id"])
        assert [p["portfolio_id"] for p in run["portfolios"]] == ids


async def test_names_are_fetched_once_when_the_job_starts(
    database_url: str, sandbox: Sandbox
) -> None:
    """The Portfolio Service lists every portfolio in one answer: a job asks for it once, not
    once per chunk (no cache here to hide it), and its chunks name their portfolios with it."""
    ids = [p.portfolio_id for p in generated(sandbox)]
    names = {p.portfolio_id: p.name for p in sandbox.data.portfolios}
    async with job_api(database_url, sandbox, portfolio_names_cache_ttl_seconds=0) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        job = await start_job(api, model["model_id"])
        run = await succeeded_run(api, job["job_id"])
    assert [p["portfolio_name"] for p in run["portfolios"]] == [names[i] for i in ids]
    assert sandbox.requests()["GET /api/v1/portfolios"] == 1  # 8 portfolios, 3 chunks


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_names_missing_at_the_start_are_looked_up_by_the_chunks(
    database_url: str, sandbox: Sandbox
) -> None:
    """The Portfolio Service was down when the job started (an API without workers, so no
    chunk runs then): the chunks ask for the names themselves."""
    ids = [p.portfolio_id for p in generated(sandbox)]
    names = {p.portfolio_id: p.name for p in sandbox.data.portfolios}
    async with job_api(database_url, sandbox, in_process_workers=False) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        sandbox.fault("portfolio", "down")
        job = await start_job(api, model["model_id"])
    sandbox.clear_faults()
    async with job_api(database_url, sandbox) as api:
        run = await succeeded_run(api, job["job_id"])
    assert [p["portfolio_name"] for p in run["portfolios"]] == [names[i] for i in ids]
