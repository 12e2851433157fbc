"""Cross-cutting HTTP concerns: request ids, Prometheus metrics, the declared-size check, and
the request-size limit, and the last line of defence for bugs.

Written as plain ASGI middleware: it sees the route template the router resolved (for metric
labels that do not explode with ids) and adds no per-request task of its own.

Bodies are capped twice: a declared ``Content-Length`` above the limit is refused before
anything is read, and the bytes actually received are counted (chunked bodies declare nothing),
so reading stops at the limit. (FastAPI's own ``max_body_size`` answers a declared oversize in
plain text, outside the one error shape.)
"""

from __future__ import annotations

import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from order_generation.api.errors import MAX_BODY_BYTES, body_too_large, error_response

log = structlog.get_logger(__name__)


REQUESTS = Counter(
    "ogs_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "ogs_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30),
)


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        length = headers.get(b"content-length")
        status = 500
        status_sent = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status = message["status"]
                status_sent = True
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        received = 0

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    # An HTTPException passes through FastAPI's body parsing untouched and is
                    # answered by the error handlers (413 BODY_TOO_LARGE).
                    raise HTTPException(413)
            return message

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
                await body_too_large()(scope, receive, send_with_id)
            else:
                await self.app(scope, receive_counted, send_with_id)
        except HTTPException as error:  # the body limit, hit outside FastAPI's handlers
            if status_sent or error.status_code != 413:
                raise
            await body_too_large()(scope, receive, send_with_id)
        except Exception:
            # A bug. Answered here rather than by Starlette's outermost handler, which would log
            # it a second time and drop the keep-alive connection.
            log.exception("unhandled error", method=scope["method"], path=scope["path"])
            if status_sent:
                raise  # too late for an error response: uvicorn closes the connection
            await error_response(500, "internal server error", "INTERNAL_ERROR")(
                scope, receive, send_with_id
            )
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)
