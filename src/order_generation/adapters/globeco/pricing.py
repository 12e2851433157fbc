"""Pricing Service: the close price of every ticker, in one bulk call.

The real service draws every price at random per request, so the caller takes one snapshot per
rebalance run and uses it throughout; this client never caches across calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from order_generation.adapters.globeco._http import Reply, ServiceHttp
from order_generation.adapters.globeco._parse import Payload

SERVICE = "pricing"


class PricingClient:
    def __init__(self, http: ServiceHttp) -> None:
        self._http = http

    async def close_prices(self) -> Mapping[str, Decimal]:
        """ticker → close price (> 0) for every priced ticker; one ``GET /api/v1/prices``."""
        return _parse_prices(await self._http.get("/api/v1/prices"))


def _parse_prices(reply: Reply) -> Mapping[str, Decimal]:
    p = Payload(SERVICE, reply.what)
    prices: dict[str, Decimal] = {}
    for index, raw in enumerate(p.array(reply.json(), "body")):
        where = f"body[{index}]"
        item = p.mapping(raw, where)
        ticker = p.text(item, "ticker", where)
        close = p.decimal(item, "close", where)
        if close <= 0:
            p.fail(f"{where}.close", f"should be > 0, got {close} for {ticker}")
        if ticker in prices:
            p.fail(f"{where}.ticker", f"{ticker!r} is listed twice")
        prices[ticker] = close
    return MappingProxyType(prices)
