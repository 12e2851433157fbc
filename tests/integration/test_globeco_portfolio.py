"""Portfolio client: names by id (None for unknown ids) and all names in one call."""

from __future__ import annotations

import asyncio

import pytest

from order_generation.adapters.globeco import GlobecoClients
from order_generation.domain.errors import InvalidServiceResponse, ServiceUnavailable
from tests.fixtures.sandbox import UNKNOWN_PORTFOLIO_ID, Sandbox


async def test_the_name_of_a_portfolio(sandbox: Sandbox, globeco: GlobecoClients) -> None:
    portfolio = sandbox.data.portfolios[2]

    assert await globeco.portfolio.portfolio_name(portfolio.portfolio_id) == portfolio.name


@pytest.mark.parametrize("portfolio_id", [UNKNOWN_PORTFOLIO_ID, "not-an-id"])
async def test_an_unknown_portfolio_has_no_name_and_is_not_an_outage(
    sandbox: Sandbox, globeco: GlobecoClients, portfolio_id: str
) -> None:
    assert await globeco.portfolio.portfolio_name(portfolio_id) is None
    assert sandbox.requests() == {"GET /api/v1/portfolio/{portfolioId}": 1}


async def test_an_id_cannot_reach_another_endpoint(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    # The id is percent-encoded into one path segment, never resolved as "../".
    assert await globeco.portfolio.portfolio_name("../portfolios") is None
    assert "GET /api/v1/portfolios" not in sandbox.requests()


async def test_all_names_in_one_call(sandbox: Sandbox, globeco: GlobecoClients) -> None:
    names = await globeco.portfolio.portfolio_names()

    assert dict(names) == {p.portfolio_id: p.name for p in sandbox.data.portfolios}
    assert sandbox.requests() == {"GET /api/v1/portfolios": 1}


async def test_a_body_that_is_not_json_is_rejected_clearly(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("portfolio", "malformed")

    with pytest.raises(InvalidServiceResponse, match=r"portfolio.*not valid JSON"):
        await globeco.portfolio.portfolio_name(sandbox.data.portfolios[0].portfolio_id)


async def test_an_outage_raises_so_the_caller_decides(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("portfolio", "error")

    with pytest.raises(ServiceUnavailable, match="portfolio service unavailable"):
        await globeco.portfolio.portfolio_name(sandbox.data.portfolios[0].portfolio_id)


async def test_names_are_kept_for_the_ttl_and_shared_by_concurrent_callers(
    sandbox: Sandbox,
) -> None:
    """A job's chunks each ask for the names: one list per process per TTL, not per chunk."""
    now = [0.0]
    settings = sandbox.settings(portfolio_names_cache_ttl_seconds=60)
    async with GlobecoClients.from_settings(settings, clock=lambda: now[0]) as clients:
        first, second = await asyncio.gather(
            clients.portfolio.portfolio_names(), clients.portfolio.portfolio_names()
        )
        now[0] = 59.0
        cached = await clients.portfolio.portfolio_names()
        assert sandbox.requests() == {"GET /api/v1/portfolios": 1}
        now[0] = 60.5
        fresh = await clients.portfolio.portfolio_names()
        assert sandbox.requests() == {"GET /api/v1/portfolios": 2}
    assert dict(first) == dict(second) == dict(cached) == dict(fresh)
    assert dict(fresh) == {p.portfolio_id: p.name for p in sandbox.data.portfolios}


async def test_a_ttl_of_zero_asks_every_time(sandbox: Sandbox) -> None:
    settings = sandbox.settings(portfolio_names_cache_ttl_seconds=0)
    async with GlobecoClients.from_settings(settings) as clients:
        await clients.portfolio.portfolio_names()
        await clients.portfolio.portfolio_names()
    assert sandbox.requests() == {"GET /api/v1/portfolios": 2}
