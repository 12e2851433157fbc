"""The orders sent to GlobeCo's Order Service for a run's trades, and its answers
(``adapters.globeco.order`` sends and reads them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from order_generation.domain.trade import TradeSide


@dataclass(frozen=True)
class OrderRequest:
    """One order for the Order Service: a market order (no limit price) on the default blotter."""

    portfolio_id: str
    security_id: str
    side: TradeSide
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
