"""Exact decimal arithmetic, and the whole-unit bounds of one security.

Every computation of the optimizer that decides an answer runs in ``exact()``: a decimal context
with unlimited precision that *raises* on any rounding, so a wrong integer can never come from a
rounded intermediate (in floats, ``floor(1e6*(0.045+0.005)/25000)`` is 1 where the exact answer
is 2, and ``ceil(1e6*(0.0037-0.0012)/2500)`` is 2 where it is 1). Only ``+ - *``, comparisons and
``divmod`` are used: each is exact on finite decimals. Plain ``/`` is never used.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

_EXACT = Context(
    prec=MAX_PREC,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[Inexact, InvalidOperation, DivisionByZero, Overflow],
)


def exact() -> AbstractContextManager[Context]:
    """A context in which decimal arithmetic is exact or raises."""
    return localcontext(_EXACT)


def plain(value: Decimal) -> str:
    """A decimal in positional notation without trailing zeros (``13``, not ``13.0`` or
    ``1.3E+1``), exactly: normalising in the default 28-digit context could round."""
    return format(value.normalize(_EXACT), "f")


@dataclass(slots=True)  # not frozen: built once per security on the hot path, never shared
class UnitBounds:
    """One security's band in value and in whole units, computed exactly (units are integral
    Decimals so they multiply prices without conversion).

    ``first..last`` are the admissible units (``last < first`` when the band holds none);
    ``nearest`` is the admissible unit whose value is closest to ``ideal``.
    """

    price: Decimal
    ideal: Decimal
    low: Decimal
    high: Decimal
    first: Decimal
    last: Decimal
    nearest: Decimal


_ZERO = Decimal(0)
_ONE = Decimal(1)


def unit_bounds(
    market_value: Decimal,
    price: Decimal,
    holding: Decimal,
    target: Decimal,
    low: Decimal,
    high: Decimal,
) -> UnitBounds:
    """Bounds of one security (price > 0), in the ``exact()`` context.

    This runs once per security of every problem, so floor and ceiling are written out here
    rather than called (``divmod`` truncates toward zero; the remainder carries the sign).
    """
    ideal = market_value * target
    band_low = market_value * (target - low)
    band_high = market_value * (target + high)
    first, rest = divmod(band_low, price)
    if rest > _ZERO:
        first += _ONE
    if first < _ZERO:
        first = _ZERO
    last, rest = divmod(band_high, price)
    if rest < _ZERO:
        last -= _ONE
    nearest = nearest_unit(ideal, price, holding)
    if nearest < first:
        nearest = first
    elif nearest > last:
        nearest = last
    return UnitBounds(price, ideal, band_low, band_high, first, last, nearest)


def nearest_unit(ideal: Decimal, price: Decimal, holding: Decimal) -> Decimal:
    """The whole unit whose value is nearest ``ideal`` (price > 0), before any band clamping; at
    an exact tie, ``tie_break``. In the ``exact()`` context."""
    nearest, rest = divmod(ideal, price)
    if rest < _ZERO:
        nearest -= _ONE
        rest += price
    twice_rest = rest + rest
    if twice_rest > price:
        nearest += _ONE
    elif twice_rest == price:
        nearest = tie_break(nearest, holding)
    return nearest


def tie_break(lower: Decimal, holding: Decimal) -> Decimal:
    """The tie rule (SPEC §4.6), the one place it is written: of two adjacent whole units
    ``lower`` and ``lower + 1`` whose values are equally far from the ideal, the one nearer the
    current holding (less trading); ``lower`` when the holding is half-way between them too."""
    return lower + _ONE if holding + holding > lower + lower + _ONE else lower


def ceil_div(value: Decimal, price: Decimal) -> Decimal:
    """⌈value / price⌉ for price > 0, exactly."""
    quotient, remainder = divmod(value, price)
    return quotient + _ONE if remainder > _ZERO else quotient
