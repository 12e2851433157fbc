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
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from order_generation.domain.optimizer._exact import exact
from order_generation.domain.optimizer._highs import OptimizerFailure, integer_model, run_highs

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
class _Column:
    owner: int  # position in the cuttable items
    weight: Decimal
    cost: Decimal
    upper: int


def cheapest_cuts(items: Sequence[Cuttable], excess: Decimal, time_limit: float) -> Cuts:
    """The cuts of least objective that remove at least ``excess`` of spend."""
    deadline = time.monotonic() + time_limit
    columns = _columns(items)
    with exact():
        worst = excess + max(item.price for item in items)  # any greedy cover costs less
        model = integer_model(
            [c.weight for c in columns],
            [c.cost for c in columns],
            [c.upper for c in columns],
            excess,
            worst,
        )
    tolerance = 1e-9
    for _ in range(_MAX_ATTEMPTS):
        outcome = run_highs(model, deadline - time.monotonic(), tolerance=tolerance)
        if outcome is None:
            return Cuts(None, False)
        covered = sum(w * x for w, x in zip(model.weights, outcome.columns, strict=True))
        if covered >= model.rhs:
            return Cuts(_by_index(items, columns, outcome.columns), model.exact and outcome.proven)
        if tolerance > _TIGHTEST:
            tolerance = _TIGHTEST
        else:  # ask for the deficit too: feasible, but no longer a proof of optimality
            model.rhs += model.rhs - covered
            model.exact = False
    raise OptimizerFailure("HiGHS kept returning cuts that do not cover the excess spend")


def _columns(items: Sequence[Cuttable]) -> list[_Column]:
    columns = []
    with exact():
        for position, item in enumerate(items):
            first_cut = item.surplus > 0
            if first_cut:
                cost = item.price - 2 * item.surplus
                columns.append(_Column(position, item.price, cost, 1))
            if item.most > first_cut:
                upper = item.most - first_cut
                columns.append(_Column(position, item.price, item.price, upper))
    return columns


def _by_index(
    items: Sequence[Cuttable], columns: Sequence[_Column], values: Sequence[int]
) -> dict[int, int]:
    cuts: dict[int, int] = {}
    for column, x in zip(columns, values, strict=True):
        index = items[column.owner].index
        cuts[index] = cuts.get(index, 0) + x
    return cuts
