"""The last word on any answer: an independent exact check of every constraint.

It recomputes everything from the problem (no bound or unit computed elsewhere is reused) and
compares values by multiplication only, so a mistake in the bounds, the rounding or the solver
cannot slip through.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from order_generation.domain.optimizer._exact import exact
from order_generation.domain.optimizer._problem import RebalanceProblem
from order_generation.domain.trading_options import TradingOptions


class VerificationFailed(Exception):
    """An answer broke a constraint; the message says which."""


def verify(problem: RebalanceProblem, units: Sequence[Decimal]) -> Decimal:
    """Return the exact objective of ``units`` after checking that they are whole, non-negative,
    inside every band, and that they fit in the market value; raise ``VerificationFailed``."""
    with exact():
        market_value = problem.market_value
        spend = objective = Decimal(0)
        for security, unit in zip(problem.securities, units, strict=True):
            if unit < 0 or unit != unit.to_integral_value():
                raise VerificationFailed(f"{security.security_id}: {unit} is not a whole unit ≥ 0")
            value = unit * security.price
            target_value = market_value * security.target
            low = market_value * (security.target - security.low_drift)
            high = market_value * (security.target + security.high_drift)
            if not low <= value <= high:
                raise VerificationFailed(
                    f"{security.security_id}: value {value} is outside its band [{low}, {high}]"
                )
            spend += value
            objective += abs(target_value - value)
        if spend > market_value:
            raise VerificationFailed(f"spend {spend} exceeds the market value {market_value}")
        return objective


def verify_with_options(
    problem: RebalanceProblem,
    options: TradingOptions,
    units: Sequence[Decimal],
    *,
    widen: Decimal = Decimal(0),
) -> Decimal:
    """``verify`` under SPEC §8's options, read literally from the options themselves (not from
    the admissible segments the solver used): the exact objective against MV′ = MV + cash_flow,
    or ``VerificationFailed``. ``widen`` is the band widening of ``relax``."""
    restrictions, lots = options.restrictions, options.lot_sizes
    mode_no_buy, mode_no_sell = options.mode == "sell_only", options.mode == "buy_only"
    min_quantity, min_value = options.min_trade_quantity, options.min_trade_value
    soft = options.bands == "soft"
    with exact():
        market_value = problem.market_value + options.cash_flow
        spend = objective = Decimal(0)
        for security, unit in zip(problem.securities, units, strict=True):
            sid, price, holding = security.security_id, security.price, security.quantity
            restriction = restrictions.get(sid) if restrictions else None
            no_buy = mode_no_buy or restriction in ("no_buy", "locked")
            no_sell = mode_no_sell or restriction in ("no_sell", "locked")
            if unit < 0 or not (
                unit == unit.to_integral_value() or (no_buy and no_sell and unit == holding)
            ):
                raise VerificationFailed(f"{sid}: {unit} is not a whole unit ≥ 0")
            if (no_buy and unit > holding) or (no_sell and unit < holding):
                raise VerificationFailed(f"{sid}: {unit} trades against its restriction or mode")
            trade = abs(unit - holding)
            if trade and not (unit == 0 and holding > 0):  # selling out is always allowed
                lot = lots.get(sid, options.default_lot_size)
                if lot != 1 and (unit - holding.to_integral_value(ROUND_FLOOR)) % lot:
                    raise VerificationFailed(f"{sid}: the trade to {unit} is not in lots of {lot}")
                if trade < min_quantity or trade * price < min_value:
                    raise VerificationFailed(f"{sid}: the trade to {unit} is below the minimum")
            value = unit * price
            target = security.target
            if not soft:
                low = market_value * (target - security.low_drift - widen)
                high = market_value * (target + security.high_drift + widen)
                if no_buy:  # a forbidden direction waives that side of the band, to the holding
                    low = min(low, holding.to_integral_value(ROUND_FLOOR) * price)
                if no_sell:
                    high = max(high, holding.to_integral_value(ROUND_CEILING) * price)
                if not low <= value <= high:
                    raise VerificationFailed(f"{sid}: value {value} is outside [{low}, {high}]")
            spend += value
            objective += abs(market_value * target - value)
        room = market_value * (1 - options.cash_reserve)
        if spend > room:
            raise VerificationFailed(f"spend {spend} exceeds the cash row {room}")
        return objective
