"""A TCP fault-injection proxy for reliability tests.

``TcpProxy`` sits between the service and a TCP server (usually PostgreSQL) and can make that
server look dead in the two ways production databases die:

* ``cut()``: the server crashed or the network dropped the connection. Every proxied connection
  is reset and new connections are refused until ``restore()``.
* ``freeze()``: the server hangs (think SIGSTOP or a saturated disk). Connections stay open and
  new ones are accepted, but not a byte moves in either direction until ``restore()``; nothing
  sent meanwhile is lost.

The proxy runs its own event loop in a daemon thread, so it keeps serving while the caller's
loop is blocked and can be driven from synchronous code. The control methods are thread-safe
and return only once the change has taken effect.

Example::

    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql://postgres@{proxy.host}:{proxy.port}/test"
        ...
        proxy.cut()
        ...
        proxy.restore()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Literal, Self

__all__ = ["ProxyState", "TcpProxy"]

ProxyState = Literal["open", "cut", "frozen"]

# Control calls normally finish in milliseconds; the bound only turns a wedged proxy into an
# error instead of a hung test run.
_CONTROL_TIMEOUT = 30.0

# struct linger {l_onoff=1, l_linger=0}: close() then discards unsent data and sends an RST,
# which is what a peer sees when a server process dies or a firewall kills the flow.
_LINGER_RESET = struct.pack("ii", 1, 0)


def _arm_reset(sock: Any) -> None:
    """Make the next close of ``sock`` (a socket or asyncio's TransportSocket) send an RST."""
    if sock is None:
        return
    # The socket may already be gone (peer reset it first); then there is nothing to reset.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)


class TcpProxy:
    """Forward ``host:port`` to ``upstream_host:upstream_port``, with faults on demand.

    ``port=0`` picks a free port; read the chosen one from :attr:`port` after :meth:`start`.
    The listening port never changes for the lifetime of the proxy, also across ``cut()``.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        backlog: int = 128,
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._host = host
        self._port = port
        self._backlog = backlog
        self._family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = False

        # Everything below is owned by the proxy's loop thread; other threads only read the
        # scalar values, which is safe under the GIL.
        self._state: ProxyState = "open"
        self._frozen = False
        self._thawed = asyncio.Event()
        self._control_lock = asyncio.Lock()
        self._listener: socket.socket | None = None
        # While cut, the port stays bound but not listening: connects are refused and no other
        # process can grab the port before restore().
        self._reservation: socket.socket | None = None
        self._links: set[_Link] = set()
        self._accepted = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the listening port and start forwarding. A proxy can be started only once."""
        if self._started:
            raise RuntimeError("TcpProxy.start() called twice")
        self._started = True
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self._serve,
            args=(loop,),
            name=f"TcpProxy->{self._upstream[0]}:{self._upstream[1]}",
            daemon=True,
        )
        self._loop, self._thread = loop, thread
        thread.start()
        try:
            self._call(self._open)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Reset every connection, release the port and join the proxy thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._call(self._shutdown)
        finally:
            if not loop.is_closed():
                loop.call_soon_threadsafe(loop.stop)
            thread.join()
            self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- faults ---------------------------------------------------------------------------------

    def cut(self) -> None:
        """Reset every open connection (RST to both peers) and refuse new ones until restore()."""
        self._call(lambda: self._apply("cut"))

    def freeze(self) -> None:
        """Stop forwarding in both directions; connections stay open and new ones are accepted
        but get no answer (upstream is not even dialled). Data sent meanwhile waits in socket
        buffers and flows on restore().

        Reading is paused on every socket, so no new byte is forwarded; bytes the proxy had
        already handed to a transport before the freeze still drain, as a stopped process's
        kernel send buffer would.
        """
        self._call(lambda: self._apply("frozen"))

    def restore(self) -> None:
        """Forward normally again; after cut() the same port listens again."""
        self._call(lambda: self._apply("open"))

    # -- introspection --------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The listening port (the chosen one if constructed with ``port=0``)."""
        return self._port

    @property
    def upstream(self) -> tuple[str, int]:
        return self._upstream

    @property
    def state(self) -> ProxyState:
        return self._state

    @property
    def connections_accepted(self) -> int:
        """Client connections accepted since start()."""
        return self._accepted

    @property
    def connections_active(self) -> int:
        """Proxied connections not yet fully closed (including ones held by a freeze)."""
        return len(self._links)

    def __repr__(self) -> str:
        upstream_host, upstream_port = self._upstream
        return (
            f"<TcpProxy {self._host}:{self._port} -> {upstream_host}:{upstream_port}"
            f" state={self._state} active={self.connections_active}>"
        )

    # -- plumbing (caller side) -----------------------------------------------------------------

    def _call(self, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run a control coroutine on the proxy loop and wait until it has finished."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            raise RuntimeError("TcpProxy is not running")
        if threading.current_thread() is thread:
            # Blocking here would wait for the very loop we are running on.
            raise RuntimeError("TcpProxy control methods cannot be called from the proxy thread")
        asyncio.run_coroutine_threadsafe(make(), loop).result(_CONTROL_TIMEOUT)

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                # _shutdown() leaves nothing behind; this is a safety net so that a bug never
                # shows up as "Task was destroyed but it is pending" at interpreter exit.
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                # Upstream name resolution may have used the default executor's threads.
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    # -- plumbing (proxy loop) ------------------------------------------------------------------

    async def _open(self) -> None:
        self._thawed.set()
        self._listen()

    async def _shutdown(self) -> None:
        async with self._control_lock:
            self._stop_listening(reserve=False)
            await self._reset_links()

    async def _apply(self, target: ProxyState) -> None:
        # The lock keeps concurrent control calls from different threads from interleaving at
        # their await points.
        async with self._control_lock:
            if target == "cut":
                try:
                    # Stop accepting first, so nothing slips in while the old connections die.
                    self._stop_listening(reserve=True)
                finally:
                    # Even if re-binding the port failed, the cut itself must still happen.
                    self._state = "cut"
                    await self._reset_links()
            else:
                self._frozen = target == "frozen"
                if self._frozen:
                    self._thawed.clear()
                else:
                    self._thawed.set()
                for link in list(self._links):
                    link.update_reading()
                self._listen()
            self._state = target

    def _bind(self) -> socket.socket:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        try:
            # Lets the port be bound again while old proxied connections sit in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        return sock

    def _listen(self) -> None:
        if self._listener is not None:
            return
        sock = self._reservation if self._reservation is not None else self._bind()
        self._reservation = None
        try:
            sock.listen(self._backlog)
        except BaseException:
            sock.close()
            raise
        self._listener = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept_ready)

    def _stop_listening(self, *, reserve: bool) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            asyncio.get_running_loop().remove_reader(listener.fileno())
            # Connections still in the kernel's accept queue are reset by this close.
            listener.close()
        if reserve:
            if self._reservation is None:
                self._reservation = self._bind()
        elif self._reservation is not None:
            self._reservation.close()
            self._reservation = None

    def _accept_ready(self) -> None:
        # Accepting synchronously (rather than via loop.sock_accept) means every accepted socket
        # is tracked in _links at once, so a concurrent cut() cannot miss one.
        listener = self._listener
        while listener is not None:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # ECONNABORTED, EMFILE, ...: retried on the next readiness notification.
                return
            sock.setblocking(False)
            self._accepted += 1
            link = _Link(self, sock)
            self._links.add(link)
            link.task = asyncio.get_running_loop().create_task(link.run())

    async def _reset_links(self) -> None:
        links = list(self._links)
        for link in links:
            link.terminate(reset=True)
        for link in links:
            if link.task is not None:
                link.task.cancel()
        tasks = [link.task for link in links if link.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        # A task cancelled before its first step never runs its cleanup; terminate() above
        # closed its socket, and this forgets the link.
        self._links.difference_update(links)


class _Side(asyncio.Protocol):
    """One socket of a proxied connection; everything it reads goes to its peer."""

    def __init__(self, link: _Link, raw: socket.socket | None = None) -> None:
        self.link = link
        self.peer: _Side = self  # replaced by _Link once both sides exist
        # Only the client side starts with a raw socket (accepted before its transport exists).
        self.raw = raw
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.reading = False
        self.eof = False
        # Our write buffer is over the high-water mark: the peer must stop reading.
        self.congested = False

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        # Nothing is read until the peer exists and the proxy is not frozen; until then bytes
        # wait in the kernel, which also gives natural back-pressure.
        transport.pause_reading()
        self.reading = False

    def data_received(self, data: bytes) -> None:
        # Reading is only enabled while the peer is usable; a peer lost in the same loop
        # iteration is the one exception, and its data has nowhere to go anyway.
        if self.peer.usable:
            assert self.peer.transport is not None
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        self.reading = False
        self.link.on_eof(self)
        return True  # keep the other direction open (half-close)

    def pause_writing(self) -> None:
        self.congested = True
        self.link.update_reading()

    def resume_writing(self) -> None:
        self.congested = False
        self.link.update_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.reading = False
        if not self.lost.done():
            self.lost.set_result(None)
        self.link.on_lost(self, exc)

    def set_reading(self, wanted: bool) -> None:
        if self.transport is None or wanted == self.reading:
            return
        if wanted:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()
        self.reading = wanted

    def terminate(self, *, reset: bool, owns_raw: bool) -> None:
        """Close this side; ``owns_raw``: no transport has taken over the raw socket yet."""
        if self.transport is not None:
            if reset:
                _arm_reset(self.transport.get_extra_info("socket"))
                self.transport.abort()
            else:
                self.transport.close()
        elif self.raw is not None:
            if reset:
                _arm_reset(self.raw)
            # A transport that exists but has not run connection_made() yet owns the socket and
            # closes it itself; closing it here could later make it unregister a reused fd.
            if owns_raw:
                self.raw.close()


class _Link:
    """A client connection and its upstream connection."""

    def __init__(self, proxy: TcpProxy, client_sock: socket.socket) -> None:
        self.proxy = proxy
        self.client = _Side(self, client_sock)
        self.upstream = _Side(self)
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.task: asyncio.Task[None] | None = None
        # Set by run()'s first step, which hands the client socket to a transport synchronously.
        self.started = False

    async def run(self) -> None:
        self.started = True
        loop = asyncio.get_running_loop()
        proxy = self.proxy
        try:
            assert self.client.raw is not None
            await loop.connect_accepted_socket(lambda: self.client, self.client.raw)
            # A frozen server accepts at the TCP level but never answers; so we hold the client
            # without even dialling upstream until restore().
            await proxy._thawed.wait()
            host, port = proxy.upstream
            await loop.create_connection(lambda: self.upstream, host, port)
            self.update_reading()
            await asyncio.wait([self.client.lost, self.upstream.lost])
        except OSError:
            # Upstream unreachable: the client sees its connection reset, as it would through
            # any TCP proxy.
            pass
        finally:
            # No-op after a normal close; otherwise (cancelled by cut/stop, or an error) reset.
            self.terminate(reset=True)
            # abort() delivers connection_lost() on a later loop iteration; wait for it, so that
            # no transport outlives the link.
            pending = [
                side.lost
                for side in (self.client, self.upstream)
                if side.transport is not None and not side.lost.done()
            ]
            if pending:
                await asyncio.wait(pending)
            proxy._links.discard(self)

    def terminate(self, *, reset: bool) -> None:
        self.client.terminate(reset=reset, owns_raw=not self.started)
        self.upstream.terminate(reset=reset, owns_raw=False)

    def update_reading(self) -> None:
        frozen = self.proxy._frozen
        for side in (self.client, self.upstream):
            peer = side.peer
            side.set_reading(
                not frozen and side.usable and not side.eof and peer.usable and not peer.congested
            )

    def on_eof(self, side: _Side) -> None:
        peer = side.peer
        if peer.usable:
            assert peer.transport is not None
            if peer.eof:
                # Both directions are finished: close (write buffers are flushed first).
                peer.transport.close()
                assert side.transport is not None
                side.transport.close()
            elif peer.transport.can_write_eof():
                peer.transport.write_eof()
            else:
                peer.transport.close()
        elif side.transport is not None:
            side.transport.close()

    def on_lost(self, side: _Side, exc: Exception | None) -> None:
        peer = side.peer
        if peer.usable:
            # Mirror how the connection ended: an error (e.g. a reset) is passed on as a reset,
            # an orderly close as an orderly close once pending data is flushed.
            peer.terminate(reset=exc is not None, owns_raw=False)
