"""Running the sandbox in a background thread (tests, and ``ogs serve --sandbox``)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp


@dataclass
class RunningSandbox:
    """A sandbox server running in a daemon thread; ``stop()`` shuts it down."""

    url: str
    port: int
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandbox_in_thread(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
    **config: Any,
) -> RunningSandbox:
    """Serve ``app`` with uvicorn on ``host:port`` (0 = a free port) in a daemon thread.

    Returns once the server accepts connections. The socket is bound here, before the thread
    starts, so a port that is taken fails at once with ``OSError`` and port 0 has a known port.
    ``config`` overrides uvicorn settings (tests also serve the API itself this way, with
    ``lifespan="on"``).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    bound_port: int = sock.getsockname()[1]
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "lifespan": "off",
        "timeout_graceful_shutdown": 1,
        **config,
    }
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox:{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"sandbox server did not start on {host}:{bound_port}")
        time.sleep(0.01)
    display_host = f"[{host}]" if family == socket.AF_INET6 else host
    return RunningSandbox(f"http://{display_host}:{bound_port}", bound_port, server, thread)
