"""Big-run benchmark (issue 11): model runs against the floor of fetching their inputs, jobs at
growing sizes, 1 vs 2 worker processes, and summary reads.

Starts the sandbox (``ogs sandbox serve``) on generated data and the API (``ogs serve``) as
separate processes; on PostgreSQL the API takes no chunks (``--no-workers``) and chunks go to
``ogs worker`` processes, so the worker count is what is measured. Every time is set against a
baseline measured in the same run:

- **floor**: fetching the same portfolios' holdings summaries straight from the sandbox, at the
  best client concurrency of 8/16/32/64 (the inputs a run cannot do without);
- **no-work request**: ``GET /health/live``, for reads.

    uv run python bench/jobs.py                                  # SQLite, 1,000 × 100
    uv run python bench/jobs.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test
    uv run python bench/jobs.py --database-url ... --sizes 1000,10000 --workers 1,2
    uv run python bench/jobs.py --quick                          # 200 × 50, a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from order_generation.sandbox import generate_data, write_data
from service import (  # bench/service.py
    api_environment,
    free_port,
    model_body,
    print_machine,
    process,
)

V1 = "/api/v1"


@contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    """A throw-away database next to the one ``url`` names (so runs never meet old data)."""
    import asyncpg
    from sqlalchemy import make_url

    admin = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"ogs_bench_{os.getpid()}_{int(time.time())}"

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every local PostgreSQL process (0 when the server is elsewhere): what a run
    costs the database, which shares the machine."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended
            continue
        if "(postgres)" in text:
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (Linux ``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def streamed_read(http: httpx.Client, run_id: str, api_pid: int) -> tuple[float, int, float, float]:
    """``GET /rebalance/{id}`` of a whole run, read as it streams: seconds, bytes, and the API
    process's resident memory before the read and at its highest during it (sampled)."""
    before = rss_mb(api_pid)
    highest = before
    received = 0
    started = time.perf_counter()
    with http.stream("GET", f"{V1}/rebalance/{run_id}") as reply:
        reply.raise_for_status()
        for piece in reply.iter_bytes():
            received += len(piece)
            highest = max(highest, rss_mb(api_pid))
    return time.perf_counter() - started, received, before, highest


@contextmanager
def workers(count: int, env: dict[str, str], logdir: Path) -> Iterator[list[int]]:
    """``count`` ``ogs worker`` processes; yields their pids once each has started."""
    procs = []
    try:
        for n in range(count):
            log = logdir / f"worker-{n}.log"
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "order_generation.cli", "worker"],
                        env={**os.environ, **env, "OGS_LOG_LEVEL": "INFO"},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        for n, proc in enumerate(procs):
            deadline = time.monotonic() + 60
            while "job worker started" not in (logdir / f"worker-{n}.log").read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((logdir / f"worker-{n}.log").read_text()[-2000:])
                time.sleep(0.1)
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)


async def fetch_floor(
    sandbox_url: str, portfolio_ids: list[str], concurrencies: tuple[int, ...] = (8, 16, 32, 64)
) -> tuple[float, int]:
    """Seconds to fetch every portfolio's summary at the best of ``concurrencies``, and which."""
    best: tuple[float, int] | None = None
    for concurrency in concurrencies:
        gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=sandbox_url, timeout=120, limits=limits) as http:

            async def one(
                portfolio_id: str,
                http: httpx.AsyncClient = http,
                gate: asyncio.Semaphore = gate,
            ) -> None:
                async with gate:
                    reply = await http.get(f"{V1}/portfolios/{portfolio_id}/summary")
                    reply.raise_for_status()
                    reply.json()  # a run must read the answer too

            started = time.perf_counter()
            await asyncio.gather(*(one(p) for p in portfolio_ids))
            seconds = time.perf_counter() - started
        if best is None or seconds < best[0]:
            best = (seconds, concurrency)
    assert best is not None
    return best


async def concurrent_singles(api_url: str, portfolio_ids: list[str]) -> tuple[float, int]:
    """Wall seconds for one single-portfolio rebalance per id, all sent at once, and how many
    were answered (200, or 422 for an infeasible portfolio)."""
    limits = httpx.Limits(max_connections=len(portfolio_ids))
    async with httpx.AsyncClient(base_url=api_url, timeout=600, limits=limits) as http:
        started = time.perf_counter()
        replies = await asyncio.gather(
            *(http.post(f"{V1}/portfolio/{p}/rebalance") for p in portfolio_ids)
        )
        seconds = time.perf_counter() - started
    return seconds, sum(r.status_code in (200, 422) for r in replies)


def create_model(http: httpx.Client, data: Any, positions: int, ids: list[str]) -> str:
    """A model of these portfolios: a request lists at most 10,000, so bigger models are
    created with the first 10,000 and given the rest 10,000 at a time."""
    batch = 10_000
    model = http.post(f"{V1}/models", json=model_body(data, positions, ids[:batch]))
    model.raise_for_status()
    model_id: str = model.json()["model_id"]
    for start in range(batch, len(ids), batch):
        http.post(
            f"{V1}/model/{model_id}/portfolio", json={"portfolios": ids[start : start + batch]}
        ).raise_for_status()
    return model_id


def run_job(http: httpx.Client, model_id: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    reply = http.post(f"{V1}/model/{model_id}/rebalance", params={"mode": "async"})
    reply.raise_for_status()
    job_url = reply.headers["location"]
    while True:
        job: dict[str, Any] = http.get(job_url).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.25)  # a progress bar's pace: polling must not load the API
    seconds = time.perf_counter() - started
    if job["status"] != "succeeded":
        raise SystemExit(f"job ended {job['status']}: {job.get('error')}")
    return seconds, job


class Emitted(list[str]):
    """Table rows, printed as they are measured (a long run shows its figures as it goes)."""

    def append(self, row: str) -> None:
        print(row, flush=True)
        super().append(row)


def median_time(call: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000", help="portfolios per job, comma-separated")
    parser.add_argument("--positions", type=int, default=100)
    parser.add_argument("--workers", default="1,2", help="PostgreSQL: worker processes to compare")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="200 portfolios × 50 positions")
    parser.add_argument(
        "--all-worker-counts-up-to",
        type=int,
        default=None,
        help="above this size, run only the largest worker count (saves an hour at 100,000)",
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.positions = "200", 50
    sizes = [int(s) for s in args.sizes.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="ogs-bench-jobs-"))
    try:
        if args.database_url and args.database_url.startswith("postgresql"):
            with fresh_postgres(args.database_url) as url:
                args.database_url = url
                return run(args, sizes, worker_counts, workdir)
        return run(args, sizes, worker_counts, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, sizes: list[int], worker_counts: list[int], workdir: Path) -> int:
    largest = sum(sizes)  # each size gets portfolios of its own (one model per portfolio)
    started = time.perf_counter()
    data = generate_data(largest, args.positions, args.seed)
    write_data(data, workdir / "data.json")
    generated = time.perf_counter() - started
    postgres = bool(args.database_url and args.database_url.startswith("postgresql"))
    database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    sandbox_port, api_port = free_port(), free_port()
    sandbox_url, api_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{api_port}"
    env = api_environment(database_url, api_port, sandbox_url)
    print_machine("Big-run benchmark")
    print(
        f"data: {largest} portfolios × {args.positions} holdings, seed {args.seed} "
        f"(generated in {generated:.1f} s)"
    )
    print(f"database: {database_url.split('@')[-1]} (created for this run)")
    chunk = os.environ.get("OGS_JOB_CHUNK_PORTFOLIOS", "200")
    print(
        f"jobs: chunks of {chunk} portfolios; "
        + (
            "chunks taken by `ogs worker` processes (API: --no-workers)"
            if postgres
            else "chunks run in the API process (SQLite)"
        )
    )
    serve_args = ["serve", "--no-workers"] if postgres else ["serve"]
    with ExitStack() as stack:
        sandbox = stack.enter_context(
            process(
                [
                    "sandbox",
                    "serve",
                    "--data",
                    str(workdir / "data.json"),
                    "--port",
                    str(sandbox_port),
                ],
                {},
                f"{sandbox_url}/health",
            )
        )
        api = stack.enter_context(process(serve_args, env, f"{api_url}/health/ready"))
        http = stack.enter_context(httpx.Client(base_url=api_url, timeout=3600))

        print()
        print("what | time | ratio to its baseline")
        print("---|---|---")
        rows = Emitted()
        size_rows: list[tuple[int, int, float, float]] = []
        best_concurrency = 8
        taken = 0  # portfolios used by the sizes so far
        for size in sizes:
            ids = [p.portfolio_id for p in data.portfolios[taken : taken + size]]
            taken += size
            model_id = create_model(http, data, args.positions, ids)
            # The best concurrency is searched at the first size and kept for the larger ones.
            tried = (best_concurrency,) if size_rows else (8, 16, 32, 64)
            floor, best_concurrency = asyncio.run(fetch_floor(sandbox_url, ids, tried))
            concurrency = best_concurrency
            rows.append(
                f"floor ({size} summaries fetched, concurrency {concurrency})"
                f" | {floor:8.2f} s | 1.00"
            )
            if size <= 1_000:  # the synchronous run holds the whole run: small sizes only
                sync = median_time(
                    lambda m=model_id: http.post(f"{V1}/model/{m}/rebalance").raise_for_status(),
                    1,
                )
                rows.append(
                    f"synchronous model run, {size} portfolios, stored"
                    f" | {sync:8.2f} s | {sync / floor:.2f}"
                )
            counts = worker_counts if postgres else [0]
            if args.all_worker_counts_up_to is not None and size > args.all_worker_counts_up_to:
                counts = counts[-1:]
            for count in counts:
                with ExitStack() as pool:
                    pids = pool.enter_context(workers(count, env, workdir)) if count else []
                    before = {p: cpu_seconds(p) for p in (*pids, api.pid, sandbox.pid)}
                    database_before = postgres_cpu_seconds()
                    seconds, job = run_job(http, model_id)
                    used = {p: cpu_seconds(p) - t for p, t in before.items()}
                    database_used = postgres_cpu_seconds() - database_before
                    rss = [peak_rss_mb(pid) for pid in pids]
                cpu = f"CPU s: sandbox {used[sandbox.pid]:.1f}, API {used[api.pid]:.1f}" + "".join(
                    f", worker {used[p]:.1f}" for p in pids
                )
                if postgres:
                    cpu += f", PostgreSQL {database_used:.1f}"
                label = f"job, {size} portfolios"
                if count:
                    label += f", {count} worker process(es)"
                rows.append(
                    f"{label} | {seconds:8.2f} s | {seconds / floor:.2f} | {cpu}"
                    + (
                        f"; peak RSS per worker {', '.join(f'{r:.0f}' for r in rss)} MB"
                        if rss
                        else ""
                    )
                )
                size_rows.append((size, count, seconds, seconds / size * 1000))
            run_id = job["rebalance_id"]
            live = median_time(lambda: http.get("/health/live").raise_for_status(), 20)
            summary = median_time(
                lambda r=run_id: http.get(
                    f"{V1}/rebalance/{r}", params={"include": "summary"}
                ).raise_for_status(),
                5,
            )
            rows.append(
                f"read include=summary, {size} portfolios | {summary * 1000:8.1f} ms"
                f" | {summary / live:.1f} × a no-work request ({live * 1000:.1f} ms)"
            )
        rows.append(f"peak RSS of the API process | {peak_rss_mb(api.pid):.0f} MB |")
        # The largest run read whole, as it streams: the API's memory must stay flat.
        seconds, received, rss_before, highest = streamed_read(http, run_id, api.pid)
        rows.append(
            f"streamed whole-run read, {sizes[-1]} portfolios ({received / 1e6:.0f} MB)"
            f" | {seconds:8.2f} s | API RSS {rss_before:.0f} MB before, {highest:.0f} MB at most"
            " during the read"
        )

        # 100 concurrent single-portfolio rebalances: `ogs serve --workers 2` against 1 worker.
        singles = [p.portfolio_id for p in data.portfolios[: min(100, largest)]]
        walls = {}
        for count in (1, 2):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            serve_env = {**env, "OGS_PORT": str(port)}
            with process([*serve_args, "--workers", str(count)], serve_env, f"{url}/health/ready"):
                asyncio.run(concurrent_singles(url, singles[:10]))  # warm every process
                walls[count], answered = asyncio.run(concurrent_singles(url, singles))
            rows.append(
                f"{len(singles)} concurrent single rebalances, --workers {count}"
                f" | {walls[count]:8.2f} s | {walls[1] / walls[count]:.2f}× one worker's"
                f" throughput ({answered} answered)"
            )
        if len(size_rows) > 1:
            print()
            print("portfolios | worker processes | job time | ms per portfolio")
            for size, count, seconds, per in size_rows:
                print(f"{size} | {count or 'API'} | {seconds:.2f} s | {per:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
