"""Which units of one security the trading options admit (SPEC §8; docs/adr/0011).

Every option is a change of one security's admissible units, and together they always come out
as a short sorted list of ``Segment``s — arithmetic progressions of whole units — so the solver
needs no code per option. With no options the list is today's one band interval.

``tests/unit/test_optimizer_admissible.py`` holds it to the independent oracle of SPEC §8.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from order_generation.domain.optimizer._exact import ceil_div, exact
from order_generation.domain.trading_options import SecurityRules

_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Segment:
    """The units ``first, first + step, …, last`` (``last − first`` a multiple of ``step``).
    A locked fractional holding is the one segment that is not whole: ``(u, u, 1)``."""

    first: Decimal
    last: Decimal
    step: Decimal

    def units(self) -> Iterator[Decimal]:
        unit = self.first
        while unit <= self.last:
            yield unit
            unit += self.step

    def __contains__(self, unit: object) -> bool:
        if not isinstance(unit, Decimal) or not self.first <= unit <= self.last:
            return False
        with exact():
            return (unit - self.first) % self.step == 0


def admissible_segments(
    price: Decimal,
    holding: Decimal,
    band_low: Decimal,
    band_high: Decimal,
    most_value: Decimal,
    rules: SecurityRules,
) -> list[Segment]:
    """The admissible units of a security (price > 0) holding ``holding``, whose band is
    ``[band_low, band_high]`` in value, as sorted disjoint segments; none worth more than
    ``most_value`` (no feasible answer spends more than its cash row on one security).

    Buying forbidden keeps ``⌊holding⌋`` admissible whatever the band (and selling forbidden
    ``⌈holding⌉``): a restriction waives the band on the side it forbids. Trades other than
    selling out are multiples of the lot counted from ``⌊holding⌋`` and at least the minimum
    trade. A locked fractional holding stays as it is. In the ``exact()`` context (the
    caller's: this runs once per security of every constrained solve).
    """
    whole = _floor_div(holding, _ONE)
    if rules.no_buy and rules.no_sell and holding != whole:
        fits = holding >= _ZERO and holding * price <= most_value
        return [Segment(holding, holding, _ONE)] if fits else []
    above = whole if holding == whole else whole + _ONE  # ⌈holding⌉
    low, high = (_ZERO, most_value) if rules.soft_band else (band_low, band_high)
    if rules.no_buy:
        low = min(low, whole * price)
    if rules.no_sell:
        high = max(high, above * price)
    first = max(_ZERO, ceil_div(low, price))
    last = _floor_div(min(high, most_value), price)
    if rules.no_buy:
        last = min(last, whole)
    if rules.no_sell:
        first = max(first, above)
    if first > last:
        return []
    if rules.lot == 1 and not rules.min_trade_quantity and not rules.min_trade_value:
        return [Segment(first, last, _ONE)]  # every unit: selling out is in it if admitted
    return _trades(first, last, holding, whole, price, rules)


def nearest_admissible(
    segments: list[Segment], ideal: Decimal, price: Decimal, holding: Decimal
) -> Decimal:
    """The admissible unit whose value is nearest ``ideal``; of equally near ones the one nearest
    the holding (the least trade, SPEC §4.6), then the smaller; ValueError when ``segments`` is
    empty. In the ``exact()`` context."""
    best: tuple[Decimal, Decimal, Decimal] | None = None
    for segment in segments:
        for unit in _around(segment, ideal, price):
            key = (abs(ideal - unit * price), abs(unit - holding), unit)
            if best is None or key < best:
                best = key
    if best is None:
        raise ValueError("no admissible unit")
    return best[2]


def _around(segment: Segment, ideal: Decimal, price: Decimal) -> tuple[Decimal, ...]:
    """The segment's units on either side of ``ideal / price`` (one at either end)."""
    steps = _floor_div(ideal - segment.first * price, segment.step * price)
    steps = min(max(steps, _ZERO), (segment.last - segment.first) / segment.step)
    lower = segment.first + steps * segment.step
    return (lower, lower + segment.step) if lower < segment.last else (lower,)


def _trades(
    first: Decimal,
    last: Decimal,
    holding: Decimal,
    whole: Decimal,
    price: Decimal,
    rules: SecurityRules,
) -> list[Segment]:
    """The units of ``first..last`` that the lot and the minimum trade allow (exact context)."""
    lot = Decimal(rules.lot)
    segments: list[Segment] = []
    if rules.min_trade_quantity == 0 and rules.min_trade_value == 0:
        segments.append(_lattice(first, last, whole, lot))
    else:
        # A trade other than none reaches the minimum quantity and the minimum value: the units
        # strictly between ``below`` and ``above`` trade too little.
        below = _floor_div(holding - Decimal(rules.min_trade_quantity), _ONE)
        below = min(below, _floor_div(holding * price - rules.min_trade_value, price))
        above = ceil_div(holding + Decimal(rules.min_trade_quantity), _ONE)
        above = max(above, ceil_div(holding * price + rules.min_trade_value, price))
        segments.append(_lattice(first, min(last, below), whole, lot))
        segments.append(_lattice(max(first, above), last, whole, lot))
        if holding == whole and first <= holding <= last:
            segments.append(Segment(holding, holding, _ONE))  # no trade
    if holding > 0 and first == 0:
        segments.append(Segment(_ZERO, _ZERO, _ONE))  # selling out is always allowed
    return _disjoint(segments)


def _lattice(first: Decimal, last: Decimal, anchor: Decimal, step: Decimal) -> Segment:
    """The units ``anchor + k·step`` within ``first..last`` (possibly an empty segment)."""
    start = anchor + ceil_div(first - anchor, step) * step
    end = anchor + _floor_div(last - anchor, step) * step
    return Segment(start, end, step)


def _disjoint(segments: list[Segment]) -> list[Segment]:
    """Sorted, without empty segments and without single units another segment holds."""
    kept = [s for s in segments if s.first < s.last]
    for single in (s for s in segments if s.first == s.last):
        if not any(single.first in other for other in kept):
            kept.append(single)
    return sorted(kept, key=lambda s: s.first)


def _floor_div(value: Decimal, divisor: Decimal) -> Decimal:
    quotient, remainder = divmod(value, divisor)
    return quotient - _ONE if remainder < 0 else quotient
