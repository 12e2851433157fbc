"""Pricing client: one bulk call per snapshot, exact decimal prices, strict validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from order_generation.adapters.globeco import GlobecoClients
from order_generation.domain.errors import InvalidServiceResponse
from order_generation.sandbox import create_sandbox_app, start_sandbox_in_thread
from tests.fixtures.sandbox import Sandbox

PRICES = "GET /api/v1/prices"


async def test_close_prices_are_exact_decimals_for_every_ticker(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    prices = await globeco.pricing.close_prices()

    assert dict(prices) == sandbox.data.closes()
    assert all(isinstance(p, Decimal) for p in prices.values())
    assert prices["AAL"] == Decimal("58.1")
    assert sandbox.requests() == {PRICES: 1}


async def test_each_call_is_one_fresh_snapshot(sandbox: Sandbox, globeco: GlobecoClients) -> None:
    # The real service draws prices at random per request: the client must not cache them.
    await globeco.pricing.close_prices()
    await globeco.pricing.close_prices()

    assert sandbox.requests() == {PRICES: 2}


async def test_random_prices_are_drawn_per_request_as_the_real_service_does(
    sandbox: Sandbox,
) -> None:
    running = start_sandbox_in_thread(create_sandbox_app(sandbox.data, random_prices=True, seed=3))
    try:
        settings = sandbox.settings(pricing_url=running.url)
        async with GlobecoClients.from_settings(settings) as clients:
            first = await clients.pricing.close_prices()
            second = await clients.pricing.close_prices()
    finally:
        running.stop()

    assert first.keys() == second.keys() == sandbox.data.closes().keys()
    assert first != second
    assert all(p >= Decimal("0.01") and p == p.quantize(Decimal("0.01")) for p in first.values())


async def test_a_malformed_price_list_is_rejected_naming_the_field(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("pricing", "malformed")

    with pytest.raises(InvalidServiceResponse, match=r"pricing.*body\[0\]\.close"):
        await globeco.pricing.close_prices()
    assert sandbox.requests() == {PRICES: 1}
