"""Job workers as separate processes (``ogs worker``) on PostgreSQL: a worker killed with
SIGKILL in the middle of a chunk loses nothing and duplicates nothing — another worker takes the
chunk once the dead one's heartbeats stop, and every portfolio is in the run exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import make_url

from tests.e2e.test_jobs import FINISHED, job_api, start_job, wait_for
from tests.fixtures.process import log_tail
from tests.fixtures.sandbox import Sandbox
from tests.reliability.conftest import Figures
from tests.support import V1, create_model, generated, spread_model

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def worker_process(
    workdir: Path, name: str, database_url: str, sandbox: Sandbox
) -> Iterator[subprocess.Popen[bytes]]:
    log = workdir / f"{name}.log"
    environment = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": str(workdir / "pycache"),
        "OGS_DATABASE_URL": database_url,
        "OGS_MIGRATE_ON_START": "false",
        "OGS_LOG_FORMAT": "json",
        "OGS_JOB_STALLED_SECONDS": "2",
        "OGS_REBALANCE_CONCURRENCY": "1",
        "OGS_JOB_WORKER_CONCURRENCY": "1",
        "OGS_HTTP_TIMEOUT_SECONDS": "5",
        **{
            f"OGS_{field.upper()}": sandbox.url
            for field in (
                "portfolio_accounting_url",
                "security_url",
                "pricing_url",
                "portfolio_url",
                "order_url",
            )
        },
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "order_generation.cli", "worker"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "job worker started" not in log.read_text(errors="replace"):
            assert process.poll() is None, f"worker exited: {log_tail(log)}"
            assert time.monotonic() < deadline, f"worker did not start: {log_tail(log)}"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


async def chunk_in_hand(dsn: str) -> bool:
    """Whether some worker has taken a chunk and not finished it."""
    connection = await asyncpg.connect(dsn)
    try:
        doing = await connection.fetchval(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
        )
    finally:
        await connection.close()
    return bool(doing)


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_worker_killed_mid_chunk_loses_and_repeats_nothing(
    database_url: str, sandbox: Sandbox, tmp_path: Path, figures: Figures
) -> None:
    ids = [p.portfolio_id for p in generated(sandbox)]
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    async with job_api(database_url, sandbox, in_process_workers=False) as api:
        model = await create_model(api, spread_model(sandbox), ids)
        with worker_process(tmp_path, "first", database_url, sandbox) as first:
            # About a second per chunk of 3: time to kill the worker while it holds one.
            sandbox.fault("accounting", "slow", delay_ms=300)
            job = await start_job(api, model["model_id"])
            await wait_for(api, job["job_id"], lambda j: j["done"] >= 3, seconds=60)
            deadline = time.monotonic() + 30
            while not await chunk_in_hand(dsn):
                assert time.monotonic() < deadline, "the worker took no second chunk"
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        halfway: dict[str, Any] = (await api.get(f"{V1}/jobs/{job['job_id']}")).json()
        assert halfway["status"] == "running"
        assert halfway["done"] < len(ids)
        sandbox.clear_faults()
        with worker_process(tmp_path, "second", database_url, sandbox):
            finished = await wait_for(
                api, job["job_id"], lambda j: j["status"] in FINISHED, seconds=90
            )
        second_log = (tmp_path / "second.log").read_text(errors="replace")
    assert finished["status"] == "succeeded", finished
    assert finished["done"] == len(ids)
    assert sum(finished["counts"].values()) == len(ids)
    assert "chunk of a silent worker taken again" in second_log

    connection = await asyncpg.connect(dsn)
    try:
        stored = await connection.fetch(
            "SELECT portfolio_id, ordinal FROM rebalance_portfolios WHERE rebalance_id = $1 "
            "ORDER BY ordinal",
            finished["rebalance_id"],
        )
        chunks = await connection.fetchval(
            "SELECT count(*) FROM rebalance_job_chunks WHERE job_id = $1 AND stored",
            job["job_id"],
        )
    finally:
        await connection.close()
    assert [row["portfolio_id"] for row in stored] == ids  # each once, in model order
    assert [row["ordinal"] for row in stored] == list(range(len(ids)))
    assert chunks == 3  # 8 portfolios in chunks of 3
    figures.cases["job worker killed mid-chunk"] += 1
    figures.faults_survived += 1
