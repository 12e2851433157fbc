"""Input checks that raise: the problems no answer can be given for."""

from __future__ import annotations

from decimal import Decimal

from order_generation.domain.optimizer._exact import exact
from order_generation.domain.optimizer._problem import RebalanceProblem

_FIELDS = ("price", "quantity", "target", "low_drift", "high_drift")


def validate(problem: RebalanceProblem) -> None:
    """Raise ``ValueError`` for a duplicated security id or a NaN/infinite number, and
    ``TypeError`` for a number that is not a ``Decimal``."""
    securities = problem.securities
    if len({s.security_id for s in securities}) != len(securities):
        seen: set[str] = set()
        for security in securities:
            if security.security_id in seen:
                raise ValueError(
                    f"duplicate security_id {security.security_id!r}: each security must appear "
                    "once"
                )
            seen.add(security.security_id)
    # One exact sum is finite iff every number is (NaN and ±Infinity propagate or raise), which
    # is much cheaper than checking each; only a failure pays for finding the culprit.
    try:
        with exact():
            total = problem.cash
            for s in securities:
                total += s.price + s.quantity + s.target + s.low_drift + s.high_drift
        finite = total.is_finite()
    except (ArithmeticError, TypeError, AttributeError):
        finite = False
    if not finite:
        _find_bad_number(problem)
    if problem.options is not None:
        _check_options(problem)


def _check_options(problem: RebalanceProblem) -> None:
    """SPEC §8's rules on option values; an API or ``ogs solve`` has checked them already, so a
    failure here is a caller's defect, refused before it can mislead the solve."""
    options = problem.options
    assert options is not None
    for name in ("cash_flow", "cash_reserve", "min_trade_value"):
        _check_number(f"option {name}", getattr(options, name))
    if not 0 <= options.cash_reserve < 1:
        raise ValueError(f"option cash_reserve {options.cash_reserve} is not in [0, 1)")
    if options.min_trade_value < 0:
        raise ValueError(f"option min_trade_value {options.min_trade_value} is negative")
    if options.min_trade_quantity < 0:
        raise ValueError(f"option min_trade_quantity {options.min_trade_quantity} is negative")
    lots = {"default_lot_size": options.default_lot_size, **options.lot_sizes}
    for name, lot in lots.items():
        if not isinstance(lot, int) or lot < 1:
            raise ValueError(f"option lot size of {name} must be a whole number ≥ 1, not {lot}")


def _find_bad_number(problem: RebalanceProblem) -> None:
    _check_number("cash", problem.cash)
    for security in problem.securities:
        for name in _FIELDS:
            _check_number(f"security {security.security_id}: {name}", getattr(security, name))


def _check_number(name: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} {value} is not a finite number")
