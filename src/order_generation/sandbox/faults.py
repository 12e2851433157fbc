"""Fault injection: make one simulated service fail on purpose (``POST /sandbox/faults``).

Modes: ``down`` answers 503, ``error`` answers 500 in the service's own error format, ``slow``
takes the request in, waits ``delay_ms`` and then answers normally (even if the client has gone),
``malformed`` answers 200 with a body that breaks the service's contract (see ``MALFORMED_BODIES``).
``delay_ms`` also delays the other modes. ``times`` is how many requests the fault affects
(``None``: until cleared).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import PlainTextResponse, Response

from order_generation.sandbox import wire

Service = Literal["accounting", "security", "pricing", "portfolio", "order"]
SERVICES: tuple[Service, ...] = ("accounting", "security", "pricing", "portfolio", "order")
Mode = Literal["down", "error", "slow", "malformed"]


class FaultSpec(BaseModel):
    """The body of ``POST /sandbox/faults``."""

    model_config = ConfigDict(extra="forbid")

    service: Service
    mode: Mode
    delay_ms: int = Field(default=0, ge=0, le=600_000)
    times: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _slow_needs_delay(self) -> FaultSpec:
        if self.mode == "slow" and self.delay_ms == 0:
            raise ValueError("mode 'slow' needs delay_ms > 0")
        return self


@dataclass(slots=True)
class Fault:
    spec: FaultSpec
    remaining: int | None

    def as_json(self) -> dict[str, object]:
        return {**self.spec.model_dump(), "remaining": self.remaining}


class FaultBoard:
    """The active fault of each service (setting a new one replaces the old one)."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}

    def set(self, spec: FaultSpec) -> Fault:
        fault = Fault(spec, spec.times)
        self._faults[spec.service] = fault
        return fault

    def clear(self, service: str | None = None) -> None:
        if service is None:
            self._faults.clear()
        else:
            self._faults.pop(service, None)

    def active(self) -> list[Fault]:
        return list(self._faults.values())

    def take(self, service: str) -> FaultSpec | None:
        """The fault that applies to this request of ``service``, using up one of its ``times``."""
        fault = self._faults.get(service)
        if fault is None:
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[service]
        return fault.spec


# 200 bodies that break each endpoint's contract in a way a careless client would trip over:
# JSON syntax errors, wrong container types, missing fields, non-numeric and negative numbers.
MALFORMED_BODIES: dict[str, bytes] = {
    "/api/v1/portfolios/{portfolioId}/summary": (
        b'{"portfolioId":"000000000000000000000000","cashBalance":"12,345.O0",'
        b'"securityCount":1,"securities":[{"securityId":"x","netQuantity":null}]}'
    ),
    "/api/v1/balances": b'{"balances":[{"quantityLong":"n/a"}],"pagination":{"total":"many"}}',
    "/api/v1/security/{securityId}": b'{"ticker":42}',
    "/api/v1/securities": b'{"securities":"temporarily unavailable"}',
    "/api/v2/securities": b'{"securities":null}',
    "/api/v1/price/{ticker}": b'{"ticker":"AAPL","close":-5.0}',
    "/api/v1/prices": b'[{"id":1,"ticker":"AAPL","close":"N/A"},{"id":2,"close":-5.0}]',
    "/api/v1/portfolio/{portfolioId}": b'{"portfolioId":"',
    "/api/v1/portfolios": b'[{"portfolioId":"',
    "/api/v2/portfolios": b'{"portfolios":[{"portfolioId":"',
    "/api/v1/orders": b'{"status":"SUCCESS","orders":[',
}


def fault_response(service: str, mode: Mode, template: str, path: str) -> Response | None:
    """The response a fault gives instead of the real one (``None``: answer normally)."""
    if mode == "down":
        # What a gateway in front of a dead service says.
        return PlainTextResponse("Service Unavailable", status_code=503)
    if mode == "error":
        return _error_500(service, path)
    if mode == "malformed":
        body = MALFORMED_BODIES.get(template, b'{"unexpected":')
        return Response(body, status_code=200, media_type="application/json")
    return None


def _error_500(service: str, path: str) -> Response:
    # Each service fails in its own framework's style.
    if service == "accounting":
        return wire.go_error(500, "INTERNAL_ERROR", "Internal server error")
    if service == "pricing":
        return wire.spring_error(500, "Internal Server Error", path)
    if service == "order":
        return wire.json_response(
            {
                "status": "FAILURE",
                "message": "Internal server error processing batch request",
                "totalReceived": 0,
                "successful": 0,
                "failed": 0,
                "orders": [],
            },
            500,
        )
    return wire.starlette_500()
