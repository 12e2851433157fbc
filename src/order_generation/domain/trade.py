"""The two sides of a trade, in one place: a rebalance's transactions and the orders sent for
them both say BUY or SELL."""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Literal

TradeSide = Literal["BUY", "SELL"]
BUY: Final = "BUY"
SELL: Final = "SELL"


def side_of(change: Decimal) -> TradeSide | None:
    """BUY for more units, SELL for fewer, None for no change."""
    if change > 0:
        return BUY
    if change < 0:
        return SELL
    return None
