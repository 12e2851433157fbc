"""A rebalance run over many portfolios makes O(1) security and pricing calls."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from order_generation.adapters.globeco import GlobecoClients
from tests.fixtures.sandbox import Sandbox


async def test_a_run_over_all_portfolios_makes_one_security_and_one_pricing_call(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    # What a model rebalance does: one price snapshot for the run, then per portfolio its
    # holdings and the tickers of what it holds, concurrently.
    portfolios = [p.portfolio_id for p in sandbox.data.portfolios]
    prices = await globeco.pricing.close_prices()

    async def value(portfolio_id: str) -> Decimal:
        holdings = await globeco.accounting.portfolio_holdings(portfolio_id)
        tickers = await globeco.security.tickers()
        return (
            sum(q * prices[tickers[s]] for s, q in holdings.quantities.items() if s in tickers)
            + holdings.cash
        )

    values = await asyncio.gather(*(value(p) for p in portfolios))

    tickers, closes = sandbox.data.tickers(), sandbox.data.closes()
    assert values == [
        sum(
            (q * closes[tickers[s]] for s, q in p.holdings if s in tickers),
            p.cash or Decimal(0),
        )
        for p in sandbox.data.portfolios
    ]
    assert sandbox.requests() == {
        "GET /api/v1/securities": 1,
        "GET /api/v1/prices": 1,
        "GET /api/v1/portfolios/{portfolioId}/summary": len(portfolios),
        # The unfunded portfolio's empty check, and the large one's two pages past the cap.
        "GET /api/v1/balances": 3,
    }
