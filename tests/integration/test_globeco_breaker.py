"""The per-service circuit breaker, over real HTTP: it opens after consecutive failures, fails
fast while open (no requests reach the service), and lets one probe through after the reset time.

The breakers run on a fake clock (``now``), so no test depends on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from order_generation.adapters.globeco import GlobecoClients
from order_generation.adapters.globeco._breaker import CircuitBreaker, CircuitOpenError
from order_generation.domain.errors import ServiceUnavailable
from order_generation.domain.market import PortfolioHoldings
from tests.fixtures.sandbox import UNFUNDED_PORTFOLIO_ID, Sandbox

PRICES = "GET /api/v1/prices"
SUMMARY = "GET /api/v1/portfolios/{portfolioId}/summary"
BALANCES = "GET /api/v1/balances"
RESET = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def breaking(sandbox: Sandbox, clock: Clock) -> AsyncIterator[GlobecoClients]:
    settings = sandbox.settings(
        http_attempts=3, circuit_failure_threshold=2, circuit_reset_seconds=RESET
    )
    async with GlobecoClients.from_settings(settings, clock=clock) as clients:
        yield clients


async def test_the_circuit_opens_and_then_fails_fast(
    sandbox: Sandbox, breaking: GlobecoClients
) -> None:
    sandbox.fault("pricing", "down")

    with pytest.raises(ServiceUnavailable, match="circuit open after 2 consecutive"):
        await breaking.pricing.close_prices()
    assert sandbox.requests() == {PRICES: 2}  # the third attempt was never sent
    assert breaking.circuit_states()["pricing"] == "open"

    for _ in range(5):
        with pytest.raises(ServiceUnavailable, match=r"^pricing service unavailable.*circuit"):
            await breaking.pricing.close_prices()
    assert sandbox.requests() == {PRICES: 2}


async def test_a_successful_probe_closes_the_circuit(
    sandbox: Sandbox, breaking: GlobecoClients, clock: Clock
) -> None:
    sandbox.fault("pricing", "down")
    with pytest.raises(ServiceUnavailable):
        await breaking.pricing.close_prices()
    sandbox.clear_faults()

    clock.now += RESET - 1
    with pytest.raises(ServiceUnavailable, match="circuit open"):  # still open: no request yet
        await breaking.pricing.close_prices()
    clock.now += 1

    assert await breaking.pricing.close_prices()
    assert breaking.circuit_states()["pricing"] == "closed"
    assert sandbox.requests() == {PRICES: 3}


async def test_a_failed_probe_opens_the_circuit_again(
    sandbox: Sandbox, breaking: GlobecoClients, clock: Clock
) -> None:
    sandbox.fault("pricing", "down")
    with pytest.raises(ServiceUnavailable):
        await breaking.pricing.close_prices()
    clock.now += RESET

    with pytest.raises(ServiceUnavailable, match="circuit open"):
        await breaking.pricing.close_prices()

    # One probe request, then open again without the remaining attempts.
    assert sandbox.requests() == {PRICES: 3}
    assert breaking.circuit_states()["pricing"] == "open"
    clock.now += RESET - 1  # the reset time counts again from the failed probe
    with pytest.raises(ServiceUnavailable, match="circuit open"):
        await breaking.pricing.close_prices()
    assert sandbox.requests() == {PRICES: 3}


async def test_an_accounting_service_failing_with_500_opens_the_circuit(
    sandbox: Sandbox, clock: Clock
) -> None:
    # The summary's 500 is ambiguous (also the answer for an empty portfolio), so it must not
    # count as a success that resets the failures of the balances calls that follow it.
    sandbox.fault("accounting", "error")
    settings = sandbox.settings(http_attempts=3, circuit_failure_threshold=4)
    portfolio_id = sandbox.data.portfolios[0].portfolio_id
    async with GlobecoClients.from_settings(settings, clock=clock) as clients:
        with pytest.raises(ServiceUnavailable, match="failed after 3 attempt"):
            await clients.accounting.portfolio_holdings(portfolio_id)
        with pytest.raises(ServiceUnavailable, match="circuit open after 4 consecutive"):
            await clients.accounting.portfolio_holdings(portfolio_id)

        assert clients.circuit_states()["portfolio accounting"] == "open"
    assert sandbox.requests() == {SUMMARY: 2, BALANCES: 4}


async def test_an_empty_portfolio_as_the_probe_closes_the_circuit(
    sandbox: Sandbox, clock: Clock
) -> None:
    # The probe's summary 500 decides nothing; the balances call after it is the probe that does.
    settings = sandbox.settings(circuit_failure_threshold=1, circuit_reset_seconds=RESET)
    async with GlobecoClients.from_settings(settings, clock=clock) as clients:
        sandbox.fault("accounting", "down", times=1)
        with pytest.raises(ServiceUnavailable, match="circuit open"):
            await clients.accounting.portfolio_holdings(UNFUNDED_PORTFOLIO_ID)
        clock.now += RESET

        holdings = await clients.accounting.portfolio_holdings(UNFUNDED_PORTFOLIO_ID)

        assert holdings == PortfolioHoldings.empty(UNFUNDED_PORTFOLIO_ID)
        assert clients.circuit_states()["portfolio accounting"] == "closed"
    assert sandbox.requests() == {SUMMARY: 2, BALANCES: 1}


async def test_each_service_has_its_own_circuit(sandbox: Sandbox, breaking: GlobecoClients) -> None:
    sandbox.fault("pricing", "down")
    with pytest.raises(ServiceUnavailable):
        await breaking.pricing.close_prices()

    assert await breaking.security.tickers()
    assert breaking.circuit_states() == {
        "portfolio accounting": "closed",
        "security": "closed",
        "pricing": "open",
        "portfolio": "closed",
        "order": "closed",
    }


async def test_a_closed_port_opens_the_circuit(sandbox: Sandbox, closed_port_url: str) -> None:
    settings = sandbox.settings(
        security_url=closed_port_url, circuit_failure_threshold=3, circuit_reset_seconds=60
    )
    async with GlobecoClients.from_settings(settings) as clients:
        with pytest.raises(ServiceUnavailable, match="connection failed"):
            await clients.security.tickers()
        with pytest.raises(ServiceUnavailable, match="circuit open after 3 consecutive"):
            await clients.security.tickers()


def test_half_open_allows_one_probe_at_a_time() -> None:
    now = [0.0]
    breaker = CircuitBreaker(1, 10.0, clock=lambda: now[0])
    breaker.record_failure("HTTP 503")
    now[0] = 10.0

    breaker.before_attempt()  # the probe
    assert breaker.state == "half_open"
    with pytest.raises(CircuitOpenError, match="probe"):
        breaker.before_attempt()
    now[0] = 20.0  # the probe never reported back: another one may go
    breaker.before_attempt()
    breaker.record_success()
    final: str = breaker.state  # (a plain str: mypy narrowed the property to "half_open")
    assert final == "closed"


def test_an_inconclusive_probe_hands_its_turn_to_the_next_attempt() -> None:
    now = [0.0]
    breaker = CircuitBreaker(1, 10.0, clock=lambda: now[0])
    breaker.record_failure("HTTP 503")
    now[0] = 10.0
    breaker.before_attempt()  # the probe

    breaker.record_inconclusive()
    breaker.before_attempt()  # the next probe, at once
    with pytest.raises(CircuitOpenError, match="probe"):
        breaker.before_attempt()
    breaker.record_failure("HTTP 503")
    final: str = breaker.state
    assert final == "open"


def test_an_inconclusive_attempt_changes_no_count() -> None:
    breaker = CircuitBreaker(2, 10.0)
    breaker.record_failure("HTTP 503")
    breaker.record_inconclusive()
    breaker.record_failure("HTTP 503")

    assert breaker.state == "open"


def test_a_success_resets_the_consecutive_failure_count() -> None:
    breaker = CircuitBreaker(2, 10.0)
    breaker.record_failure("HTTP 503")
    breaker.record_success()
    breaker.record_failure("HTTP 503")

    assert breaker.state == "closed"
