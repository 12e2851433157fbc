"""What Portfolio Accounting tells us about a portfolio: its cash and net quantities, as exact
decimals (``adapters.globeco.accounting`` builds them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType


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
