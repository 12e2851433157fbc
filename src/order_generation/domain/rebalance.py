"""A portfolio rebalance in domain terms (SPEC §4): the optimizer's problem built from holdings,
model and prices, and the trades and drift report made from its answer.

All money and weights are exact decimals; only ``actual`` is rounded (to 4 places, half up),
as the SPEC reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, NamedTuple

from order_generation.domain.holdings import PortfolioHoldings
from order_generation.domain.investment_model import InvestmentModel
from order_generation.domain.optimizer import (
    RebalanceProblem,
    RebalanceSolution,
    SecurityTarget,
    exact,
)
from order_generation.domain.trade import TradeSide, side_of
from order_generation.domain.trading_options import TradingOptions

# failed: this portfolio's own data could not be read (one malformed answer) while the services
# as a whole were up; the run goes on without it (SPEC §8). in_band: trigger out_of_band found
# nothing to trade.
PortfolioStatus = Literal["rebalanced", "infeasible", "failed", "in_band"]
ACTUAL_PLACES = Decimal("0.0001")
# Fields GET /rebalances can sort by (SPEC §3); default order is newest first.
# GET /rebalances pages (SPEC §3): 10 runs unless asked, at most 100.
DEFAULT_RUN_LIMIT = 10
MAX_RUN_LIMIT = 100
REBALANCE_SORT_FIELDS = ("rebalance_date", "rebalance_id", "model_name", "number_of_portfolios")


class MissingPrices(Exception):
    """Some securities of the universe have no price (unknown to the security service, or a
    ticker the pricing service does not price): the portfolio cannot be valued."""

    def __init__(self, security_ids: tuple[str, ...]) -> None:
        self.security_ids = security_ids
        super().__init__(
            "no price for security "
            + ", ".join(security_ids)
            + " (unknown to the security service, or its ticker is not priced)"
        )


class PositionRebalance(NamedTuple):
    """One security of a rebalanced portfolio: before, after, the trade and the drift.

    Every figure is held as computed when the run happened (``position_outcome`` computes them),
    so a stored run reads back exactly as it was reported. A named tuple rather than a frozen
    dataclass: a big run makes and reads ~10^7 of them, and a tuple is built several times
    faster; its fields are in the order a stored row has them.
    """

    security_id: str
    price: Decimal
    original_quantity: Decimal
    adjusted_quantity: Decimal
    original_position_market_value: Decimal
    adjusted_position_market_value: Decimal
    target: Decimal
    high_drift: Decimal
    low_drift: Decimal
    actual: Decimal
    actual_drift: Decimal
    transaction_type: TradeSide | None
    trade_quantity: Decimal
    trade_date: date


@dataclass(frozen=True, slots=True)
class PortfolioRebalance:
    """The outcome for one portfolio of a run (SPEC §3 ``Portfolio``). The money figures are
    None only for a ``failed`` portfolio, whose holdings could not be read.

    ``options`` are the trading options it was rebalanced with (SPEC §8), None when there were
    none (today's rebalance; its answers then carry none of §8's fields). Under options
    ``market_value`` is MV′ = MV + cash_flow, the value targets applied to, and cash after the
    rebalance includes the cash flow; ``relaxed_by`` is the band widening ``relax`` needed.
    """

    portfolio_id: str
    portfolio_name: str | None
    status: PortfolioStatus
    reason: str | None
    market_value: Decimal | None
    cash_before_rebalance: Decimal | None
    cash_after_rebalance: Decimal | None
    positions: tuple[PositionRebalance, ...]
    relaxed_by: Decimal | None = None
    options: TradingOptions | None = None

    @property
    def trades(self) -> tuple[PositionRebalance, ...]:
        return tuple(p for p in self.positions if p.transaction_type is not None)


@dataclass(frozen=True, slots=True)
class SecurityPrice:
    """One entry of a run's price snapshot."""

    security_id: str
    ticker: str
    price: Decimal


@dataclass(frozen=True, slots=True)
class RebalanceRun:
    """A stored rebalance (SPEC §3 ``Rebalance``): every portfolio of one request, and the
    prices they were valued at, so the run can be re-derived later. ``model_version`` is the
    version of the model the run read (None for runs stored before it was recorded)."""

    rebalance_id: str
    model_id: str
    model_name: str
    model_version: int | None
    rebalance_date: datetime
    portfolios: tuple[PortfolioRebalance, ...]
    prices: tuple[SecurityPrice, ...]
    version: int
    created_at: datetime

    @property
    def number_of_portfolios(self) -> int:
        return len(self.portfolios)

    @property
    def header(self) -> RunHeader:
        return RunHeader(
            rebalance_id=self.rebalance_id,
            model_id=self.model_id,
            model_name=self.model_name,
            model_version=self.model_version,
            rebalance_date=self.rebalance_date,
            number_of_portfolios=self.number_of_portfolios,
            version=self.version,
            created_at=self.created_at,
        )


@dataclass(frozen=True, slots=True)
class RunHeader:
    """A stored run without its portfolios: what is read first, before the portfolios are read
    (and answered) a slice at a time."""

    rebalance_id: str
    model_id: str
    model_name: str
    model_version: int | None
    rebalance_date: datetime
    number_of_portfolios: int
    version: int
    created_at: datetime


def rebalance_problem(
    holdings: PortfolioHoldings,
    model: InvestmentModel,
    prices: Mapping[str, Decimal],
    options: TradingOptions | None = None,
) -> RebalanceProblem:
    """The optimizer's problem over the universe: the model's securities (in model order), then
    held securities outside the model (by id), which get target = drifts = 0 and so are sold.
    Zero holdings outside the model are not part of it. Raises MissingPrices."""
    in_model = {p.security_id for p in model.positions}
    held_outside = sorted(s for s, q in holdings.quantities.items() if q != 0 and s not in in_model)
    missing = tuple(
        s for s in (*(p.security_id for p in model.positions), *held_outside) if s not in prices
    )
    if missing:
        raise MissingPrices(missing)
    zero = Decimal(0)
    securities = [
        SecurityTarget(
            security_id=p.security_id,
            price=prices[p.security_id],
            quantity=holdings.quantities.get(p.security_id, zero),
            target=p.target,
            low_drift=p.low_drift,
            high_drift=p.high_drift,
        )
        for p in model.positions
    ]
    securities += [
        SecurityTarget(s, prices[s], holdings.quantities[s], zero, zero, zero) for s in held_outside
    ]
    return RebalanceProblem(cash=holdings.cash, securities=tuple(securities), options=options)


def rebalanced_outcome(
    portfolio_id: str,
    portfolio_name: str | None,
    problem: RebalanceProblem,
    solution: RebalanceSolution,
    trade_date: date,
) -> PortfolioRebalance:
    """Trades and drifts for an optimal ``solution`` of ``problem``."""
    ids = [s.security_id for s in problem.securities]
    if solution.status != "optimal" or list(solution.quantities) != ids:
        raise ValueError("the solution does not answer this problem")
    adjusted = {s: Decimal(q) for s, q in solution.quantities.items()}
    reason = solution.reason.message if solution.reason is not None else None  # relax's note
    outcome = _outcome(
        portfolio_id, portfolio_name, "rebalanced", reason, problem, adjusted, trade_date
    )
    if solution.relaxed_by is None:
        return outcome
    return replace(outcome, relaxed_by=solution.relaxed_by)


def infeasible_outcome(
    portfolio_id: str,
    portfolio_name: str | None,
    problem: RebalanceProblem,
    reason: str,
    trade_date: date,
    status: Literal["infeasible", "in_band"] = "infeasible",
) -> PortfolioRebalance:
    """A portfolio left as it is, with the reason no rebalance was possible (or, ``in_band``,
    why none was needed)."""
    unchanged = {s.security_id: s.quantity for s in problem.securities}
    return _outcome(portfolio_id, portfolio_name, status, reason, problem, unchanged, trade_date)


def unpriced_outcome(
    holdings: PortfolioHoldings, portfolio_name: str | None, reason: str
) -> PortfolioRebalance:
    """A portfolio that could not even be valued: no positions, only its cash."""
    return PortfolioRebalance(
        portfolio_id=holdings.portfolio_id,
        portfolio_name=portfolio_name,
        status="infeasible",
        reason=reason,
        market_value=holdings.cash,
        cash_before_rebalance=holdings.cash,
        cash_after_rebalance=holdings.cash,
        positions=(),
    )


def failed_outcome(
    portfolio_id: str, portfolio_name: str | None, reason: str
) -> PortfolioRebalance:
    """A portfolio whose holdings could not be read: nothing is known of its money."""
    return PortfolioRebalance(
        portfolio_id=portfolio_id,
        portfolio_name=portfolio_name,
        status="failed",
        reason=reason,
        market_value=None,
        cash_before_rebalance=None,
        cash_after_rebalance=None,
        positions=(),
    )


def _outcome(
    portfolio_id: str,
    portfolio_name: str | None,
    status: PortfolioStatus,
    reason: str | None,
    problem: RebalanceProblem,
    adjusted: Mapping[str, Decimal],
    trade_date: date,
) -> PortfolioRebalance:
    market_value = problem.market_value
    if problem.options is not None:
        market_value += problem.options.cash_flow
    positions = tuple(
        position_outcome(s, adjusted[s.security_id], market_value, trade_date)
        for s in problem.securities
    )
    invested = sum(p.adjusted_position_market_value for p in positions)
    return PortfolioRebalance(
        portfolio_id=portfolio_id,
        portfolio_name=portfolio_name,
        status=status,
        reason=reason,
        market_value=market_value,
        cash_before_rebalance=problem.cash,
        cash_after_rebalance=market_value - invested,
        positions=positions,
        options=problem.options,
    )


def in_band(position: PositionRebalance, market_value: Decimal) -> bool:
    """Whether a position ended inside its (hard) band of the portfolio's value, exactly: what
    stored positions report under options (computed from stored figures, not stored twice)."""
    value, target = position.adjusted_position_market_value, position.target
    with exact():
        low = market_value * (target - position.low_drift)
        return low <= value <= market_value * (target + position.high_drift)


def position_outcome(
    security: SecurityTarget, adjusted: Decimal, market_value: Decimal, trade_date: date
) -> PositionRebalance:
    """Before and after for one security: values, weight, drift and the trade between them."""
    security_id, price, quantity, target, low_drift, high_drift = security
    change = adjusted - quantity
    adjusted_value = adjusted * price
    actual = _weight(adjusted_value, market_value)
    # Positional, in PositionRebalance's field order, through tuple.__new__: a big run makes
    # ~10^7 of these, and the named tuple's keyword __new__ cost a third of this function.
    return _new_position(
        PositionRebalance,
        (
            security_id,
            price,
            quantity,  # original_quantity
            adjusted,  # adjusted_quantity
            quantity * price,  # original_position_market_value
            adjusted_value,  # adjusted_position_market_value
            target,
            high_drift,
            low_drift,
            actual,
            actual - target,  # actual_drift
            side_of(change),  # transaction_type
            abs(change),  # trade_quantity
            trade_date,
        ),
    )


_new_position = tuple.__new__


def _weight(value: Decimal, market_value: Decimal) -> Decimal:
    if market_value == 0:
        return Decimal(0)
    return (value / market_value).quantize(ACTUAL_PLACES, rounding=ROUND_HALF_UP)
