"""Security client: one bulk call, cached with a TTL, shared by concurrent callers."""

from __future__ import annotations

import asyncio

import pytest

from order_generation.adapters.globeco import GlobecoClients
from order_generation.domain.errors import InvalidServiceResponse, ServiceUnavailable
from tests.fixtures.sandbox import Sandbox

SECURITIES = "GET /api/v1/securities"


async def test_tickers_map_every_security_id(sandbox: Sandbox, globeco: GlobecoClients) -> None:
    tickers = await globeco.security.tickers()

    assert dict(tickers) == sandbox.data.tickers()
    assert sandbox.requests() == {SECURITIES: 1}


async def test_one_ticker_comes_from_the_cached_map(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    security = sandbox.data.securities[5]

    assert await globeco.security.ticker(security.security_id) == security.ticker
    assert await globeco.security.ticker("0" * 24) is None
    assert sandbox.requests() == {SECURITIES: 1}


async def test_the_map_is_cached_and_concurrent_callers_share_one_request(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    results = await asyncio.gather(*(globeco.security.tickers() for _ in range(25)))
    await globeco.security.tickers()

    assert all(r == results[0] for r in results)
    assert sandbox.requests() == {SECURITIES: 1}


async def test_the_cache_expires_after_its_ttl(sandbox: Sandbox) -> None:
    now = [0.0]
    settings = sandbox.settings(security_cache_ttl_seconds=600)
    async with GlobecoClients.from_settings(settings, clock=lambda: now[0]) as clients:
        await clients.security.tickers()
        now[0] = 599.0
        await clients.security.tickers()
        assert sandbox.requests() == {SECURITIES: 1}
        now[0] = 601.0
        await clients.security.tickers()
    assert sandbox.requests() == {SECURITIES: 2}


async def test_a_ttl_of_zero_disables_the_cache(sandbox: Sandbox) -> None:
    async with GlobecoClients.from_settings(
        sandbox.settings(security_cache_ttl_seconds=0)
    ) as clients:
        await clients.security.tickers()
        await clients.security.tickers()
    assert sandbox.requests() == {SECURITIES: 2}


async def test_concurrent_callers_share_one_failure_and_it_is_not_cached(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("security", "down")

    outcomes = await asyncio.gather(
        *(globeco.security.tickers() for _ in range(10)), return_exceptions=True
    )

    assert all(isinstance(o, ServiceUnavailable) for o in outcomes)
    assert "security service unavailable" in str(outcomes[0])
    assert sandbox.requests() == {SECURITIES: 3}  # one fetch, retried; not one per caller
    sandbox.clear_faults()
    assert dict(await globeco.security.tickers()) == sandbox.data.tickers()


async def test_a_malformed_list_is_rejected_clearly(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("security", "malformed", times=1)

    with pytest.raises(InvalidServiceResponse, match=r"security.*body should be an array"):
        await globeco.security.tickers()
    # The failure was not cached: the next call asks again and succeeds.
    assert len(await globeco.security.tickers()) == len(sandbox.data.securities)
