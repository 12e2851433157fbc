"""Tests of the TCP fault-injection proxy, against an echo server and against PostgreSQL.

Timeouts: operations that must succeed get generous ones (``OK``), so a slow machine never
turns them red; only "must not complete" checks use a short one (``SILENCE``).

The PostgreSQL cases use ``OGS_TEST_POSTGRES_URL`` when set and otherwise
``postgres@127.0.0.1:5432/test``. If that server is unreachable they are skipped, unless
``OGS_REQUIRE_POSTGRES=1``: then they fail, because CI must never pass by skipping.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from sqlalchemy import make_url

from tests.reliability.tcp_proxy import TcpProxy

# Slow (hypothesis, processes, faults under load): `./test.sh -m "not slow"` skips it.
pytestmark = pytest.mark.slow

OK = 10.0  # seconds an operation that should succeed may take
SILENCE = 0.5  # seconds an operation that should hang is watched for
PAYLOAD = 4 * 1024 * 1024

REQUIRE_POSTGRES = os.environ.get("OGS_REQUIRE_POSTGRES") == "1"


# -- an echo server (threads, so it serves sync and async tests alike) ----------------------------


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        # The proxy resets connections on purpose; that is not an error of the server.
        with contextlib.suppress(OSError):
            while data := sock.recv(256 * 1024):
                sock.sendall(data)
            # Answer the client's EOF with ours, so it knows everything came back.
            sock.shutdown(socket.SHUT_WR)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


@pytest.fixture(scope="module")
def echo_address() -> Iterator[tuple[str, int]]:
    server = _EchoServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="echo-server", daemon=True
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield str(host), int(port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(OK)


@pytest.fixture
def proxy(echo_address: tuple[str, int]) -> Iterator[TcpProxy]:
    with TcpProxy(*echo_address) as running:
        yield running


async def _connect(proxy: TcpProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection(proxy.host, proxy.port), OK)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    # The proxy may have reset the connection already; closing is all we want.
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _echo(proxy: TcpProxy, message: bytes) -> bytes:
    reader, writer = await _connect(proxy)
    try:
        writer.write(message)
        return await asyncio.wait_for(reader.readexactly(len(message)), OK)
    finally:
        await _close(writer)


async def _eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + OK
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


def _free_port_that_refuses() -> tuple[socket.socket, int]:
    """A bound but not listening socket: connecting to its port is refused while it lives."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, int(sock.getsockname()[1])


# -- forwarding -----------------------------------------------------------------------------------


async def test_forwards_and_counts_connections(proxy: TcpProxy) -> None:
    assert proxy.state == "open"
    assert proxy.host == "127.0.0.1"
    assert proxy.port > 0

    assert await _echo(proxy, b"ping") == b"ping"
    assert await _echo(proxy, b"pong") == b"pong"

    assert proxy.connections_accepted == 2
    await _eventually(lambda: proxy.connections_active == 0)


async def test_large_payloads_both_ways_with_half_close(proxy: TcpProxy) -> None:
    payload = os.urandom(PAYLOAD)
    reader, writer = await _connect(proxy)

    async def send() -> None:
        writer.write(payload)
        await writer.drain()
        # Our EOF travels through the proxy; the echo server answers with its own.
        writer.write_eof()

    try:
        sent, received = await asyncio.wait_for(asyncio.gather(send(), reader.read()), OK)
    finally:
        await _close(writer)
    assert sent is None
    assert len(received) == len(payload)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


async def test_concurrent_connections_stay_separate(proxy: TcpProxy) -> None:
    messages = [os.urandom(64 * 1024 + n) for n in range(8)]
    answers = await asyncio.gather(*(_echo(proxy, message) for message in messages))
    assert answers == messages
    assert proxy.connections_accepted == len(messages)


def test_serves_a_synchronous_caller(proxy: TcpProxy) -> None:
    # No event loop runs in this test: the proxy must not need the caller's.
    payload = os.urandom(PAYLOAD)
    with socket.create_connection((proxy.host, proxy.port), timeout=OK) as sock:

        def send() -> None:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        chunks = []
        while chunk := sock.recv(1024 * 1024):
            chunks.append(chunk)
        sender.join(OK)
    assert b"".join(chunks) == payload


async def test_upstream_unreachable_resets_the_client() -> None:
    placeholder, port = _free_port_that_refuses()
    with placeholder, TcpProxy("127.0.0.1", port) as proxy:
        # A reset (it can even beat our connect() to checking its result) or at least an
        # immediate EOF: never a hang.
        with contextlib.suppress(ConnectionResetError):
            reader, writer = await _connect(proxy)
            try:
                assert await asyncio.wait_for(reader.read(), OK) == b""
            finally:
                await _close(writer)
        assert proxy.connections_accepted == 1
        await _eventually(lambda: proxy.connections_active == 0)


# -- cut ------------------------------------------------------------------------------------------


async def test_cut_resets_connections_and_refuses_new_ones(proxy: TcpProxy) -> None:
    reader, writer = await _connect(proxy)
    writer.write(b"hello")
    assert await asyncio.wait_for(reader.readexactly(5), OK) == b"hello"
    port = proxy.port

    proxy.cut()
    state_when_cut = proxy.state
    assert state_when_cut == "cut"
    assert proxy.connections_active == 0

    # SO_LINGER 0 on the proxy's side: the client sees a reset, not a polite EOF.
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), OK)
    await _close(writer)
    with pytest.raises(ConnectionRefusedError):
        await _connect(proxy)

    proxy.restore()
    assert proxy.state == "open"
    assert proxy.port == port
    assert await _echo(proxy, b"back") == b"back"


async def test_cut_resets_connections_held_by_a_freeze(proxy: TcpProxy) -> None:
    proxy.freeze()
    reader, writer = await _connect(proxy)
    writer.write(b"held")
    await _eventually(lambda: proxy.connections_active == 1)

    proxy.cut()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), OK)
    await _close(writer)

    proxy.restore()
    assert await _echo(proxy, b"fresh") == b"fresh"


def test_control_from_several_threads(proxy: TcpProxy) -> None:
    # Control calls are serialised in the proxy loop; any interleaving ends in a valid state.
    faults: list[Callable[[], None]] = [proxy.cut, proxy.freeze, proxy.restore] * 5
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(faults)) as pool:
        for done in [pool.submit(fault) for fault in faults]:
            done.result(OK)  # re-raises whatever a control call raised
    assert proxy.state in {"open", "cut", "frozen"}

    proxy.restore()
    with socket.create_connection((proxy.host, proxy.port), timeout=OK) as sock:
        sock.sendall(b"still alive")
        assert _recv_exactly(sock, 11) == b"still alive"


# -- freeze ---------------------------------------------------------------------------------------


async def test_freeze_holds_traffic_without_losing_it(proxy: TcpProxy) -> None:
    reader, writer = await _connect(proxy)
    writer.write(b"before")
    assert await asyncio.wait_for(reader.readexactly(6), OK) == b"before"

    proxy.freeze()
    assert proxy.state == "frozen"
    writer.write(b"during")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), SILENCE)

    # New connections are accepted but get nothing back.
    late_reader, late_writer = await _connect(proxy)
    late_writer.write(b"late")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(late_reader.read(1), SILENCE)
    assert proxy.connections_active == 2

    proxy.restore()
    try:
        assert await asyncio.wait_for(reader.readexactly(6), OK) == b"during"
        assert await asyncio.wait_for(late_reader.readexactly(4), OK) == b"late"
    finally:
        await _close(writer)
        await _close(late_writer)


async def test_freeze_keeps_a_large_transfer_intact(proxy: TcpProxy) -> None:
    # Freeze in the middle of a transfer: back-pressure and the freeze both pause reading, and
    # restore() must resume exactly the data that was held.
    payload = os.urandom(PAYLOAD)
    reader, writer = await _connect(proxy)

    async def send() -> None:
        half = len(payload) // 2
        writer.write(payload[:half])
        await writer.drain()
        proxy.freeze()
        writer.write(payload[half:])
        with contextlib.suppress(TimeoutError):
            # Cannot finish while frozen once the socket buffers are full.
            await asyncio.wait_for(writer.drain(), 0.2)
        proxy.restore()
        await writer.drain()
        writer.write_eof()

    try:
        _, received = await asyncio.wait_for(asyncio.gather(send(), reader.read()), OK)
    finally:
        await _close(writer)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


# -- lifecycle ------------------------------------------------------------------------------------


def test_lifecycle(echo_address: tuple[str, int]) -> None:
    proxy = TcpProxy(*echo_address)
    with pytest.raises(RuntimeError, match="not running"):
        proxy.cut()
    proxy.start()
    with pytest.raises(RuntimeError, match="twice"):
        proxy.start()
    port = proxy.port
    proxy.stop()
    proxy.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        proxy.restore()
    # The port has been released.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_fixed_port_is_used(echo_address: tuple[str, int]) -> None:
    placeholder, port = _free_port_that_refuses()
    placeholder.close()
    with TcpProxy(*echo_address, port=port) as proxy:
        assert proxy.port == port
        with socket.create_connection(("127.0.0.1", port), timeout=OK) as sock:
            sock.sendall(b"x")
            assert _recv_exactly(sock, 1) == b"x"
        # A port in use fails start() in the caller, and leaves no thread behind.
        threads = set(threading.enumerate())
        with pytest.raises(OSError, match="in use"):
            TcpProxy(*echo_address, port=port).start()
        assert set(threading.enumerate()) <= threads


# -- PostgreSQL -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresTarget:
    host: str
    port: int
    user: str
    database: str
    password: str | None

    async def connect(self, proxy: TcpProxy, connect_timeout: float = OK) -> Any:
        return await asyncpg.connect(
            host=proxy.host,
            port=proxy.port,
            user=self.user,
            database=self.database,
            password=self.password,
            timeout=connect_timeout,
        )


def _postgres_target() -> PostgresTarget:
    url = os.environ.get("OGS_TEST_POSTGRES_URL")
    if not url:
        return PostgresTarget("127.0.0.1", 5432, "postgres", "test", None)
    parsed = make_url(url)
    return PostgresTarget(
        parsed.host or "127.0.0.1",
        parsed.port or 5432,
        parsed.username or "postgres",
        parsed.database or "test",
        parsed.password,
    )


@pytest.fixture(scope="module")
async def postgres() -> PostgresTarget:
    target = _postgres_target()
    try:
        conn = await asyncpg.connect(
            host=target.host,
            port=target.port,
            user=target.user,
            database=target.database,
            password=target.password,
            timeout=OK,
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        message = f"PostgreSQL at {target.host}:{target.port} is unreachable: {error!r}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    await conn.close()
    return target


@pytest.fixture
def pg_proxy(postgres: PostgresTarget) -> Iterator[TcpProxy]:
    with TcpProxy(postgres.host, postgres.port) as running:
        yield running


# What a cut connection may raise: a reset, or asyncpg noticing its connection is gone.
# (Not TimeoutError, although that is an OSError too: a cut must fail fast, not hang.)
CUT_ERRORS = (ConnectionError, asyncpg.exceptions.ConnectionDoesNotExistError)


@pytest.mark.postgres
async def test_postgres_cut_and_restore(postgres: PostgresTarget, pg_proxy: TcpProxy) -> None:
    conn = await postgres.connect(pg_proxy)
    try:
        assert await conn.fetchval("SELECT 1") == 1

        pg_proxy.cut()
        started = time.monotonic()
        with pytest.raises(CUT_ERRORS):
            await asyncio.wait_for(conn.fetchval("SELECT 1"), OK)
        with pytest.raises(ConnectionRefusedError):
            await postgres.connect(pg_proxy)
        # Promptly: a reset and a refusal, no timeouts involved.
        assert time.monotonic() - started < OK / 2
    finally:
        conn.terminate()

    pg_proxy.restore()
    fresh = await postgres.connect(pg_proxy)
    try:
        assert await fresh.fetchval("SELECT 1") == 1
    finally:
        await fresh.close(timeout=OK)


@pytest.mark.postgres
async def test_postgres_freeze_and_restore(postgres: PostgresTarget, pg_proxy: TcpProxy) -> None:
    conn = await postgres.connect(pg_proxy)
    try:
        assert await conn.fetchval("SELECT 1") == 1

        pg_proxy.freeze()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(conn.fetchval("SELECT 1"), SILENCE)
        # Accepted at the TCP level, so the connect attempt times out rather than being refused.
        with pytest.raises(TimeoutError):
            await postgres.connect(pg_proxy, connect_timeout=SILENCE)
    finally:
        # Also cancels asyncpg's background cancel request for the timed-out query.
        conn.terminate()

    pg_proxy.restore()
    fresh = await postgres.connect(pg_proxy)
    try:
        assert await fresh.fetchval("SELECT 1") == 1
    finally:
        await fresh.close(timeout=OK)
