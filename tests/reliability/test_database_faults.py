"""The database failing under load: a connection cut, a frozen server (PostgreSQL, through a TCP
proxy of our own so the shared server is never touched) and a write lock held elsewhere
(SQLite).

While the database is gone every request answers in bounded time, either normally or 503
``DATABASE_UNAVAILABLE`` with ``Retry-After`` (never a 500, never a hang), each failure is one
error-level log line without a traceback, keep-alive connections stay open, the service recovers
by itself, and every write it acknowledged can be read back.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from order_generation.api.app import create_app
from order_generation.api.http_protocol import ErrorShapeHttpProtocol
from order_generation.sandbox import start_sandbox_in_thread
from tests.fixtures.sandbox import Sandbox
from tests.reliability.conftest import Figures
from tests.reliability.tcp_proxy import TcpProxy

# Slow (hypothesis, processes, faults under load): `./test.sh -m "not slow"` skips it.
pytestmark = pytest.mark.slow

V1 = "/api/v1"
TIMEOUT = 1.0  # OGS_DATABASE_TIMEOUT_SECONDS for these tests
# A pooled connection's check, then a fresh connection: each bounded by the timeout.
BOUND = 2 * TIMEOUT + 1.5
WORKERS = 4
SEC = [f"{i:024x}" for i in range(1, 20)]


@dataclass
class Outcome:
    phase: str
    kind: str
    status: int
    seconds: float
    code: str = ""
    retry_after: str | None = None
    connection: str | None = None  # the Connection header: "close" means the server hangs up


@dataclass
class Load:
    """A bounded read/write load on the service: WORKERS loops creating a model and reading one
    back, each request timed and recorded with the phase it was sent in."""

    client: httpx.AsyncClient
    phase: str = "before"
    outcomes: list[Outcome] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    stop: bool = False

    async def run(self) -> None:
        await asyncio.gather(*(self._worker(n) for n in range(WORKERS)))

    async def _worker(self, n: int) -> None:
        count = 0
        while not self.stop:
            count += 1
            body = {
                "name": f"w{n}-{count}",
                "positions": [
                    {"security_id": SEC[n], "target": "0.1", "high_drift": "0", "low_drift": "0"}
                ],
            }
            created = await self._send("write", "POST", f"{V1}/models", body)
            if created is not None:
                self.created.append(created)
            if self.created:
                target = self.created[count % len(self.created)]
                await self._send("read", "GET", f"{V1}/model/{target['model_id']}", None)
            await asyncio.sleep(0.02)

    async def _send(
        self, kind: str, method: str, url: str, body: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        phase = self.phase
        started = time.monotonic()
        response = await self.client.request(method, url, json=body)
        outcome = Outcome(phase, kind, response.status_code, time.monotonic() - started)
        if response.status_code >= 400:
            outcome.code = response.json()["code"]
            outcome.retry_after = response.headers.get("retry-after")
            outcome.connection = response.headers.get("connection")
        self.outcomes.append(outcome)
        if response.status_code == 201:
            created: dict[str, Any] = response.json()
            return created
        return None


class LogCounter(logging.Handler):
    """Counts the service's warnings and errors, and tracebacks among them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors = 0
        self.tracebacks = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.errors += 1
        if record.exc_info or "Traceback" in record.getMessage():
            self.tracebacks += 1
            if len(self.samples) < 3:
                self.samples.append(f"{record.name}: {record.getMessage()[:300]}")


@pytest.fixture
def log_counter() -> Iterator[LogCounter]:
    counter = LogCounter()
    root = logging.getLogger()
    root.addHandler(counter)
    try:
        yield counter
    finally:
        root.removeHandler(counter)


@dataclass
class LiveService:
    url: str
    proxy: TcpProxy | None


def serve(database_url: str, sandbox: Sandbox) -> Any:
    settings = sandbox.settings(
        database_url=database_url, log_format="console", database_timeout_seconds=TIMEOUT
    )
    return start_sandbox_in_thread(
        create_app(settings),
        lifespan="on",
        http=ErrorShapeHttpProtocol,
        server_header=False,
        log_config=None,
        startup_timeout=30,
    )


@pytest.fixture
def proxied_postgres(database_url: str, sandbox: Sandbox) -> Iterator[LiveService]:
    url = make_url(database_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host=proxy.host, port=proxy.port).render_as_string(False)
        with serve(proxied, sandbox) as running:
            yield LiveService(running.url, proxy)


@pytest.fixture
def sqlite_service(database_url: str, sandbox: Sandbox) -> Iterator[LiveService]:
    with serve(database_url, sandbox) as running:
        yield LiveService(running.url, None)


@pytest.fixture
async def keepalive_client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    # One connection per worker, reused for the whole test: a 503 must not close it.
    service: LiveService = request.getfixturevalue(request.param)
    limits = httpx.Limits(max_connections=WORKERS + 2, max_keepalive_connections=WORKERS + 2)
    async with httpx.AsyncClient(
        base_url=service.url, trust_env=False, timeout=30, limits=limits
    ) as client:
        yield client


def check_outage(load: Load, phase: str) -> list[Outcome]:
    during = [o for o in load.outcomes if o.phase == phase]
    assert during, f"no request was made while the database was {phase}"
    for outcome in during:
        assert outcome.status in (200, 201, 503), outcome
        if outcome.status == 503:
            assert outcome.code == "DATABASE_UNAVAILABLE", outcome
            assert outcome.retry_after is not None, outcome
            assert outcome.retry_after.isdigit(), outcome
            assert outcome.connection != "close", (
                f"{outcome}: the keep-alive connection was dropped"
            )
        assert outcome.seconds < BOUND, f"{outcome} took longer than {BOUND} s"
    return [o for o in during if o.status == 503]


async def check_recovery_and_writes(
    load: Load, client: httpx.AsyncClient, figures: Figures
) -> None:
    after = [o for o in load.outcomes if o.phase == "after"]
    assert any(o.status == 201 for o in after), "no write succeeded after the database came back"
    assert after[-1].status in (200, 201), after[-1]
    for created in load.created:
        read = await client.get(f"{V1}/model/{created['model_id']}")
        assert read.status_code == 200, read.text
        assert read.json() == created
    figures.acknowledged_writes += len(load.created)
    figures.faults_survived += 1
    figures.requests_under_fault += sum(o.phase not in ("before", "after") for o in load.outcomes)


async def drive(load: Load, phases: list[tuple[str, float, Any]]) -> None:
    """Runs the load through ``phases``: (name, seconds, action at the start of the phase)."""
    runner = asyncio.create_task(load.run())
    try:
        for name, seconds, action in phases:
            if action is not None:
                await asyncio.to_thread(action)
            load.phase = name
            await asyncio.sleep(seconds)
    finally:
        load.stop = True
        await runner


def check_logs(log_counter: LogCounter, failed: int) -> None:
    assert log_counter.tracebacks == 0, log_counter.samples
    # One error line per refused request (a little slack for a request cut mid-flight).
    assert log_counter.errors <= failed + WORKERS, (log_counter.errors, failed)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize("keepalive_client", ["proxied_postgres"], indirect=True)
async def test_a_cut_connection_answers_503_then_recovers(
    proxied_postgres: LiveService,
    keepalive_client: httpx.AsyncClient,
    log_counter: LogCounter,
    figures: Figures,
) -> None:
    proxy = proxied_postgres.proxy
    assert proxy is not None
    load = Load(keepalive_client)

    await drive(
        load, [("before", 0.5, None), ("cut", 2.5, proxy.cut), ("after", 2.0, proxy.restore)]
    )

    refused = check_outage(load, "cut")
    assert refused, "the cut never showed"
    check_logs(log_counter, len(refused))
    await check_recovery_and_writes(load, keepalive_client, figures)
    figures.cases["database faults"] += 1


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize("keepalive_client", ["proxied_postgres"], indirect=True)
async def test_a_frozen_database_answers_503_in_bounded_time_then_recovers(
    proxied_postgres: LiveService,
    keepalive_client: httpx.AsyncClient,
    log_counter: LogCounter,
    figures: Figures,
) -> None:
    proxy = proxied_postgres.proxy
    assert proxy is not None
    load = Load(keepalive_client)

    async def readiness_while_frozen() -> None:
        await asyncio.sleep(1.0)
        started = time.monotonic()
        ready = await keepalive_client.get("/health/ready")
        assert ready.status_code == 503, ready.text
        assert ready.json()["code"] == "DATABASE_UNAVAILABLE"
        assert time.monotonic() - started < TIMEOUT + 1.0

    probe = asyncio.create_task(readiness_while_frozen())
    await drive(
        load,
        [("before", 0.5, None), ("frozen", 4.0, proxy.freeze), ("after", 2.5, proxy.restore)],
    )
    await probe

    refused = check_outage(load, "frozen")
    assert refused, "the freeze never showed"
    check_logs(log_counter, len(refused) + 1)
    await check_recovery_and_writes(load, keepalive_client, figures)
    figures.cases["database faults"] += 1


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("keepalive_client", ["sqlite_service"], indirect=True)
async def test_a_sqlite_write_lock_held_elsewhere_answers_503_then_recovers(
    database_url: str,
    sqlite_service: LiveService,
    keepalive_client: httpx.AsyncClient,
    log_counter: LogCounter,
    figures: Figures,
) -> None:
    # Another process holding the write lock is how an embedded database "hangs": writes wait
    # for the busy timeout and then answer 503; reads go on (WAL).
    path = make_url(database_url).database
    assert path
    holding = threading.Event()
    release = threading.Event()

    def hold_the_write_lock() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            holding.set()
            release.wait(30)
            connection.execute("ROLLBACK")
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_write_lock, daemon=True)
    load = Load(keepalive_client)

    def lock() -> None:
        holder.start()
        assert holding.wait(10)

    await drive(load, [("before", 0.5, None), ("locked", 3.0, lock), ("after", 2.0, release.set)])
    holder.join(10)

    refused = check_outage(load, "locked")
    assert refused, "the lock never showed"
    assert all(o.kind == "write" for o in refused), refused
    assert any(o.kind == "read" and o.status == 200 for o in load.outcomes if o.phase == "locked")
    check_logs(log_counter, len(refused))
    await check_recovery_and_writes(load, keepalive_client, figures)
    figures.cases["database faults"] += 1
