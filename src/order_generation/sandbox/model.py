"""The sandbox's data: what the simulated GlobeCo services know.

One ``SandboxData`` holds the securities (Security Service), the prices (Pricing Service) and the
portfolios with their cash and holdings (Portfolio Service and Portfolio Accounting). It is built
by ``generate_data`` or read from a data file by ``load_data``; the server only reads it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

# The date the vendored prices belong to (see sandbox/data/README.md).
DEFAULT_PRICE_DATE = dt.date(2018, 1, 22)


@dataclass(frozen=True, slots=True)
class SandboxSecurity:
    security_id: str
    ticker: str
    description: str


@dataclass(frozen=True, slots=True)
class SandboxPrice:
    """A ticker's close price; ``std`` is only used when prices are drawn at random."""

    ticker: str
    close: Decimal
    std: Decimal = Decimal(0)


class SandboxHolding(NamedTuple):
    # A tuple rather than a dataclass: a large data set has a million of these.
    security_id: str
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class SandboxPortfolio:
    """A portfolio and its balance rows.

    ``cash`` is ``None`` when the portfolio has no cash row (it was never funded). A portfolio with
    no cash row and no holdings has no balance rows at all, which the accounting service answers
    with its "500 instead of empty" quirk.
    """

    portfolio_id: str
    name: str
    cash: Decimal | None
    holdings: tuple[SandboxHolding, ...] = ()

    @property
    def has_balance_rows(self) -> bool:
        return self.cash is not None or bool(self.holdings)


@dataclass(frozen=True, slots=True)
class SandboxData:
    securities: tuple[SandboxSecurity, ...]
    prices: tuple[SandboxPrice, ...]
    portfolios: tuple[SandboxPortfolio, ...]
    price_date: dt.date = DEFAULT_PRICE_DATE

    def tickers(self) -> dict[str, str]:
        """security_id → ticker, as the Security Service's bulk endpoint reports it."""
        return {s.security_id: s.ticker for s in self.securities}

    def closes(self) -> dict[str, Decimal]:
        """ticker → close price (the deterministic price the sandbox serves by default)."""
        return {p.ticker: p.close for p in self.prices}
