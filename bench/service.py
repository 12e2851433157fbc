"""Service benchmark: model rebalances, concurrent single rebalances and reads, over real HTTP.

Starts the sandbox (``ogs sandbox serve``) and the API (``ogs serve``) as separate processes on a
generated data set, then measures, each against a baseline taken in the same run:

- a model rebalance of N portfolios (stored) vs the same portfolios rebalanced one request at a
  time (the per-portfolio cost without bulk fetching and concurrency);
- C concurrent single-portfolio rebalances vs the same C requests sent one after another;
- the read endpoints vs ``GET /health/live`` (the cost of an HTTP round trip with no work).

    uv run python bench/service.py                       # 1,000 portfolios × 100 positions
    uv run python bench/service.py --quick               # 100 × 50, for a smoke run
    uv run python bench/service.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from order_generation.sandbox import SERVICE_URL_VARIABLES, generate_data, write_data

V1 = "/api/v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def process(
    args: list[str], env: dict[str, str], ready_url: str
) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "order_generation.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{args[0]} exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{args} did not become ready")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def api_environment(database_url: str, api_port: int, sandbox_url: str) -> dict[str, str]:
    """The API's settings for a benchmark: its port, its database, every GlobeCo service at the
    sandbox, quiet logs."""
    return {
        "OGS_PORT": str(api_port),
        "OGS_DATABASE_URL": database_url,
        "OGS_LOG_LEVEL": "WARNING",
        **dict.fromkeys(SERVICE_URL_VARIABLES, sandbox_url),
    }


def print_machine(title: str) -> None:
    print(f"== {title}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )


def timed(call: Callable[[], httpx.Response], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def model_body(data: Any, positions: int, portfolios: list[str]) -> dict[str, Any]:
    """The load generators' shape: equal targets summing to at most 0.95, ±1 % bands."""
    ids = [s.security_id for s in data.securities][:positions]
    target = (Decimal("0.95") / len(ids)) // Decimal("0.005") * Decimal("0.005")
    return {
        "name": f"Bench {positions}",
        "positions": [
            {"security_id": s, "target": str(target), "low_drift": "0.01", "high_drift": "0.01"}
            for s in ids
        ],
        "portfolios": portfolios,
    }


async def concurrent_posts(base: str, urls: list[str]) -> tuple[float, list[float], list[int]]:
    async with httpx.AsyncClient(
        base_url=base, timeout=600, limits=httpx.Limits(max_connections=len(urls))
    ) as http:

        async def one(url: str) -> tuple[float, int]:
            started = time.perf_counter()
            response = await http.post(url)
            return time.perf_counter() - started, response.status_code

        started = time.perf_counter()
        done = await asyncio.gather(*(one(u) for u in urls))
        return time.perf_counter() - started, [d[0] for d in done], [d[1] for d in done]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--portfolios", type=int, default=1000)
    parser.add_argument(
        "--positions", type=int, default=100, help="holdings per portfolio and model size"
    )
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--baseline-sample", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="model rebalances to time")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="100 portfolios × 50 positions")
    args = parser.parse_args()
    if args.quick:
        args.portfolios, args.positions, args.concurrent, args.baseline_sample = 100, 50, 50, 20

    workdir = Path(tempfile.mkdtemp(prefix="ogs-bench-"))
    try:
        return run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> int:
    started = time.perf_counter()
    data = generate_data(args.portfolios, args.positions, args.seed)
    write_data(data, workdir / "data.json")
    generate_seconds = time.perf_counter() - started
    database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    sandbox_port, api_port = free_port(), free_port()
    sandbox_url, api_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{api_port}"
    env = api_environment(database_url, api_port, sandbox_url)
    print_machine("Service benchmark")
    print(
        f"data: {args.portfolios} portfolios × {args.positions} holdings, seed {args.seed} "
        f"(generated in {generate_seconds:.2f} s)"
    )
    print(f"database: {database_url.split('@')[-1] if '@' in database_url else database_url}")
    print("processes: sandbox and API each in their own process, on this machine; client here")
    with (
        process(
            ["sandbox", "serve", "--data", str(workdir / "data.json"), "--port", str(sandbox_port)],
            {},
            f"{sandbox_url}/health",
        ),
        process(["serve"], env, f"{api_url}/health/ready"),
        httpx.Client(base_url=api_url, timeout=600) as http,
    ):
        portfolio_ids = [p.portfolio_id for p in data.portfolios]
        model = http.post(f"{V1}/models", json=model_body(data, args.positions, portfolio_ids))
        model.raise_for_status()
        model_id = model.json()["model_id"]
        union = len(
            {h.security_id for p in data.portfolios for h in p.holdings}
            | {s.security_id for s in data.securities[: args.positions]}
        )
        print(
            f"model: {args.positions} positions; universe per portfolio "
            f"≤ {min(union, 2 * args.positions)} securities"
        )

        # 1. Model rebalance vs one request per portfolio.
        http.post(
            f"{V1}/model/{model_id}/rebalance"
        ).raise_for_status()  # warm-up (caches, JIT-free paths)
        run_times, sizes, statuses = [], [], {}
        for _ in range(args.runs):
            t0 = time.perf_counter()
            response = http.post(f"{V1}/model/{model_id}/rebalance")
            run_times.append(time.perf_counter() - t0)
            response.raise_for_status()
            sizes.append(len(response.content))
            for r in response.json():
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        sample = portfolio_ids[: args.baseline_sample]
        single = timed_each(http, [f"{V1}/portfolio/{p}/rebalance" for p in sample])
        model_rate = args.portfolios / statistics.median(run_times)
        single_rate = len(sample) / sum(single)
        print("\n-- Model rebalance (stored), vs one request per portfolio")
        print(
            f"model run, {args.portfolios} portfolios: "
            f"median {statistics.median(run_times):.2f} s, "
            f"min {min(run_times):.2f} s, max {max(run_times):.2f} s over {args.runs} runs; "
            f"response {statistics.median(sizes) / 1e6:.1f} MB; statuses {statuses}"
        )
        print(f"  = {model_rate:,.0f} portfolios/s")
        print(
            f"baseline, {len(sample)} single-portfolio requests in sequence: "
            f"{single_rate:,.0f} portfolios/s "
            f"(median {ms(statistics.median(single))} per request; 422s counted as answered)"
        )
        print(f"  ratio model run / single requests: {model_rate / single_rate:.1f}×")

        # 2. Concurrent single-portfolio rebalances.
        urls = [
            f"{V1}/portfolio/{portfolio_ids[i % len(portfolio_ids)]}/rebalance"
            for i in range(args.concurrent)
        ]
        wall, latencies, codes = asyncio.run(concurrent_posts(api_url, urls))
        sequential = timed_each(http, urls)
        ok = sum(c in (200, 422) for c in codes)
        print(f"\n-- {args.concurrent} concurrent single-portfolio rebalances")
        print(
            f"answered {ok}/{args.concurrent} "
            f"(status codes: { {c: codes.count(c) for c in set(codes)} }); "
            f"wall {wall:.2f} s; latency median {ms(statistics.median(latencies))}, "
            f"p95 {ms(p95(latencies))}"
        )
        print(
            f"baseline, the same requests in sequence: {sum(sequential):.2f} s; "
            f"ratio {sum(sequential) / wall:.1f}× faster concurrently"
        )

        # 3. Reads.
        runs = http.get(
            f"{V1}/rebalances", params={"sort_by": "-number_of_portfolios", "limit": 1}
        ).json()
        big_run = runs[0]["rebalance_id"]
        # (name, call, repetitions): whole-run reads of the big runs are seconds each.
        reads = [
            ("GET /health/live (baseline)", lambda: http.get("/health/live"), 30),
            ("GET /models", lambda: http.get(f"{V1}/models"), 30),
            ("GET /model/{id}", lambda: http.get(f"{V1}/model/{model_id}"), 30),
            ("GET /rebalances (10 newest: single runs)", lambda: http.get(f"{V1}/rebalances"), 30),
            (
                "GET /rebalance/{id}/portfolio/{pid}/positions",
                lambda: http.get(
                    f"{V1}/rebalance/{big_run}/portfolio/{portfolio_ids[0]}/positions"
                ),
                30,
            ),
            (
                f"GET /rebalance/{{id}}/portfolios ({args.portfolios} portfolios)",
                lambda: http.get(f"{V1}/rebalance/{big_run}/portfolios"),
                3,
            ),
            (
                f"GET /rebalance/{{id}} ({args.portfolios} portfolios)",
                lambda: http.get(f"{V1}/rebalance/{big_run}"),
                3,
            ),
        ]
        print("\n-- Reads (sequential; count in brackets), vs the no-work baseline")
        baseline = None
        for name, call, repeat in reads:
            times = timed(call, repeat)
            median = statistics.median(times)
            baseline = baseline or median
            print(
                f"{name:52s} [{repeat:2d}] median {ms(median)}  p95 {ms(p95(times))}"
                f"  ×{median / baseline:8.1f}"
            )
    return 0


def timed_each(http: httpx.Client, urls: list[str]) -> list[float]:
    times = []
    for url in urls:
        t0 = time.perf_counter()
        response = http.post(url)
        times.append(time.perf_counter() - t0)
        if response.status_code not in (200, 422):
            response.raise_for_status()
    return times


if __name__ == "__main__":
    sys.exit(main())
