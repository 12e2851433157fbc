"""One covering-knapsack MILP on exact integer data, run with HiGHS.

    minimise Σ costⱼ·xⱼ   subject to   Σ weightⱼ·xⱼ ≥ rhs,   0 ≤ xⱼ ≤ upperⱼ,   xⱼ whole

and, under trading options, a few side rows ``Σ aₖⱼ·xⱼ ≤ bₖ`` with small integer data (one choice
per security, a count of steps only with its segment's switch).

``integer_model`` scales decimal data *exactly* to integers and divides them by their gcd, so the
solver sees small exact numbers; with integral costs a relative gap of 0 is a proof.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from order_generation.domain.optimizer._exact import exact

_EXACT_FLOAT = 2**53  # every integer up to this is exact in a double


class OptimizerFailure(RuntimeError):
    """HiGHS failed on a problem that has a solution: a defect to investigate, not bad input
    (every problem that reaches the solver has at least the band minima as an answer)."""


@dataclass(frozen=True, slots=True)
class SideRow:
    """``Σ coefficients·x[columns] ≤ most``, in small exact integers."""

    columns: tuple[int, ...]
    coefficients: tuple[int, ...]
    most: int

    def holds(self, values: Sequence[int]) -> bool:
        used = sum(a * values[j] for j, a in zip(self.columns, self.coefficients, strict=True))
        return used <= self.most


@dataclass(slots=True)
class IntegerModel:
    weights: list[int]
    rhs: int
    upper: list[int]
    costs: list[float]
    exact: bool  # every number the solver sees is an exact integer
    side_rows: Sequence[SideRow] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    columns: list[int]
    proven: bool  # HiGHS's dual bound is within one cost unit of the objective of ``columns``


def integer_model(
    weights: Sequence[Decimal],
    costs: Sequence[Decimal],
    upper: Sequence[int],
    rhs: Decimal,
    worst: Decimal,
    side_rows: Sequence[SideRow] = (),
) -> IntegerModel:
    """Exact integer data for the solver. ``worst`` bounds every objective value worth
    considering; when it fits a double exactly, so does every cost sum the solver compares."""
    with exact():
        weight_scale = _decimal_places([*weights, rhs])
        row = [int(w.scaleb(weight_scale)) for w in weights]
        row_rhs = int(rhs.scaleb(weight_scale).to_integral_value(rounding=ROUND_CEILING))
        cost_scale = _decimal_places(costs)
        integer_costs = [int(c.scaleb(cost_scale)) for c in costs]
        divisor = math.gcd(*integer_costs) or 1
        worst_units = -(-int(worst.scaleb(cost_scale).to_integral_value(ROUND_CEILING)) // divisor)
    row_divisor = math.gcd(*row) or 1
    row = [w // row_divisor for w in row]
    row_rhs = -(-row_rhs // row_divisor)  # the left side is a multiple of the divisor
    integer_costs = [c // divisor for c in integer_costs]
    exact_data = worst_units < _EXACT_FLOAT and row_rhs < _EXACT_FLOAT and max(row) < _EXACT_FLOAT
    if exact_data:
        solver_costs = [float(c) for c in integer_costs]
    else:  # more significant digits than a double holds: keep ~52 bits of relative precision
        solver_costs = [(c << 52) / max(worst_units, 1) for c in integer_costs]
    return IntegerModel(row, row_rhs, list(upper), solver_costs, exact_data, side_rows)


def _decimal_places(values: Sequence[Decimal]) -> int:
    """The smallest s ≥ 0 such that every value·10^s is whole."""
    return max([0, *(-int(v.as_tuple().exponent) for v in values)])


def run_highs(model: IntegerModel, time_limit: float, *, tolerance: float = 1e-9) -> Outcome | None:
    """Solve ``model`` to a proven optimum; None when the time limit ran out first."""
    if time_limit <= 0:
        return None
    import highspy  # imported here: it pulls in numpy, and most problems never need it

    solver = _new_solver(highspy, time_limit, tolerance)
    solver.passModel(_highs_lp(highspy, model))
    solver.run()
    status = solver.getModelStatus()
    statuses = highspy.HighsModelStatus
    if status in (statuses.kTimeLimit, statuses.kInterrupt):
        return None
    if status != statuses.kOptimal:
        raise OptimizerFailure(f"HiGHS returned {solver.modelStatusToString(status)}")
    values = solver.getSolution().col_value
    columns = [min(max(round(v), 0), u) for v, u in zip(values, model.upper, strict=True)]
    objective = sum(c * x for c, x in zip(model.costs, columns, strict=True))
    return Outcome(columns, solver.getInfo().mip_dual_bound > objective - 1)


def _new_solver(highspy: Any, time_limit: float, tolerance: float) -> Any:
    # The raw binding (``_Highs``): the ``Highs`` wrapper installs callbacks whose set-up prints a
    # banner on stdout before any option can silence it, which would corrupt ``ogs solve`` output.
    solver = highspy._Highs()
    for name, value in (
        ("output_flag", False),
        ("threads", 1),
        ("random_seed", 0),
        ("mip_rel_gap", 0.0),
        ("mip_abs_gap", 0.0),
        ("mip_feasibility_tolerance", tolerance),
        ("primal_feasibility_tolerance", tolerance),
        ("time_limit", float(time_limit)),
    ):
        solver.setOptionValue(name, value)
    return solver


def _highs_lp(highspy: Any, model: IntegerModel) -> Any:
    count = len(model.weights)
    lp = highspy.HighsLp()
    lp.num_col_ = count
    lp.num_row_ = 1 + len(model.side_rows)
    lp.col_cost_ = model.costs
    lp.col_lower_ = [0.0] * count
    lp.col_upper_ = [float(u) for u in model.upper]
    lp.row_lower_ = [float(model.rhs)] + [-highspy.kHighsInf] * len(model.side_rows)
    lp.row_upper_ = [highspy.kHighsInf] + [float(r.most) for r in model.side_rows]
    starts, index, values = [0, count], list(range(count)), [float(w) for w in model.weights]
    for side in model.side_rows:
        index.extend(side.columns)
        values.extend(map(float, side.coefficients))
        starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = values
    lp.integrality_ = [highspy.HighsVarType.kInteger] * count
    return lp
