"""Worked examples for the optimizer: each path, each infeasibility reason, ties, exact edges."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from order_generation.domain.optimizer import (
    Infeasibility,
    RebalanceProblem,
    RebalanceSolution,
    SecurityTarget,
    optimize_rebalance,
    optimize_rebalance_inline,
)
from tests.unit.test_optimizer_oracle import brute_force, check_solution, make_problem

WIDE = ("0.5", "0.5")  # low/high drift that allow anything from 0 to the whole market value


def solve(problem: RebalanceProblem) -> RebalanceSolution:
    solution = optimize_rebalance(problem)
    if solution.status == "optimal":
        assert solution.objective == check_solution(problem, solution.quantities)
    return solution


# --- the uncoupled path: nearest whole unit per security --------------------------------------


def test_nearest_units_when_cash_does_not_bind() -> None:
    problem = make_problem(
        "10000",
        ("A", "100", "0", "0.3", "0.05", "0.05"),  # ideal 3,000 = 30 units exactly
        ("B", "33", "0", "0.2", "0.05", "0.05"),  # ideal 2,000 ≈ 60.6 units → 61
    )
    solution = solve(problem)
    assert solution.status == "optimal"
    assert solution.market_value == Decimal("10000")
    assert dict(solution.quantities) == {"A": 30, "B": 61}
    assert solution.objective == Decimal("13")
    assert solution.reason is None
    assert solution.method == "separable"


def test_quantities_are_plain_ints_in_problem_order() -> None:
    problem = make_problem(
        "1000", ("Z", "10", "0", "0.1", "0.1", "0.1"), ("A", "10", "0", "0.1", "0.1", "0.1")
    )
    solution = solve(problem)
    assert list(solution.quantities) == ["Z", "A"]
    assert all(type(u) is int for u in solution.quantities.values())


def test_held_security_outside_the_model_is_sold() -> None:
    problem = make_problem(
        "100", ("OLD", "10", "7", "0", "0", "0"), ("NEW", "10", "0", "0.5", "0.1", "0.1")
    )
    solution = solve(problem)
    assert dict(solution.quantities) == {"OLD": 0, "NEW": 8}  # MV 170, ideal 85 → 8.5 → tie
    # The tie between 8 and 9 units goes to the one closer to the holding (0): 8.


def test_fractional_and_negative_holdings_count_in_market_value() -> None:
    problem = make_problem(
        "100",
        ("A", "10", "2.5", "0.5", "0.5", "0.5"),
        ("B", "20", "-1", "0", "0", "0"),
    )
    solution = solve(problem)
    assert solution.market_value == Decimal("105.0")
    assert dict(solution.quantities) == {"A": 5, "B": 0}


def test_empty_portfolio_holds_nothing() -> None:
    problem = make_problem("0", ("A", "10", "0", "0.5", "0.1", "0.1"))
    solution = solve(problem)
    assert (solution.status, dict(solution.quantities), solution.objective) == (
        "optimal",
        {"A": 0},
        Decimal(0),
    )


def test_no_securities_is_trivially_optimal() -> None:
    solution = solve(make_problem("5"))
    assert (solution.status, dict(solution.quantities), solution.objective) == (
        "optimal",
        {},
        Decimal(0),
    )


# --- ties: keep the unit closer to the current holding ----------------------------------------


@pytest.mark.parametrize(
    ("cash", "held", "expected"),
    [
        ("1000", "0", 2),  # ideal 50 = 2.5 units of 20; holding 0 is closer to 2
        ("940", "3", 3),  # same MV, holding 3 → keep 3
        ("950", "2.5", 2),  # holding exactly half-way: the smaller purchase
        ("880", "6", 3),  # holding 6 is closer to 3 than to 2
    ],
)
def test_tie_keeps_the_unit_closer_to_the_holding(cash: str, held: str, expected: int) -> None:
    problem = make_problem(cash, ("A", "20", held, "0.05", "0.05", "0.05"))
    solution = solve(problem)
    assert solution.market_value == Decimal(1000)
    assert solution.quantities["A"] == expected


@pytest.mark.parametrize(("held", "expected"), [("0", 2), ("3", 3)])
def test_tie_rule_on_the_clamped_path(held: str, expected: int) -> None:
    # B's nearest unit (3 × 35 = 105) is above its band [50, 100]: the fast path gives up and
    # every security goes through the full bounds, where A's tie (ideal 50 = 2.5 units of 20)
    # is decided by the same rule.
    cash = str(1000 - 20 * int(held))
    problem = make_problem(
        cash, ("A", "20", held, "0.05", "0.05", "0.05"), ("B", "35", "0", "0.1", "0.05", "0")
    )
    solution = solve(problem)
    assert solution.market_value == Decimal(1000)
    assert dict(solution.quantities) == {"A": expected, "B": 2}
    assert solution.method == "separable"


def test_tie_rule_on_the_cash_binding_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # A (ideal 25 = 2.5 units of 10, holds 3, band [20, 30]) and C (one unit of 90, ideal 85)
    # overspend the market value of 100 by 20: only cutting C covers that, and cutting A from 3
    # to 2 as well costs nothing (a tie). A solver may return either optimum; the answer must
    # keep A at 3, nearer its holding. The solver is made to return the other one here.
    from order_generation.domain.optimizer import _solve

    real = _solve.cheapest_cuts

    def with_the_free_tie_cut(items: Any, excess: Decimal, remaining: float) -> Any:
        cuts = real(items, excess, remaining)
        assert cuts.by_index is not None
        return replace(cuts, by_index={**cuts.by_index, 0: 1})

    monkeypatch.setattr(_solve, "cheapest_cuts", with_the_free_tie_cut)
    problem = make_problem(
        "70", ("A", "10", "3", "0.25", "0.05", "0.05"), ("C", "90", "0", "0.85", "0.85", "0.15")
    )
    solution = solve(problem)
    assert solution.method == "milp"
    assert dict(solution.quantities) == {"A": 3, "C": 0}


# --- exactness at band edges: where float floor/ceil pick the wrong integer --------------------


def test_exact_upper_edge_that_float_floor_misses() -> None:
    # Band [40,000, 50,000] at price 25,000 holds exactly 2 units (50,000 is the upper edge).
    assert math.floor(1e6 * (0.045 + 0.005) / 25000) == 1  # the float trap this guards against
    problem = make_problem("1000000", ("A", "25000", "0", "0.045", "0.005", "0.005"))
    solution = solve(problem)
    assert solution.status == "optimal"
    assert solution.quantities["A"] == 2


def test_exact_lower_edge_that_float_ceil_misses() -> None:
    # Band [2,500, …]: 1 unit of 2,500 sits exactly on the lower edge and is the nearest to 3,700.
    assert math.ceil(1e6 * (0.0037 - 0.0012) / 2500) == 2  # the float trap
    problem = make_problem("1000000", ("A", "2500", "0", "0.0037", "0.0012", "0.01"))
    solution = solve(problem)
    assert solution.quantities["A"] == 1
    assert solution.objective == Decimal(1200)


def test_single_point_bands_are_hit_exactly() -> None:
    problem = make_problem(
        "1000000",
        ("A", "25000", "0", "0.05", "0", "0"),
        ("B", "0.01", "0", "0.3", "0", "0"),
        ("C", "333.33", "0", "0.33333", "0", "0"),
    )
    solution = solve(problem)
    assert dict(solution.quantities) == {"A": 2, "B": 30_000_000, "C": 1000}
    assert solution.objective == 0


# --- cash binds: the MILP path ----------------------------------------------------------------


def test_cash_binding_finds_the_unique_optimum() -> None:
    # Nearest units (2 A, 1 B) would spend 105 of an MV of 100; the best affordable is (1, 1).
    problem = make_problem("100", ("A", "30", "0", "0.5", *WIDE), ("B", "45", "0", "0.5", *WIDE))
    assert optimize_rebalance_inline(problem) is None
    solution = solve(problem)
    assert solution.status == "optimal"
    assert dict(solution.quantities) == {"A": 1, "B": 1}
    assert solution.objective == 25
    assert solution.method == "milp"


def test_cash_binding_matches_brute_force_with_several_optima() -> None:
    problem = make_problem("100", ("A", "30", "0", "0.5", *WIDE), ("B", "30", "0", "0.5", *WIDE))
    solution = solve(problem)
    oracle = brute_force(problem)
    assert oracle is not None
    assert solution.objective == oracle.objective == 30
    assert tuple(solution.quantities.values()) in oracle.optimal_solutions


def test_cash_binding_with_lower_bands_forcing_purchases() -> None:
    problem = make_problem(
        "0",
        ("A", "7", "10", "0.3", "0.1", "0.4"),
        ("B", "11", "5", "0.3", "0.02", "0.4"),
        ("C", "13", "3", "0.4", "0.02", "0.4"),
    )
    solution = solve(problem)
    oracle = brute_force(problem)
    assert oracle is not None
    assert oracle.feasible
    assert solution.status == "optimal"
    assert solution.objective == oracle.objective


def test_zero_time_limit_times_out_only_when_the_solver_is_needed() -> None:
    binding = make_problem("100", ("A", "30", "0", "0.5", *WIDE), ("B", "45", "0", "0.5", *WIDE))
    solution = optimize_rebalance(binding, time_limit_seconds=0)
    assert solution.status == "timeout"
    assert solution.quantities == {}
    assert solution.objective is None
    assert solution.reason is not None
    assert solution.reason.kind == "timeout"
    easy = make_problem("100", ("A", "10", "0", "0.5", "0.1", "0.1"))
    assert optimize_rebalance(easy, time_limit_seconds=0).status == "optimal"


def test_a_slow_proof_times_out_with_a_reason() -> None:
    """A fully invested model (found by hypothesis) whose prices mix whole units with
    micro-units, overspending by 4,647: the optimum needs an exact micro-unit fill that branch
    and bound takes seconds to find and prove (docs/optimizer.md, "Limits")."""
    problem = make_problem(
        "11452.7245532137",
        ("S0", "3221", "35", "0.055934", "0.055934", "0.0228"),
        ("S1", "15400.005204", "3.2", "0.024441", "0.024441", "0.0788"),
        ("S2", "4190", "8.364", "0.016921", "0.016921", "0.0175"),
        ("S3", "27200", "0.0", "0.000000", "0.000000", "0.0088"),
        ("S4", "178.5", "490.88", "0.042303", "0.042303", "0.0040"),
        ("S5", "15.100001", "8994.36", "0.065569", "0.065569", "0.0812"),
        ("S6", "315", "1463.466", "0.222561", "0.222561", "0.0265"),
        ("S7", "389", "385", "0.072385", "0.072385", "0.0468"),
        ("S8", "500.000300", "0.000", "0.000000", "0.000000", "0.0154"),
        ("S9", "33560.009999", "0.6237", "0.010105", "0.010105", "0.0152"),
        ("S10", "93.800525", "4203.61", "0.190364", "0.190364", "0.0088"),
        ("S11", "5.000300", "97352.56", "0.235017", "0.235017", "0.0354"),
        ("S12", "5.69", "513.31", "0.001410", "0.001410", "0.006"),
        ("S13", "3920", "14.28", "0.027027", "0.027027", "0.0625"),
        ("S14", "16.7", "4459.830", "0.035957", "0.035957", "0.0185"),
    )
    assert optimize_rebalance_inline(problem) is None
    solution = optimize_rebalance(problem, time_limit_seconds=0.5)
    assert solution.status in ("timeout", "optimal")  # "optimal" only on a far faster machine
    if solution.status == "timeout":
        assert solution.reason is not None
        assert solution.reason.kind == "timeout"
        assert solution.reason.details["time_limit_seconds"] == "0.5"
    else:
        check_solution(problem, solution.quantities)


# --- infeasibility reasons --------------------------------------------------------------------


def infeasible(problem: RebalanceProblem) -> Infeasibility:
    solution = optimize_rebalance(problem)
    assert solution.status == "infeasible"
    assert solution.quantities == {}
    assert solution.objective is None
    assert solution.reason is not None
    assert solution.method == "bounds"
    assert optimize_rebalance_inline(problem) == solution
    return solution.reason


def test_reason_non_positive_price() -> None:
    reason = infeasible(
        make_problem("100", ("A", "10", "1", "0.1", "0.1", "0.1"), ("B", "0", "3", "0", "0", "0"))
    )
    assert reason.kind == "non_positive_price"
    assert reason.security_id == "B"
    assert Decimal(reason.details["price"]) == 0
    assert "B" in reason.message


def test_reason_negative_market_value() -> None:
    reason = infeasible(make_problem("-1000", ("A", "10", "1", "0.1", "0.1", "0.1")))
    assert reason.kind == "negative_market_value"
    assert reason.security_id is None
    assert Decimal(reason.details["market_value"]) == Decimal(-990)


def test_reason_empty_band_names_the_security_band_and_price() -> None:
    reason = infeasible(
        make_problem(
            "100", ("OK", "1", "0", "0.1", "0.1", "0.1"), ("A", "25", "0", "0.15", "0.05", "0.05")
        )
    )
    assert reason.kind == "empty_band"
    assert reason.security_id == "A"
    assert Decimal(reason.details["band_low"]) == 10
    assert Decimal(reason.details["band_high"]) == 20
    assert Decimal(reason.details["price"]) == 25
    assert reason.message == ("security A: band [10, 20] of value holds no whole unit at price 25")


def test_reason_empty_band_when_drifts_invert_the_band() -> None:
    reason = infeasible(make_problem("100", ("A", "1", "0", "0.1", "-0.5", "0")))
    assert reason.kind == "empty_band"


def test_reason_minimum_spend_exceeds_market_value() -> None:
    # Each band [40, 100] needs at least one unit of 60: 120 > 100.
    reason = infeasible(
        make_problem(
            "100", ("A", "60", "0", "0.5", "0.1", "0.5"), ("B", "60", "0", "0.5", "0.1", "0.5")
        )
    )
    assert reason.kind == "minimum_spend_exceeds_market_value"
    assert Decimal(reason.details["minimum_spend"]) == 120
    assert Decimal(reason.details["market_value"]) == 100


# --- contract ---------------------------------------------------------------------------------


def test_duplicate_security_ids_are_rejected() -> None:
    problem = make_problem(
        "100", ("A", "10", "0", "0.1", "0.1", "0.1"), ("A", "10", "0", "0.1", "0.1", "0.1")
    )
    with pytest.raises(ValueError, match="duplicate security_id 'A'"):
        optimize_rebalance(problem)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_numbers_are_rejected(bad: str) -> None:
    problem = make_problem("100", ("A", bad, "0", "0.1", "0.1", "0.1"))
    with pytest.raises(ValueError, match="not a finite number"):
        optimize_rebalance(problem)


def test_market_value_property_is_exact() -> None:
    problem = RebalanceProblem(
        cash=Decimal("0.1"),
        securities=(
            SecurityTarget("A", Decimal("0.1"), Decimal("0.2"), Decimal(0), Decimal(0), Decimal(0)),
        ),
    )
    assert problem.market_value == Decimal("0.12")


def test_same_input_same_output() -> None:
    problem = make_problem(
        "1000",
        *[(f"S{i}", str(7 + 3 * i), "0", "0.2", "0.2", "0.2") for i in range(5)],
    )
    first, second = optimize_rebalance(problem), optimize_rebalance(problem)
    assert first == second
