"""Cross-cutting HTTP concerns, in one plain ASGI middleware: the correlation id, the access log
line, Prometheus metrics, response headers, trusted hosts, the request-size limit, and the last
line of defence for bugs.

Plain ASGI rather than Starlette's BaseHTTPMiddleware: it sees the route template the router
resolved (metric labels that do not explode with ids), streams responses through untouched and
adds no task of its own.

Bodies are capped twice: a declared ``Content-Length`` above the limit is refused before
anything is read, and the bytes actually received are counted (chunked bodies declare nothing),
so reading stops at the limit. (FastAPI's own ``max_body_size`` answers a declared oversize in
plain text, outside the one error shape.)
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence

import structlog
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from order_generation.api.errors import MAX_BODY_BYTES, body_too_large, error_response
from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import DomainError
from order_generation.observability import correlation
from order_generation.observability.metrics import HTTP_DURATION, HTTP_IN_FLIGHT, HTTP_REQUESTS
from order_generation.observability.tracing import Telemetry

log = structlog.get_logger(__name__)
access_log = structlog.get_logger("order_generation.access")

_OPERATIONS_PATHS = ("/health/", "/metrics")
_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class ObservabilityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        telemetry: Telemetry,
        trusted_hosts: Sequence[str] = ("*",),
        api_prefix: str = "/api/",
    ) -> None:
        self.app = app
        self._telemetry = telemetry
        self._trusted = [h.lower() for h in trusted_hosts]
        self._api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        correlation_id = correlation.from_request(headers)
        length = headers.get(b"content-length")
        no_store = scope["path"].startswith(self._api_prefix)
        status = 500
        status_sent = aborted = False
        started = time.perf_counter()

        async def send_decorated(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status = message["status"]
                status_sent = True
                out = MutableHeaders(scope=message)
                out["x-correlation-id"] = correlation_id
                for name, value in _SECURITY_HEADERS:
                    out[name.decode()] = value.decode()
                if no_store:
                    out["cache-control"] = "no-store"
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

        token = correlation.use(correlation_id)
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        self._telemetry.annotate_request(**{"globeco.correlation_id": correlation_id})
        HTTP_IN_FLIGHT.inc()
        try:
            if not self._host_trusted(scope["path"], headers.get(b"host", b"")):
                await error_response(
                    400,
                    "the Host header names no host this service answers for",
                    ErrorCode.INVALID_HOST,
                )(scope, receive, send_decorated)
            elif length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
                await body_too_large()(scope, receive, send_decorated)
            else:
                await self.app(scope, receive_counted, send_decorated)
        except HTTPException as error:  # the body limit, hit outside FastAPI's handlers
            if status_sent or error.status_code != 413:
                raise
            await body_too_large()(scope, receive, send_decorated)
        except Exception as error:
            if status_sent:
                # Too late for an error response (a streamed answer failed half-way): log once
                # and end without completing it, so Uvicorn closes the connection and the client
                # sees a cut answer, never a shorter one that parses.
                _log_aborted(scope, error)
                aborted = True
                return
            # A bug. Answered here rather than by Starlette's outermost handler, which would log
            # it a second time and drop the keep-alive connection.
            log.exception("unhandled error", method=scope["method"], path=scope["path"])
            await error_response(500, "internal server error", ErrorCode.INTERNAL_ERROR)(
                scope, receive, send_decorated
            )
        finally:
            HTTP_IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_DURATION.labels(scope["method"], route).observe(elapsed)
            access_log.info(
                "http_request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                client=(scope.get("client") or ("", 0))[0],
                **({"aborted": True} if aborted else {}),
            )
            structlog.contextvars.unbind_contextvars("correlation_id")
            correlation.reset(token)

    def _host_trusted(self, path: str, host: bytes) -> bool:
        # Probes and scrapes name the pod by its IP: they are answered whatever the Host.
        if "*" in self._trusted or path.startswith(_OPERATIONS_PATHS):
            return True
        name = host.decode("latin-1").rsplit(":", 1)[0].strip("[]").lower()
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self._trusted)


def _log_aborted(scope: Scope, error: Exception) -> None:
    # Starlette reports a domain error raised after the response started as a RuntimeError whose
    # context is the original.
    cause = error.__context__ if isinstance(error, RuntimeError) else None
    original = cause if isinstance(cause, DomainError) else error
    if isinstance(original, DomainError):
        log.error(
            "response aborted",
            path=scope["path"],
            code=original.code,
            detail=original.message,
        )
    else:
        log.exception("response aborted by a bug", path=scope["path"])
