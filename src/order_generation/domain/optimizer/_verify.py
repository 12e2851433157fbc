"""The last word on any answer: an independent exact check of every constraint.

It recomputes everything from the problem (no bound or unit computed elsewhere is reused) and
compares values by multiplication only, so a mistake in the bounds, the rounding or the solver
cannot slip through.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from order_generation.domain.optimizer._exact import exact
from order_generation.domain.optimizer._problem import RebalanceProblem


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
