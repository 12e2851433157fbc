"""Security Service: security id → ticker, from the bulk list, cached.

``GET /api/v1/securities`` returns every security (about 500) in one call, so one call serves a
whole rebalance run; the map is cached for ``ttl_seconds`` (10 minutes by default: securities
rarely change), and concurrent callers share one in-flight request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

from cachetools import TTLCache

from order_generation.adapters.globeco._http import Reply, ServiceHttp
from order_generation.adapters.globeco._parse import Payload

SERVICE = "security"
_KEY = "tickers"


class SecurityClient:
    def __init__(
        self,
        http: ServiceHttp,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._cache: TTLCache[str, Mapping[str, str]] = TTLCache(
            maxsize=1, ttl=ttl_seconds, timer=clock
        )
        self._inflight: asyncio.Future[Mapping[str, str]] | None = None

    async def tickers(self) -> Mapping[str, str]:
        """security id → ticker for every security the service knows (cached)."""
        cached = self._cache.get(_KEY)
        if cached is not None:
            return cached
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._fetch())
            self._inflight.add_done_callback(self._fetched)
        # shield: a caller that gives up must not cancel the fetch the others are waiting for.
        return await asyncio.shield(self._inflight)

    async def ticker(self, security_id: str) -> str | None:
        """The ticker of one security, or ``None`` if the service does not know it."""
        return (await self.tickers()).get(security_id)

    async def _fetch(self) -> Mapping[str, str]:
        tickers = _parse_securities(await self._http.get("/api/v1/securities"))
        self._cache[_KEY] = tickers
        return tickers

    def _fetched(self, future: asyncio.Future[Mapping[str, str]]) -> None:
        self._inflight = None
        if not future.cancelled():
            future.exception()  # retrieved here, so an unawaited failure is not logged as lost


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
