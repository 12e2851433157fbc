"""The running sandbox's state: indexed data, price source, faults, counters and orders.

All mutation happens on the server's event loop (through HTTP), so no locking is needed.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections import Counter, deque
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from order_generation.sandbox.faults import FaultBoard
from order_generation.sandbox.model import SandboxData, SandboxPortfolio, SandboxSecurity

_CENT = Decimal("0.01")


class BalanceRow(NamedTuple):
    """One accounting balance row; ``security_id`` is ``None`` for the cash row. (A named tuple:
    every summary makes one per holding.)"""

    id: int
    portfolio_id: str
    security_id: str | None
    quantity_long: Decimal
    quantity_short: Decimal


class SandboxState:
    """What the simulated services read and the control endpoints change."""

    def __init__(self, data: SandboxData, *, random_prices: bool, seed: int | None) -> None:
        self.data = data
        # When the data was "last updated", as balance rows and portfolios report it.
        self.loaded_ns = time.time_ns()
        self.securities_by_id = {s.security_id: s for s in data.securities}
        self.securities_by_ticker: list[SandboxSecurity] = sorted(
            data.securities, key=lambda s: s.ticker
        )
        self.prices = {p.ticker: (index + 1, p) for index, p in enumerate(data.prices)}
        self.portfolios = {p.portfolio_id: p for p in data.portfolios}
        self._portfolio_index = {p.portfolio_id: i for i, p in enumerate(data.portfolios)}
        # Row ids and global paging: portfolio i's rows are numbered from _first_row[i] + 1.
        counts = [_row_count(p) for p in data.portfolios]
        self._first_row = [0, *itertools.accumulate(counts)]
        self._rng = random.Random(seed) if random_prices else None
        self.faults = FaultBoard()
        self.requests: Counter[str] = Counter()
        # (request template, X-Correlation-ID) of the latest requests that carried one.
        self.correlation_ids: deque[tuple[str, str]] = deque(maxlen=10_000)
        self.orders: list[dict[str, Any]] = []
        self.next_order_id = 1

    def reset(self) -> None:
        """Clear faults, request counters and received orders (the data stays)."""
        self.faults.clear()
        self.requests.clear()
        self.correlation_ids.clear()
        self.orders.clear()

    # --- pricing -------------------------------------------------------------------------------

    def close_price(self, ticker: str) -> Decimal:
        """The price to answer with: the close, or a fresh N(close, std) draw rounded to cents
        and floored at 0.01 when random prices are on (as the real pricing service does)."""
        _, price = self.prices[ticker]
        if self._rng is None or price.std == 0:
            return price.close
        draw = Decimal(repr(self._rng.gauss(float(price.close), float(price.std))))
        return max(draw.quantize(_CENT, rounding=ROUND_HALF_UP), _CENT)

    # --- accounting ----------------------------------------------------------------------------

    @property
    def total_rows(self) -> int:
        return self._first_row[-1]

    def rows_of(self, portfolio_id: str) -> list[BalanceRow]:
        """A portfolio's balance rows, cash first, then by security id (as the service orders
        its summary); empty for an unknown portfolio."""
        index = self._portfolio_index.get(portfolio_id)
        if index is None:
            return []
        return _rows(self.data.portfolios[index], self._first_row[index])

    def all_rows(self, start: int = 0) -> Iterator[BalanceRow]:
        """Every balance row of every portfolio from global position ``start`` on."""
        index = bisect.bisect_right(self._first_row, start) - 1
        skip = start - self._first_row[index]
        for i in range(index, len(self.data.portfolios)):
            rows = _rows(self.data.portfolios[i], self._first_row[i])
            yield from rows[skip:]
            skip = 0


def _row_count(portfolio: SandboxPortfolio) -> int:
    return len(portfolio.holdings) + (portfolio.cash is not None)


def _rows(portfolio: SandboxPortfolio, first_id: int) -> list[BalanceRow]:
    entries: list[tuple[str | None, Decimal, Decimal]] = []
    if portfolio.cash is not None:
        entries.append((None, portfolio.cash, Decimal(0)))
    for security_id, quantity in sorted(portfolio.holdings):
        # A negative net quantity is a short position.
        if quantity >= 0:
            entries.append((security_id, quantity, Decimal(0)))
        else:
            entries.append((security_id, Decimal(0), -quantity))
    pid = portfolio.portfolio_id
    return [
        BalanceRow(first_id + n, pid, security_id, long, short)
        for n, (security_id, long, short) in enumerate(entries, start=1)
    ]
