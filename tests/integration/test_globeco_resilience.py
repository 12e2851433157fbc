"""Every client against every fault mode, a closed port and a timeout, over real HTTP.

``GET /sandbox/requests`` proves how many attempts were made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from order_generation.adapters.globeco import GlobecoClients, PricingClient
from order_generation.adapters.globeco._breaker import CircuitBreaker
from order_generation.adapters.globeco._http import RetryPolicy, ServiceHttp
from order_generation.domain.errors import InvalidServiceResponse, ServiceUnavailable
from tests.fixtures.sandbox import Sandbox


@dataclass(frozen=True)
class Case:
    fault_service: str  # the sandbox's name for it
    name: str  # the name in error messages
    url_setting: str
    path: str  # the request the call makes, as counted by the sandbox
    call: Callable[[GlobecoClients, Sandbox], Awaitable[Any]]


CASES = [
    Case(
        "accounting",
        "portfolio accounting",
        "portfolio_accounting_url",
        "GET /api/v1/portfolios/{portfolioId}/summary",
        lambda c, s: c.accounting.portfolio_holdings(s.data.portfolios[0].portfolio_id),
    ),
    Case(
        "security",
        "security",
        "security_url",
        "GET /api/v1/securities",
        lambda c, s: c.security.tickers(),
    ),
    Case(
        "pricing",
        "pricing",
        "pricing_url",
        "GET /api/v1/prices",
        lambda c, s: c.pricing.close_prices(),
    ),
    Case(
        "portfolio",
        "portfolio",
        "portfolio_url",
        "GET /api/v1/portfolio/{portfolioId}",
        lambda c, s: c.portfolio.portfolio_name(s.data.portfolios[0].portfolio_id),
    ),
]
# Read-only calls; the order service (not idempotent) has its own tests in test_globeco_order.
GET_CASES = pytest.mark.parametrize("case", CASES, ids=[c.fault_service for c in CASES])


@GET_CASES
async def test_down_is_retried_then_unavailable(
    sandbox: Sandbox, globeco: GlobecoClients, case: Case
) -> None:
    sandbox.fault(case.fault_service, "down")

    with pytest.raises(ServiceUnavailable) as raised:
        await case.call(globeco, sandbox)

    assert str(raised.value).startswith(f"{case.name} service unavailable: ")
    assert "failed after 3 attempt(s): HTTP 503" in str(raised.value)
    assert sandbox.requests() == {case.path: 3}


@GET_CASES
async def test_a_transient_fault_is_survived_by_retrying(
    sandbox: Sandbox, globeco: GlobecoClients, case: Case
) -> None:
    sandbox.fault(case.fault_service, "down", times=2)

    await case.call(globeco, sandbox)

    assert sandbox.requests() == {case.path: 3}


@GET_CASES
async def test_error_500_is_unavailable(
    sandbox: Sandbox, globeco: GlobecoClients, case: Case
) -> None:
    sandbox.fault(case.fault_service, "error")

    with pytest.raises(ServiceUnavailable, match=f"^{case.name} service unavailable.*HTTP 500"):
        await case.call(globeco, sandbox)


@GET_CASES
async def test_malformed_is_an_invalid_response_and_not_retried(
    sandbox: Sandbox, globeco: GlobecoClients, case: Case
) -> None:
    sandbox.fault(case.fault_service, "malformed")

    with pytest.raises(InvalidServiceResponse, match=f"^{case.name} service unavailable: GET "):
        await case.call(globeco, sandbox)
    assert sandbox.requests() == {case.path: 1}


@GET_CASES
async def test_slow_within_the_timeout_just_succeeds(
    sandbox: Sandbox, globeco: GlobecoClients, case: Case
) -> None:
    sandbox.fault(case.fault_service, "slow", delay_ms=50)

    await case.call(globeco, sandbox)

    assert sandbox.requests() == {case.path: 1}


@GET_CASES
async def test_slow_beyond_the_timeout_is_retried_then_unavailable(
    sandbox: Sandbox, case: Case
) -> None:
    sandbox.fault(case.fault_service, "slow", delay_ms=1000)
    settings = sandbox.settings(http_timeout_seconds=0.15, http_attempts=2)

    async with GlobecoClients.from_settings(settings) as clients:
        with pytest.raises(ServiceUnavailable, match=f"^{case.name} .*timed out after 0.15 s"):
            await case.call(clients, sandbox)

    assert sandbox.requests() == {case.path: 2}


@GET_CASES
async def test_a_closed_port_is_retried_then_unavailable(
    sandbox: Sandbox, closed_port_url: str, case: Case
) -> None:
    settings = sandbox.settings(**{case.url_setting: closed_port_url})

    async with GlobecoClients.from_settings(settings) as clients:
        with pytest.raises(
            ServiceUnavailable,
            match=rf"^{case.name} .*failed after 3 attempt\(s\): connection failed",
        ):
            await case.call(clients, sandbox)


async def test_a_4xx_is_never_retried(sandbox: Sandbox) -> None:
    # A wrong base URL: the sandbox answers 404 for the path, once.
    settings = sandbox.settings(pricing_url=f"{sandbox.url}/wrong")

    async with GlobecoClients.from_settings(settings) as clients:
        with pytest.raises(
            InvalidServiceResponse, match=r"^pricing .*answered HTTP 404 unexpectedly"
        ):
            await clients.pricing.close_prices()

    assert sandbox.requests() == {"GET /wrong/api/v1/prices": 1}


async def test_a_fault_in_one_service_leaves_the_others_alone(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("pricing", "down")

    assert await globeco.security.tickers()
    with pytest.raises(ServiceUnavailable, match=r"^pricing"):
        await globeco.pricing.close_prices()


@pytest.mark.parametrize(
    ("headers", "body", "problem"),
    [
        ({"content-encoding": "gzip"}, b"[]", "cannot be read"),  # httpx.DecodingError
        ({}, b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # RecursionError
        ({}, b'[{"ticker": "A", "close": NaN}]', "not valid JSON"),
    ],
    ids=["bad-gzip", "deeply-nested", "nan"],
)
async def test_an_unreadable_body_is_an_invalid_response_not_another_exception(
    headers: dict[str, str], body: bytes, problem: str
) -> None:
    # Bodies the sandbox cannot be told to send, hence a mock transport.
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers=headers, content=body)

    breaker = CircuitBreaker(1, 30.0)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        retry = RetryPolicy(3, 0.0, 0.0)
        service = ServiceHttp(
            "pricing", "http://pricing", http, timeout_seconds=1, retry=retry, breaker=breaker
        )
        with pytest.raises(InvalidServiceResponse, match=f"^pricing .*{problem}"):
            await PricingClient(service).close_prices()

    assert len(sent) == 1  # not retried
    assert breaker.state == "closed"  # the service answered: no failure counted
