"""Prometheus metrics (SPEC §10), correct under several worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``ogs serve --workers N`` sets it before the workers
start), every process writes its samples to files there and ``/metrics`` merges them; gauges say
how (summed over live processes, or their maximum). Without it, the process's own registry.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["method", "path", "status"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "path"],
    buckets=_SECONDS,
)
HTTP_IN_FLIGHT = Gauge(
    "http_requests_in_flight", "HTTP requests being answered", multiprocess_mode="livesum"
)
REBALANCED_PORTFOLIOS = Counter(
    "ogs_rebalance_portfolios", "Portfolios rebalanced, by outcome", ["status"]
)
REBALANCE_DURATION = Histogram(
    "ogs_rebalance_duration_seconds",
    "Time to rebalance and store: one portfolio or a whole model",
    ["kind"],
    buckets=_SECONDS,
)
SOLVE_DURATION = Histogram(
    "ogs_optimizer_solve_seconds",
    "Time to solve one portfolio, by how the answer was decided",
    ["method"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)
GLOBECO_REQUESTS = Counter(
    "ogs_globeco_requests", "Calls to GlobeCo services, by outcome", ["service", "outcome"]
)
GLOBECO_DURATION = Histogram(
    "ogs_globeco_request_duration_seconds",
    "Time of one call to a GlobeCo service",
    ["service"],
    buckets=_SECONDS,
)
CIRCUIT_STATE = Gauge(
    "ogs_circuit_state",
    "Circuit of each GlobeCo service: 0 closed, 1 half-open, 2 open (worst over processes)",
    ["service"],
    multiprocess_mode="livemax",
)
DB_POOL_IN_USE = Gauge(
    "ogs_db_pool_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
DB_POOL_OPEN = Gauge(
    "ogs_db_pool_connections_open", "Database connections open", multiprocess_mode="livesum"
)
OVERLOADED = Counter("ogs_overloaded_requests", "Rebalance requests refused with 503 OVERLOADED")

CIRCUIT_CODES = {"closed": 0, "half_open": 1, "open": 2}


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> tuple[bytes, str]:
    """The metrics page: this process's registry, or every process's when several serve."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def forget_dead_processes() -> None:
    """Drops the live gauges of worker processes that are gone (a worker restarted by the
    supervisor leaves its files behind; its in-flight count must not stay in the sum)."""
    directory = multiprocess_dir()
    if directory is None:
        return
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
