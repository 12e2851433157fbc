"""Security Service: security id → ticker, from the bulk list, cached.

``GET /api/v1/securities`` returns every security (about 500) in one call, so one call serves a
whole rebalance run; the map is cached for ``ttl_seconds`` (10 minutes by default: securities
rarely change), and concurrent callers share one in-flight request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

from order_generation.adapters.globeco._cache import SharedFetch
from order_generation.adapters.globeco._http import Reply, ServiceHttp
from order_generation.adapters.globeco._parse import Payload

SERVICE = "security"


class SecurityClient:
    def __init__(
        self,
        http: ServiceHttp,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._tickers = SharedFetch(self._fetch, ttl_seconds=ttl_seconds, clock=clock)

    async def tickers(self) -> Mapping[str, str]:
        """security id → ticker for every security the service knows (cached)."""
        return await self._tickers.get()

    async def ticker(self, security_id: str) -> str | None:
        """The ticker of one security, or ``None`` if the service does not know it."""
        return (await self.tickers()).get(security_id)

    async def _fetch(self) -> Mapping[str, str]:
        return _parse_securities(await self._http.get("/api/v1/securities"))


def _parse_securities(reply: Reply) -> Mapping[str, str]:
    p = Payload(SERVICE, reply.what)
    tickers: dict[str, str] = {}
    for index, raw in enumerate(p.array(reply.json(), "body")):
        where = f"body[{index}]"
        item = p.mapping(raw, where)
        security_id = p.text(item, "securityId", where)
        if security_id in tickers:
            p.fail(f"{where}.securityId", f"{security_id!r} is listed twice")
        tickers[security_id] = p.text(item, "ticker", where)
    return MappingProxyType(tickers)
