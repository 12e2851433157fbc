"""Portfolio Accounting: a portfolio's cash and net quantities.

The summary endpoint answers 500 both for a portfolio without balance rows (new, unfunded or
unknown) and for a real failure. The rule used here: a summary 500 is not retried at once but
checked with ``GET /api/v1/balances?portfolio_id=X&limit=1``. A total of 0 means the portfolio is
empty; rows there mean the 500 was a real failure, so the summary is asked again with the normal
retries; the balances call failing too means the service is unavailable. A 404 (what the
Swagger file documents for an unknown portfolio) is also read as empty. For the circuit breaker
the summary's 500 is inconclusive: it neither resets nor adds to the failure count.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from order_generation.adapters.globeco._http import Reply, ServiceHttp
from order_generation.adapters.globeco._parse import Payload
from order_generation.domain.holdings import PortfolioHoldings

SERVICE = "portfolio accounting"
# The summary lists at most this many balance rows (cash included); beyond, page the balances.
SUMMARY_ROW_CAP = 1000
BALANCES_PAGE = 1000


class PortfolioAccountingClient:
    def __init__(self, http: ServiceHttp) -> None:
        self._http = http

    async def portfolio_holdings(self, portfolio_id: str) -> PortfolioHoldings:
        """Cash and net quantity per security (zero rows included); empty if no balance rows.

        Raises ``ServiceUnavailable`` / ``InvalidServiceResponse`` (service "portfolio
        accounting") when the answer cannot be had or breaks the contract.
        """
        path = f"/api/v1/portfolios/{quote(portfolio_id, safe='')}/summary"
        reply = await self._http.get(path, accept=(200, 404, 500))
        if reply.status == 404:
            # The documented answer for an unknown portfolio (the code never gives it today).
            return PortfolioHoldings.empty(portfolio_id)
        if reply.status == 500:
            if await self._balance_row_count(portfolio_id) == 0:
                return PortfolioHoldings.empty(portfolio_id)
            reply = await self._http.get(path)
        holdings, rows = _parse_summary(reply, portfolio_id)
        if rows >= SUMMARY_ROW_CAP:
            return await self._holdings_from_balances(portfolio_id)
        return holdings

    async def _balance_row_count(self, portfolio_id: str) -> int:
        reply = await self._http.get(
            "/api/v1/balances", params={"portfolio_id": portfolio_id, "limit": 1}
        )
        _, total = _parse_balances(reply)
        return total

    async def _holdings_from_balances(self, portfolio_id: str) -> PortfolioHoldings:
        # The summary may have been cut at its row cap: read every row, page by page.
        rows: list[tuple[str | None, Decimal]] = []
        total = 1
        while len(rows) < total:
            reply = await self._http.get(
                "/api/v1/balances",
                params={"portfolio_id": portfolio_id, "limit": BALANCES_PAGE, "offset": len(rows)},
            )
            page, total = _parse_balances(reply)
            if not page:
                break
            rows.extend(page)
        cash = sum((q for sid, q in rows if sid is None), Decimal(0))
        return PortfolioHoldings(portfolio_id, cash, {sid: q for sid, q in rows if sid})


def _parse_summary(reply: Reply, portfolio_id: str) -> tuple[PortfolioHoldings, int]:
    """The holdings, and how many balance rows the summary listed (to detect the row cap)."""
    p = Payload(SERVICE, reply.what)
    body = p.mapping(reply.json(), "body")
    if p.text(body, "portfolioId", "body") != portfolio_id:
        p.fail("body.portfolioId", f"is {body['portfolioId']!r}, expected {portfolio_id!r}")
    cash = p.decimal(body, "cashBalance", "body")
    quantities: dict[str, Decimal] = {}
    securities = p.array(body.get("securities"), "body.securities", null_is_empty=True)
    for index, raw in enumerate(securities):
        where = f"body.securities[{index}]"
        row = p.mapping(raw, where)
        security_id = p.text(row, "securityId", where)
        if security_id in quantities:
            p.fail(f"{where}.securityId", f"{security_id!r} is listed twice")
        quantities[security_id] = p.decimal(row, "netQuantity", where)
    return PortfolioHoldings(portfolio_id, cash, quantities), len(quantities) + 1


def _parse_balances(reply: Reply) -> tuple[list[tuple[str | None, Decimal]], int]:
    """(security id or None for cash, net quantity) per row, and the total row count."""
    p = Payload(SERVICE, reply.what)
    body = p.mapping(reply.json(), "body")
    pagination = p.mapping(body.get("pagination"), "body.pagination")
    total = p.integer(pagination, "total", "body.pagination")
    rows = []
    for index, raw in enumerate(p.array(body.get("balances"), "body.balances", null_is_empty=True)):
        where = f"body.balances[{index}]"
        row: Mapping[str, Any] = p.mapping(raw, where)
        net = p.decimal(row, "quantityLong", where) - p.decimal(row, "quantityShort", where)
        rows.append((p.optional_text(row, "securityId", where), net))
    return rows, total
