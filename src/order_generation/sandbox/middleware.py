"""Counts every request to a simulated service by path template and applies injected faults."""

from __future__ import annotations

import asyncio

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from order_generation.sandbox.faults import SERVICES, fault_response
from order_generation.sandbox.state import SandboxState


class SandboxMiddleware:
    """Pure ASGI middleware (no response buffering, so ``slow`` faults cost nothing but time)."""

    def __init__(self, app: ASGIApp, state: SandboxState, routes: list[BaseRoute]) -> None:
        self.app = app
        self.state = state
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        matched = self._service_route(scope)
        if matched is None:
            if not path.startswith(("/sandbox/", "/health")):
                # A path no simulated service has: count it too, it shows a client's mistake.
                self.state.requests[f"{method} {path}"] += 1
            await self.app(scope, receive, send)
            return
        service, template = matched
        self.state.requests[f"{method} {template}"] += 1
        correlation_id = dict(scope["headers"]).get(b"x-correlation-id")
        if correlation_id is not None:
            self.state.correlation_ids.append(
                (f"{method} {template}", correlation_id.decode("latin-1"))
            )
        fault = self.state.faults.take(service)
        if fault is not None:
            if fault.delay_ms:
                # Take the request in before the delay, as a slow real service does: a client
                # that times out meanwhile does not undo it (an order is still created).
                receive = await _received(receive)
                await asyncio.sleep(fault.delay_ms / 1000)
            response = fault_response(service, fault.mode, template, path)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _service_route(self, scope: Scope) -> tuple[str, str] | None:
        """(service, path template) of the simulated-service route this request hits."""
        for route in self.routes:
            tags = getattr(route, "tags", None)
            if not tags or tags[0] not in SERVICES:
                continue
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return tags[0], getattr(route, "path", "")
        return None


async def _received(receive: Receive) -> Receive:
    """Read the whole request body now; the returned ``receive`` replays it."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    replay = iter(messages)

    async def replayed() -> Message:
        return next(replay, None) or await receive()

    return replayed
