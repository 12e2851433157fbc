"""When cash binds: choose which securities to cut below their nearest unit.

Start from the nearest admissible units u*ᵢ, which overspend by ``excess`` = Σ u*ᵢ·pᵢ − MV > 0.
An optimal answer never buys more than u*ᵢ (moving toward u*ᵢ lowers both the cost and the
spend), so write uᵢ = u*ᵢ − kᵢ with whole cuts kᵢ ≥ 0. With sᵢ = u*ᵢ·pᵢ − MV·tᵢ the surplus of
the nearest unit (sᵢ ≤ pᵢ/2 whenever a cut is possible), cutting kᵢ ≥ 1 units changes the
objective by exactly kᵢ·pᵢ − 2·max(sᵢ, 0). So the problem is a covering knapsack:

    minimise Σ (pᵢ − 2sᵢ⁺)·zᵢ + Σ pᵢ·wᵢ   subject to   Σ pᵢ·(zᵢ + wᵢ) ≥ excess

with zᵢ ∈ {0, 1} the first cut of a security above its ideal (only when sᵢ > 0) and wᵢ the
further cuts ("fill"). No linking constraint is needed: a first cut is never dearer than a
further one. Bounds are tight: kᵢ ≤ u*ᵢ − firstᵢ (stay in the band) and kᵢ ≤ ⌈excess/pᵢ⌉ (an
optimal answer never overshoots by a whole unit it could put back).

The covering row and the costs are scaled exactly to integers and divided by their gcd, so
HiGHS sees small exact numbers; with integral costs, its relative gap of 0 proves the optimum.
The row is re-checked in integers: HiGHS's feasibility tolerance is relative to the row's scale,
so a huge row could pass a few units short; such an answer is re-solved with the tightest
tolerance before being accepted.

Under trading options (``cheapest_choices``) a security's admissible cuts are a few arithmetic
progressions ``aⱼ, aⱼ + sⱼ, …`` (a lot, a minimum trade's hole, selling out), not ``1, 2, …``;
each becomes a switch yⱼ ∈ {0, 1} worth a cut of aⱼ plus a count kⱼ ≤ mⱼ·yⱼ of further steps,
with Σⱼ yⱼ ≤ 1 per security. Below the nearest unit every admissible unit lies at or below the
ideal (else it would be nearer), so the cost stays linear in the cut and the same covering
argument holds: cutting d > 0 costs d·pᵢ − 2sᵢ⁺. A single progression that starts one step
below the nearest unit is today's pair of columns, counted in steps.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from order_generation.domain.optimizer._exact import exact
from order_generation.domain.optimizer._highs import (
    IntegerModel,
    OptimizerFailure,
    SideRow,
    integer_model,
    run_highs,
)

_MAX_ATTEMPTS = 3
_TIGHTEST = 1e-10  # HiGHS's smallest feasibility tolerance


@dataclass(frozen=True, slots=True)
class Cuttable:
    """A security whose holding can be cut below its nearest unit."""

    index: int
    price: Decimal
    surplus: Decimal  # nearest·price − ideal
    most: int  # most whole units that may be cut


@dataclass(frozen=True, slots=True)
class Cuts:
    """Units cut per security index (None after a timeout). ``proven`` is False only when the
    solver could not be given exact data (see ``RebalanceSolution.method``)."""

    by_index: dict[int, int] | None
    proven: bool


@dataclass(frozen=True, slots=True)
class CutRange:
    """The cuts ``first, first + step, …, first + step·count`` (whole units, ``count ≥ 0``)."""

    first: int
    step: int
    count: int


@dataclass(frozen=True, slots=True)
class Choosable:
    """A security whose admissible units below its nearest unit are a few progressions."""

    index: int
    price: Decimal
    surplus: Decimal  # nearest·price − ideal
    ranges: tuple[CutRange, ...]  # ascending cuts


@dataclass(frozen=True, slots=True)
class _Column:
    index: int  # the security's index in the problem
    weight: Decimal
    cost: Decimal
    upper: int
    cut: int = 1  # units cut per unit of the column


def cheapest_cuts(items: Sequence[Cuttable], excess: Decimal, time_limit: float) -> Cuts:
    """The cuts of least objective that remove at least ``excess`` of spend."""
    deadline = time.monotonic() + time_limit
    columns = _columns(items)
    with exact():
        worst = excess + max(item.price for item in items)  # any greedy cover costs less
    return _cover(columns, excess, worst, (), deadline)


def cheapest_choices(items: Sequence[Choosable], excess: Decimal, time_limit: float) -> Cuts:
    """``cheapest_cuts`` where each security's cuts are the progressions of ``ranges``."""
    deadline = time.monotonic() + time_limit
    columns: list[_Column] = []
    side_rows: list[SideRow] = []
    with exact():
        for item in items:
            only = item.ranges[0]
            if len(item.ranges) == 1 and only.first == only.step:
                lots = Cuttable(item.index, item.price * only.step, item.surplus, only.count + 1)
                columns.extend(_columns([lots], cut=only.step))
                continue
            switches = []
            discount = 2 * max(item.surplus, Decimal(0))
            for cuts in item.ranges:
                weight = item.price * cuts.first
                switches.append(len(columns))
                columns.append(_Column(item.index, weight, weight - discount, 1, cuts.first))
                if cuts.count:
                    step = item.price * cuts.step
                    side_rows.append(SideRow((len(columns), switches[-1]), (1, -cuts.count), 0))
                    columns.append(_Column(item.index, step, step, cuts.count, cuts.step))
            if len(switches) > 1:
                side_rows.append(SideRow(tuple(switches), (1,) * len(switches), 1))
        worst = sum((c.weight * c.upper for c in columns), Decimal(0))
    return _cover(columns, excess, worst, side_rows, deadline)


def _cover(
    columns: Sequence[_Column],
    excess: Decimal,
    worst: Decimal,
    side_rows: Sequence[SideRow],
    deadline: float,
) -> Cuts:
    with exact():
        model = integer_model(
            [c.weight for c in columns],
            [c.cost for c in columns],
            [c.upper for c in columns],
            excess,
            worst,
            side_rows,
        )
    tolerance = 1e-9
    for _ in range(_MAX_ATTEMPTS):
        outcome = run_highs(model, deadline - time.monotonic(), tolerance=tolerance)
        if outcome is None:
            return Cuts(None, False)
        covered = sum(w * x for w, x in zip(model.weights, outcome.columns, strict=True))
        if covered >= model.rhs and _sides_hold(model, outcome.columns):
            return Cuts(_by_index(columns, outcome.columns), model.exact and outcome.proven)
        if tolerance > _TIGHTEST:
            tolerance = _TIGHTEST
        elif covered < model.rhs:  # ask for the deficit too: feasible, no longer a proof
            model.rhs += model.rhs - covered
            model.exact = False
    raise OptimizerFailure("HiGHS kept returning cuts that do not cover the excess spend")


def _sides_hold(model: IntegerModel, values: Sequence[int]) -> bool:
    return all(side.holds(values) for side in model.side_rows)


def _columns(items: Sequence[Cuttable], *, cut: int = 1) -> list[_Column]:
    columns = []
    with exact():
        for item in items:
            first_cut = item.surplus > 0
            if first_cut:
                cost = item.price - 2 * item.surplus
                columns.append(_Column(item.index, item.price, cost, 1, cut))
            if item.most > first_cut:
                upper = item.most - first_cut
                columns.append(_Column(item.index, item.price, item.price, upper, cut))
    return columns


def _by_index(columns: Sequence[_Column], values: Sequence[int]) -> dict[int, int]:
    cuts: dict[int, int] = {}
    for column, x in zip(columns, values, strict=True):
        cuts[column.index] = cuts.get(column.index, 0) + x * column.cut
    return cuts
