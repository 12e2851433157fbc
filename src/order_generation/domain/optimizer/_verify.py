"""The last word on any answer: an independent exact check of every constraint.

It recomputes everything from the problem (no bound or unit computed elsewhere is reused) and
compares values by multiplication only, so a mistake in the bounds, the rounding or the solver
cannot slip through.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from order_generation.domain.optimizer._exact import exact
from order_generation.domain.optimizer._problem import RebalanceProblem, SecurityTarget
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
    with exact():
        market_value = problem.market_value + options.cash_flow
        spend = objective = Decimal(0)
        for security, unit in zip(problem.securities, units, strict=True):
            _check_unit(security, options, unit, market_value, widen)
            spend += unit * security.price
            objective += abs(market_value * security.target - unit * security.price)
        room = market_value * (1 - options.cash_reserve)
        if spend > room:
            raise VerificationFailed(f"spend {spend} exceeds the cash row {room}")
        return objective


def _check_unit(
    security: SecurityTarget,
    options: TradingOptions,
    unit: Decimal,
    market_value: Decimal,
    widen: Decimal,
) -> None:
    sid, price, holding = security.security_id, security.price, security.quantity
    restriction = options.restrictions.get(sid)
    no_buy = options.mode == "sell_only" or restriction in ("no_buy", "locked")
    no_sell = options.mode == "buy_only" or restriction in ("no_sell", "locked")
    whole = unit == unit.to_integral_value()
    if unit < 0 or not (whole or (no_buy and no_sell and unit == holding)):
        raise VerificationFailed(f"{sid}: {unit} is not a whole unit ≥ 0")
    if (no_buy and unit > holding) or (no_sell and unit < holding):
        raise VerificationFailed(f"{sid}: {unit} trades against its restriction or mode")
    trade = abs(unit - holding)
    if trade and not (unit == 0 and holding > 0):  # selling out is always allowed
        lot = options.lot_sizes.get(sid, options.default_lot_size)
        if (unit - holding.to_integral_value(ROUND_FLOOR)) % lot:
            raise VerificationFailed(f"{sid}: the trade to {unit} is not in lots of {lot}")
        if trade < options.min_trade_quantity or trade * price < options.min_trade_value:
            raise VerificationFailed(f"{sid}: the trade to {unit} is below the minimum trade")
    if options.bands == "soft":
        return
    low = market_value * (security.target - security.low_drift - widen)
    high = market_value * (security.target + security.high_drift + widen)
    if no_buy:  # a forbidden direction waives that side of the band, to the holding
        low = min(low, holding.to_integral_value(ROUND_FLOOR) * price)
    if no_sell:
        high = max(high, holding.to_integral_value(ROUND_CEILING) * price)
    if not low <= unit * price <= high:
        raise VerificationFailed(f"{sid}: value {unit * price} is outside its band [{low}, {high}]")
