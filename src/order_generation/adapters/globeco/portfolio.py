"""Portfolio Service: portfolio names (for ``portfolio_name`` in rebalance results).

The one bulk call, ``GET /api/v1/portfolios``, lists every portfolio the service has, whatever
the run needs: its answer is cached for ``ttl_seconds`` (60 by default), so that runs in quick
succession (and chunks whose job could not fetch the names when it started) share one list.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from urllib.parse import quote

from order_generation.adapters.globeco._cache import SharedFetch
from order_generation.adapters.globeco._http import ServiceHttp
from order_generation.adapters.globeco._parse import Payload

SERVICE = "portfolio"


class PortfolioClient:
    def __init__(
        self,
        http: ServiceHttp,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._names = SharedFetch(self._fetch_names, ttl_seconds=ttl_seconds, clock=clock)

    async def portfolio_name(self, portfolio_id: str) -> str | None:
        """The portfolio's name, or ``None`` if the service does not know the id (404).

        An unreachable service still raises ``ServiceUnavailable``: whether a missing name is
        fatal is the caller's decision (for rebalancing it is not).
        """
        reply = await self._http.get(
            f"/api/v1/portfolio/{quote(portfolio_id, safe='')}", accept=(200, 404)
        )
        if reply.status == 404:
            return None
        p = Payload(SERVICE, reply.what)
        return p.text(p.mapping(reply.json(), "body"), "name", "body")

    async def portfolio_names(self) -> Mapping[str, str]:
        """portfolio id → name for every portfolio, from one ``GET /api/v1/portfolios`` (cached)."""
        return await self._names.get()

    async def _fetch_names(self) -> Mapping[str, str]:
        reply = await self._http.get("/api/v1/portfolios")
        p = Payload(SERVICE, reply.what)
        names: dict[str, str] = {}
        for index, raw in enumerate(p.array(reply.json(), "body")):
            item = p.mapping(raw, f"body[{index}]")
            names[p.text(item, "portfolioId", f"body[{index}]")] = p.text(
                item, "name", f"body[{index}]"
            )
        return MappingProxyType(names)
