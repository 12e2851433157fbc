"""An independent exact oracle for the optimizer tests, and tests of the oracle itself.

The oracle shares no code with ``order_generation.domain.optimizer``: it works in ``Fraction``
arithmetic, finds each security's admissible whole units by trying them one by one (no floor or
ceiling of a quotient), and enumerates every combination. Other test modules import it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import pytest

from order_generation.domain.optimizer import RebalanceProblem, SecurityTarget

# Enumerations larger than this are not attempted (the caller skips the example).
DEFAULT_LIMIT = 40_000


@dataclass(frozen=True)
class OracleAnswer:
    feasible: bool
    objective: Fraction | None
    optimal_solutions: tuple[tuple[int, ...], ...]


def make_problem(cash: str, *rows: tuple[str, str, str, str, str, str]) -> RebalanceProblem:
    """Build a problem from strings: rows are (id, price, quantity, target, low, high)."""
    return RebalanceProblem(
        cash=Decimal(cash),
        securities=tuple(
            SecurityTarget(
                security_id=sid,
                price=Decimal(price),
                quantity=Decimal(quantity),
                target=Decimal(target),
                low_drift=Decimal(low),
                high_drift=Decimal(high),
            )
            for sid, price, quantity, target, low, high in rows
        ),
    )


def market_value(problem: RebalanceProblem) -> Fraction:
    return Fraction(problem.cash) + sum(
        (Fraction(s.quantity) * Fraction(s.price) for s in problem.securities), Fraction(0)
    )


def band(problem: RebalanceProblem, security: SecurityTarget) -> tuple[Fraction, Fraction]:
    mv = market_value(problem)
    target = Fraction(security.target)
    return (
        mv * (target - Fraction(security.low_drift)),
        mv * (target + Fraction(security.high_drift)),
    )


def admissible_units(problem: RebalanceProblem, security: SecurityTarget) -> list[int]:
    """Every whole unit count whose value lies in the band, found by trying each one."""
    price = Fraction(security.price)
    if price <= 0:
        return []
    low, high = band(problem, security)
    units: list[int] = []
    u = 0
    while u * price <= high:
        if u * price >= low:
            units.append(u)
        u += 1
    return units


def objective_of(problem: RebalanceProblem, units: Sequence[int]) -> Fraction:
    mv = market_value(problem)
    return sum(
        (
            abs(mv * Fraction(s.target) - u * Fraction(s.price))
            for s, u in zip(problem.securities, units, strict=True)
        ),
        Fraction(0),
    )


def check_solution(problem: RebalanceProblem, quantities: Mapping[str, int]) -> Fraction:
    """Assert that ``quantities`` satisfies every constraint exactly; return its objective."""
    ids = [s.security_id for s in problem.securities]
    assert list(quantities) == ids, "one quantity per security, in problem order"
    mv = market_value(problem)
    spend = Fraction(0)
    for security in problem.securities:
        units = quantities[security.security_id]
        assert isinstance(units, int)
        assert not isinstance(units, bool)
        assert units >= 0
        value = units * Fraction(security.price)
        low, high = band(problem, security)
        assert low <= value <= high, f"{security.security_id}: {value} outside [{low}, {high}]"
        spend += value
    assert spend <= mv, f"spend {spend} exceeds market value {mv}"
    return objective_of(problem, [quantities[i] for i in ids])


def brute_force(problem: RebalanceProblem, limit: int = DEFAULT_LIMIT) -> OracleAnswer | None:
    """Enumerate every whole-unit combination; None when there are more than ``limit``."""
    candidates = [admissible_units(problem, s) for s in problem.securities]
    if math.prod(len(c) for c in candidates) > limit:
        return None
    mv = market_value(problem)
    # Exact integers on a common denominator make the enumeration fast without losing exactness.
    fractions = [mv] + [
        x for s in problem.securities for x in (Fraction(s.price), mv * Fraction(s.target))
    ]
    scale = math.lcm(*(f.denominator for f in fractions))
    budget = int(mv * scale)
    spends = [
        [int(u * Fraction(s.price) * scale) for u in c]
        for s, c in zip(problem.securities, candidates, strict=True)
    ]
    costs = [
        [abs(int(mv * Fraction(s.target) * scale) - v) for v in row]
        for s, row in zip(problem.securities, spends, strict=True)
    ]
    best: int | None = None
    winners: list[tuple[int, ...]] = []
    for pick in itertools.product(*(range(len(c)) for c in candidates)):
        if sum(spends[i][j] for i, j in enumerate(pick)) > budget:
            continue
        cost = sum(costs[i][j] for i, j in enumerate(pick))
        units = tuple(candidates[i][j] for i, j in enumerate(pick))
        if best is None or cost < best:
            best, winners = cost, [units]
        elif cost == best:
            winners.append(units)
    if best is None:
        return OracleAnswer(feasible=False, objective=None, optimal_solutions=())
    return OracleAnswer(
        feasible=True, objective=Fraction(best, scale), optimal_solutions=tuple(winners)
    )


def feasible_by_bounds(problem: RebalanceProblem) -> bool:
    """The feasibility characterisation, for instances too big to enumerate.

    A solution exists iff every price is positive, every band holds a whole unit ≥ 0, and buying
    the fewest admissible units of every security fits in the market value.
    """
    mv = market_value(problem)
    minimum_spend = Fraction(0)
    for security in problem.securities:
        price = Fraction(security.price)
        if price <= 0:
            return False
        low, high = band(problem, security)
        first = max(0, math.ceil(low / price))
        if first * price > high:
            return False
        minimum_spend += first * price
    return minimum_spend <= mv


# --- tests of the oracle itself ----------------------------------------------------------------


def test_admissible_units_include_exact_band_edges() -> None:
    problem = make_problem("0", ("A", "25000", "40", "0.06", "0.01", "0"))
    # MV = 1,000,000: band [50,000, 60,000] holds exactly 2 units of 25,000.
    assert admissible_units(problem, problem.securities[0]) == [2]


def test_brute_force_finds_the_hand_computed_optimum() -> None:
    # MV 100; both targets 50 with bands [0, 100]. Nearest units (2, 2) cost 120 > 100.
    problem = make_problem(
        "100", ("A", "30", "0", "0.5", "0.5", "0.5"), ("B", "30", "0", "0.5", "0.5", "0.5")
    )
    answer = brute_force(problem)
    assert answer is not None
    assert answer.objective == 30
    assert set(answer.optimal_solutions) == {(1, 2), (2, 1)}


def test_brute_force_reports_infeasible() -> None:
    # Band [10, 20] of value cannot hold a unit priced 25.
    problem = make_problem("100", ("A", "25", "0", "0.15", "0.05", "0.05"))
    answer = brute_force(problem)
    assert answer == OracleAnswer(feasible=False, objective=None, optimal_solutions=())
    assert not feasible_by_bounds(problem)


@pytest.mark.parametrize(
    ("quantities", "ok"), [({"A": 1, "B": 2}, True), ({"A": 2, "B": 2}, False)]
)
def test_check_solution_rejects_overspending(quantities: dict[str, int], ok: bool) -> None:
    problem = make_problem(
        "100", ("A", "30", "0", "0.5", "0.5", "0.5"), ("B", "30", "0", "0.5", "0.5", "0.5")
    )
    if ok:
        assert check_solution(problem, quantities) == 30
    else:
        with pytest.raises(AssertionError):
            check_solution(problem, quantities)
