"""Property tests: the optimizer against an independent brute-force oracle and exact checks."""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, Context, Decimal, Inexact, localcontext
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from order_generation.domain.optimizer import (
    RebalanceProblem,
    RebalanceSolution,
    SecurityTarget,
    optimize_rebalance,
    optimize_rebalance_inline,
)
from tests.unit.test_optimizer_oracle import (
    admissible_units,
    band,
    brute_force,
    check_solution,
    feasible_by_bounds,
    market_value,
)

# Slow (hypothesis, processes, faults under load): `./test.sh -m "not slow"` skips it.
pytestmark = pytest.mark.slow

# Exact arithmetic for building test data: any rounding raises instead of passing silently.
EXACT = Context(prec=200, traps=[Inexact])


def decimals(low: int, high: int, places: int) -> st.SearchStrategy[Decimal]:
    """Decimals n·10^-places for n in [low, high], sometimes written without trailing zeros."""
    return st.builds(
        lambda n, squeeze: (
            Decimal(n).scaleb(-places).normalize() if squeeze else Decimal(n).scaleb(-places)
        ),
        st.integers(low, high),
        st.booleans(),
    )


def security(
    sid: str, price: Decimal, quantity: Decimal, target: Decimal, low: Decimal, high: Decimal
) -> SecurityTarget:
    return SecurityTarget(sid, price, quantity, target, low, high)


def assert_consistent(problem: RebalanceProblem, solution: RebalanceSolution) -> None:
    """Whatever the answer, it must be exactly right about what it claims."""
    assert Fraction(solution.market_value) == market_value(problem)
    if solution.status == "optimal":
        assert solution.reason is None
        assert Fraction(solution.objective or 0) == check_solution(problem, solution.quantities)
        return
    assert solution.status == "infeasible", solution
    assert solution.quantities == {}
    assert solution.objective is None
    reason = solution.reason
    assert reason is not None
    by_id = {s.security_id: s for s in problem.securities}
    if reason.kind == "empty_band":
        assert reason.security_id is not None
        named = by_id[reason.security_id]
        low, high = band(problem, named)
        assert Fraction(Decimal(reason.details["band_low"])) == low
        assert Fraction(Decimal(reason.details["band_high"])) == high
        price = Fraction(named.price)
        assert max(0, math.ceil(low / price)) * price > high
    elif reason.kind == "minimum_spend_exceeds_market_value":
        minimum = sum(
            (
                Fraction(min(admissible_units(problem, s))) * Fraction(s.price)
                for s in problem.securities
            ),
            Fraction(0),
        )
        assert Fraction(Decimal(reason.details["minimum_spend"])) == minimum > market_value(problem)
    elif reason.kind == "negative_market_value":
        assert market_value(problem) < 0
    else:
        raise AssertionError(f"unexpected reason {reason}")


# --- small problems, checked against brute force ----------------------------------------------


@st.composite
def small_problems(draw: st.DrawFn) -> RebalanceProblem:
    """Up to 4 securities whose prices are within a factor 5 of each other, so that every
    combination of whole units can be enumerated; sums of targets range widely, so the cash
    constraint binds in many examples."""
    n = draw(st.integers(1, 4))
    base = Decimal(draw(st.integers(1, 9999))).scaleb(draw(st.integers(-4, 2)))
    rows = []
    with localcontext(EXACT):
        for i in range(n):
            price = base * draw(decimals(10, 50, 1))
            quantity = draw(st.one_of(decimals(-5, 40, 1), decimals(0, 4000, 3)))
            target = draw(decimals(0, 600, 3))
            low, high = draw(decimals(0, 500, 3)), draw(decimals(0, 500, 3))
            rows.append(security(f"S{i}", price, quantity, target, low, high))
        cash = base * draw(decimals(0, 200, 1)) + draw(decimals(0, 99, 4))
    return RebalanceProblem(cash=cash, securities=tuple(rows))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(small_problems())
def test_small_problems_match_brute_force(problem: RebalanceProblem) -> None:
    oracle = brute_force(problem)
    assume(oracle is not None)
    assert oracle is not None
    solution = optimize_rebalance(problem)
    event(f"{solution.status} via {solution.method}")
    assert_consistent(problem, solution)
    assert (solution.status == "optimal") == oracle.feasible
    if oracle.feasible:
        assert Fraction(solution.objective or 0) == oracle.objective
        assert tuple(solution.quantities.values()) in oracle.optimal_solutions


@st.composite
def tied_problems(draw: st.DrawFn) -> RebalanceProblem:
    """Ideals exactly half-way between two whole units: price = 2·MV·t/(2k+1) is an exact
    decimal when 2k+1 is a power of 5. Holdings fall on either side, or half-way; the sum of
    targets can exceed 1 so that cash binds and the MILP's answer is checked too."""
    n = draw(st.integers(1, 4))
    mv = Decimal(draw(st.integers(1, 10**9))).scaleb(-2)
    rows, spent = [], Decimal(0)
    with localcontext(EXACT):
        for i in range(n):
            target = draw(decimals(1, 400, 3))
            odd = draw(st.sampled_from([1, 5, 25, 125]))
            price = 2 * mv * target / odd
            held = draw(
                st.sampled_from([Decimal(0), Decimal(odd) / 2, Decimal(odd), Decimal(odd + 7)])
            )
            low, high = draw(decimals(0, 1000, 3)), draw(decimals(0, 1000, 3))
            rows.append(security(f"S{i}", price, held, target, low, high))
            spent += held * price
        cash = mv - spent
    return RebalanceProblem(cash=cash, securities=tuple(rows))


@settings(max_examples=200, deadline=None)
@given(st.one_of(tied_problems(), small_problems()))
def test_ties_keep_the_unit_closer_to_the_holding(problem: RebalanceProblem) -> None:
    """No single security can move to an equally good unit that is closer to its holding."""
    solution = optimize_rebalance(problem)
    assert_consistent(problem, solution)
    assume(solution.status == "optimal")
    mv = market_value(problem)
    spend = sum(
        (solution.quantities[s.security_id] * Fraction(s.price) for s in problem.securities),
        Fraction(0),
    )
    for s in problem.securities:
        u, price, held = solution.quantities[s.security_id], Fraction(s.price), Fraction(s.quantity)
        ideal = mv * Fraction(s.target)
        for other in (u - 1, u + 1):
            if other not in admissible_units(problem, s) or spend + (other - u) * price > mv:
                continue
            if abs(ideal - other * price) == abs(ideal - u * price):
                event(f"tie via {solution.method}")
                assert abs(u - held) <= abs(other - held)


# --- realistic and extreme problems, checked exactly ------------------------------------------


@st.composite
def wide_problems(draw: st.DrawFn) -> RebalanceProblem:
    """Up to 30 securities, prices 0.01 to 500,000 (some with 6 decimals), market values up to
    10^9, holdings with up to 4 decimals, targets summing to between 0.5 and 1 (often exactly 1,
    so that rounding up can overspend), tight to wide drifts, and bands that reach down to 0."""
    n = draw(st.integers(1, 30))
    goal = Decimal(draw(st.integers(1, 10**6))).scaleb(draw(st.integers(-2, 3)))
    prices = [
        Decimal(draw(st.integers(1, 5000))).scaleb(draw(st.integers(-2, 2)))
        + draw(st.sampled_from([Decimal(0), Decimal(draw(st.integers(0, 9999))).scaleb(-6)]))
        for _ in range(n)
    ]
    weights = [draw(st.integers(0, 1000)) for _ in range(n)]
    total_target = draw(st.sampled_from([Decimal(1), draw(decimals(50, 100, 2))]))
    widest = draw(st.sampled_from([100, 1000, 10_000]))
    from_zero = draw(st.booleans())
    places = [Decimal(1).scaleb(-draw(st.integers(0, 4))) for _ in range(n)]
    rows = []
    spent = Decimal(0)
    with localcontext(Context(prec=60)) as ctx:
        for i, (price, weight, place) in enumerate(zip(prices, weights, places, strict=True)):
            share = Decimal(weight) / (sum(weights) or 1)
            quantity = (goal * share / price).quantize(place, rounding=ROUND_DOWN)
            target = (total_target * share).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
            low = target if from_zero else draw(decimals(0, widest, 4))
            high = draw(decimals(0, widest, 4))
            rows.append(security(f"S{i}", price, quantity, target, low, high))
            spent += quantity * price
        ctx.traps[Inexact] = True
        cash = goal - spent + draw(st.sampled_from([Decimal(0), draw(decimals(0, 10**6, 2))]))
    return RebalanceProblem(cash=cash, securities=tuple(rows))


@settings(max_examples=150, deadline=None)
@given(wide_problems())
def test_wide_problems_are_exact_and_deterministic(problem: RebalanceProblem) -> None:
    # Fully invested models whose prices mix whole cents with micro-cents can make proving the
    # optimum slow (docs/optimizer.md); a short limit keeps the suite fast and checks the
    # timeout path on real solver runs.
    solution = optimize_rebalance(problem, time_limit_seconds=1)
    event(f"{solution.status} via {solution.method}")
    if solution.status == "timeout":
        assert optimize_rebalance_inline(problem) is None, "only a cash-binding solve can time out"
        return
    assert_consistent(problem, solution)
    assert (solution.status == "optimal") == feasible_by_bounds(problem)
    assert optimize_rebalance(problem, time_limit_seconds=1) == solution


# --- bands whose edges are exact whole units --------------------------------------------------

POWERS_OF_2_AND_5 = [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 40, 50, 64, 80, 100, 125, 128, 1000]


@st.composite
def exact_edge_problems(draw: st.DrawFn) -> tuple[RebalanceProblem, dict[str, int]]:
    """Every band is [a·p, b·p] exactly and the ideal is exactly k units; the answer must be
    k clamped to [a, b]. Prices MV·t/k are exact decimals because k divides a power of ten."""
    n = draw(st.integers(1, 10))
    mv = Decimal(draw(st.integers(1, 10**11))).scaleb(-2)
    rows, expected = [], {}
    with localcontext(EXACT):
        for i in range(n):
            target = draw(decimals(1, 500, 4))  # Σ ≤ 0.5: even the upper edges fit in cash
            k = draw(st.sampled_from(POWERS_OF_2_AND_5))
            first = draw(st.integers(max(0, k - 3), 2 * k))
            last = draw(st.integers(first, 2 * k))
            price = mv * target / k
            low = target - target * first / k
            high = target * last / k - target
            rows.append(security(f"S{i}", price, Decimal(0), target, low, high))
            expected[f"S{i}"] = min(max(k, first), last)
    return RebalanceProblem(cash=mv, securities=tuple(rows)), expected


@settings(max_examples=150, deadline=None)
@given(exact_edge_problems())
def test_exact_band_edges_are_admissible(case: tuple[RebalanceProblem, dict[str, int]]) -> None:
    problem, expected = case
    solution = optimize_rebalance(problem)
    assert solution.status == "optimal"
    assert dict(solution.quantities) == expected
    assert_consistent(problem, solution)
