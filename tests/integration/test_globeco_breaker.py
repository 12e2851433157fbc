"""The per-service circuit breaker, over real HTTP: it opens after consecutive failures, fails
fast while open (no requests reach the service), and lets one probe through after the reset time.

The breakers run on a fake clock (``now``), so no test depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from order_generation.adapters.globeco import GlobecoClients
from order_generation.adapters.globeco._breaker import CircuitBreaker, CircuitOpenError
from order_generation.domain.errors import ServiceUnavailable
from order_generation.domain.holdings import PortfolioHoldings
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


async def test_calls_during_the_probe_wait_for_it_and_then_go_ahead(
    sandbox: Sandbox, breaking: GlobecoClients, clock: Clock
) -> None:
    # A burst after an outage (a model run's portfolios) is decided by one probe: the others
    # neither fail fast nor hit the service before the probe has answered.
    sandbox.fault("pricing", "down")
    with pytest.raises(ServiceUnavailable):
        await breaking.pricing.close_prices()
    sandbox.clear_faults()
    clock.now += RESET

    results = await asyncio.gather(*(breaking.pricing.close_prices() for _ in range(8)))

    assert all(results)
    assert breaking.circuit_states()["pricing"] == "closed"
    assert sandbox.requests() == {PRICES: 2 + 8}


async def test_calls_during_a_failing_probe_fail_fast_with_it(
    sandbox: Sandbox, breaking: GlobecoClients, clock: Clock
) -> None:
    sandbox.fault("pricing", "down")
    with pytest.raises(ServiceUnavailable):
        await breaking.pricing.close_prices()
    clock.now += RESET

    outcomes = await asyncio.gather(
        *(breaking.pricing.close_prices() for _ in range(8)), return_exceptions=True
    )

    assert all(isinstance(o, ServiceUnavailable) for o in outcomes)
    assert sandbox.requests() == {PRICES: 2 + 1}  # only the probe reached the service
    assert breaking.circuit_states()["pricing"] == "open"


async def test_a_cancelled_probe_hands_its_turn_to_the_next_call(
    sandbox: Sandbox, breaking: GlobecoClients, clock: Clock
) -> None:
    # The stuck-breaker bug: a probe cancelled with its task (a sibling portfolio failed) never
    # reported, so every later call failed with "a probe request is already testing".
    sandbox.fault("pricing", "down")
    with pytest.raises(ServiceUnavailable):
        await breaking.pricing.close_prices()
    sandbox.fault("pricing", "slow", delay_ms=1000)
    clock.now += RESET
    probe = asyncio.create_task(breaking.pricing.close_prices())
    await asyncio.sleep(0.2)  # the probe is waiting for the slow answer
    assert breaking.circuit_states()["pricing"] == "half_open"
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    sandbox.clear_faults()

    assert await breaking.pricing.close_prices()  # no wait for another reset period
    assert breaking.circuit_states()["pricing"] == "closed"


def _opened(breaker: CircuitBreaker, now: list[float]) -> None:
    async def fail_once() -> None:
        attempt = await breaker.admit()
        attempt.failed("HTTP 503")
        attempt.release()

    asyncio.run(fail_once())
    now[0] += 10.0


def test_an_inconclusive_probe_hands_its_turn_to_the_next_attempt() -> None:
    now = [0.0]
    breaker = CircuitBreaker(1, 10.0, clock=lambda: now[0])
    _opened(breaker, now)

    async def scenario() -> None:
        probe = await breaker.admit()
        probe.inconclusive()
        following = await breaker.admit()  # the next probe, at once
        assert breaker.state == "half_open"
        following.failed("HTTP 503")
        with pytest.raises(CircuitOpenError, match="circuit open"):
            await breaker.admit()

    asyncio.run(scenario())


def test_a_probe_that_goes_silent_is_replaced_after_the_reset_time() -> None:
    now = [0.0]
    breaker = CircuitBreaker(1, 0.05, clock=lambda: now[0])

    async def scenario() -> None:
        first = await breaker.admit()
        first.failed("HTTP 503")
        now[0] += 0.05
        await breaker.admit()  # the probe, which never reports
        now[0] += 0.05  # its turn has passed: the next attempt probes instead of waiting
        replacement = await breaker.admit()
        replacement.succeeded()
        assert breaker.state == "closed"

    asyncio.run(scenario())


def test_an_inconclusive_attempt_changes_no_count() -> None:
    breaker = CircuitBreaker(2, 10.0)

    async def scenario() -> None:
        for report in ("failed", "inconclusive", "release", "failed"):
            attempt = await breaker.admit()
            if report == "failed":
                attempt.failed("HTTP 503")
            elif report == "inconclusive":
                attempt.inconclusive()
            attempt.release()

    asyncio.run(scenario())
    assert breaker.state == "open"


def test_a_success_resets_the_consecutive_failure_count() -> None:
    breaker = CircuitBreaker(2, 10.0)

    async def scenario() -> None:
        for succeeded in (False, True, False):
            attempt = await breaker.admit()
            if succeeded:
                attempt.succeeded()
            else:
                attempt.failed("HTTP 503")

    asyncio.run(scenario())
    assert breaker.state == "closed"


def test_only_the_first_report_of_an_attempt_counts() -> None:
    breaker = CircuitBreaker(1, 10.0)

    async def scenario() -> None:
        attempt = await breaker.admit()
        attempt.succeeded()
        attempt.failed("HTTP 503")  # ignored: already reported
        attempt.release()

    asyncio.run(scenario())
    assert breaker.state == "closed"
