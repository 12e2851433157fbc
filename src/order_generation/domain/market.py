"""What the GlobeCo services tell us about portfolios, and the orders we send them.

Plain values with exact decimals; the HTTP clients in ``adapters.globeco`` build and consume them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

OrderSide = Literal["BUY", "SELL"]


def _frozen_mapping(values: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class PortfolioHoldings:
    """A portfolio's cash and net quantity per security, as Portfolio Accounting reports them.

    Zero-quantity rows (e.g. after a full sell) are kept. A portfolio without any balance record
    is empty: cash 0 and no quantities.
    """

    portfolio_id: str
    cash: Decimal
    quantities: Mapping[str, Decimal] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantities", _frozen_mapping(self.quantities))

    @classmethod
    def empty(cls, portfolio_id: str) -> PortfolioHoldings:
        return cls(portfolio_id, Decimal(0), {})


@dataclass(frozen=True)
class OrderRequest:
    """One order for the Order Service: a market order (no limit price) on the default blotter."""

    portfolio_id: str
    security_id: str
    side: OrderSide
    quantity: int
    order_timestamp: dt.datetime | None = None  # None: the time of submission

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"order quantity must be > 0, got {self.quantity}")


@dataclass(frozen=True)
class OrderResult:
    """The Order Service's answer for one order; ``index`` is its position in the submission."""

    index: int
    succeeded: bool
    order_id: int | None
    message: str


@dataclass(frozen=True)
class OrderBatchResult:
    """The answers for a submission (possibly sent in several batches), in submission order."""

    results: tuple[OrderResult, ...]

    @property
    def successful(self) -> int:
        return sum(r.succeeded for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.successful

    @property
    def status(self) -> Literal["SUCCESS", "PARTIAL", "FAILURE"]:
        """As the Order Service names it: all, some or none of the orders were created."""
        if self.failed == 0:
            return "SUCCESS"
        return "PARTIAL" if self.successful else "FAILURE"
