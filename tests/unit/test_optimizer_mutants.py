"""Optimizer details that mutation testing found unpinned (docs/mutation-testing.md): the exact
integer data handed to HiGHS, the solver's options and when its optimum counts as proven, the
retry loop on short covers, the tie rule after a MILP answer, band edges of negative targets, the
exact ceiling and nearest-unit helpers, and the messages of every reason and input check."""

from __future__ import annotations

import inspect
from decimal import MAX_PREC, Decimal, Inexact
from types import SimpleNamespace
from typing import Any

import highspy
import pytest

from order_generation.domain.optimizer import (
    OptimizerFailure,
    RebalanceProblem,
    SecurityTarget,
    _highs,
    _milp,
    _solve,
    optimize_rebalance,
    plain,
)
from order_generation.domain.optimizer._exact import ceil_div, exact, nearest_unit, unit_bounds
from order_generation.domain.optimizer._highs import IntegerModel, Outcome, integer_model
from order_generation.domain.optimizer._milp import Cuts, Cuttable, _by_index, _Column, _columns
from order_generation.domain.optimizer._validate import validate
from order_generation.domain.optimizer._verify import VerificationFailed, verify
from tests.unit.test_optimizer_oracle import brute_force, check_solution, make_problem

D = Decimal
BIG = 2**53  # the first integer past which a double is no longer exact for every integer


# --- the integer model: exact scaling, gcds, and when the data fit a double --------------------


def model_of(
    weights: list[str], costs: list[str], rhs: str = "1", worst: str | int = "1"
) -> IntegerModel:
    return integer_model(
        [D(w) for w in weights], [D(c) for c in costs], [1] * len(weights), D(rhs), D(worst)
    )


def test_decimal_data_are_scaled_to_integers_and_divided_by_their_gcd() -> None:
    # Weights 0.5 and 1.25 → 50 and 125 → gcd 25 → 2 and 5; a cover of 0.8 → 80 → ⌈80/25⌉ = 4.
    # Costs 1.5 and 3 → 15 and 30 → gcd 15 → 1 and 2.
    model = model_of(["0.5", "1.25"], ["1.5", "3"], rhs="0.8", worst="10")
    assert model == IntegerModel(weights=[2, 5], rhs=4, upper=[1, 1], costs=[1.0, 2.0], exact=True)
    assert all(type(w) is int for w in [*model.weights, model.rhs])


@pytest.mark.parametrize(
    ("weights", "rhs", "worst"),
    [
        (["1"], "1", BIG),  # the worst objective needs 54 bits
        (["1"], str(BIG), "1"),  # the cover does
        ([str(BIG), "1"], "1", "1"),  # a weight does
    ],
)
def test_data_from_2_to_the_53_on_are_not_exact(weights: list[str], rhs: str, worst: int) -> None:
    assert not model_of(weights, ["1"] * len(weights), rhs=rhs, worst=worst).exact
    just_below = model_of(
        [str(int(w) - 1 if int(w) == BIG else int(w)) for w in weights],
        ["1"] * len(weights),
        rhs=str(int(rhs) - 1 if int(rhs) == BIG else int(rhs)),
        worst=int(worst) - 1 if int(worst) == BIG else worst,
    )
    assert just_below.exact


def test_the_worst_objective_is_rounded_up_in_cost_units() -> None:
    # ⌈(3·2^53 − 2)/3⌉ = 2^53: not exact (a float division would give 2^53 − 1, "exact").
    assert not model_of(["1"], ["3"], worst=str(3 * BIG - 2)).exact
    # 2^53 − 0.6 rounds up to 2^53, not to the nearest (2^53 − 1).
    assert not model_of(["1"], ["1"], worst=str(D(BIG) - D("0.6"))).exact
    # Costs that are all 0 have no gcd to divide by: the worst objective is taken as it is.
    assert model_of(["1"], ["0"], worst=str(2**52)).exact
    assert not model_of(["1"], ["0"], worst=str(BIG + 1)).exact


def test_inexact_data_scale_costs_to_52_bits_of_the_worst_objective() -> None:
    assert model_of(["1", "1"], ["1", "3"], worst=BIG).costs == [0.5, 1.5]
    assert model_of([str(BIG), "1"], ["1", "1"], worst="1").costs == [2.0**52, 2.0**52]


# --- HiGHS: its options, its answers -----------------------------------------------------------


def test_the_solver_options_are_really_set() -> None:
    # HiGHS answers an unknown option name with an error status that _new_solver does not read,
    # so a misspelt or renamed option would be ignored silently: read every one back.
    solver = _highs._new_solver(highspy, 7, 1e-10)
    expected = {
        "output_flag": False,
        "threads": 1,
        "random_seed": 0,
        "mip_rel_gap": 0.0,
        "mip_abs_gap": 0.0,
        "mip_feasibility_tolerance": 1e-10,
        "primal_feasibility_tolerance": 1e-10,
        "time_limit": 7.0,
    }
    for name, value in expected.items():
        status, actual = solver.getOptionValue(name)
        assert (name, status, actual) == (name, highspy.HighsStatus.kOk, value)


class _RecordingSolver:
    """A real HiGHS solver that keeps the status HiGHS gave each ``setOptionValue``."""

    def __init__(self) -> None:
        self.solver = highspy._Highs()
        self.statuses: dict[str, Any] = {}

    def setOptionValue(self, name: str, value: Any) -> Any:
        status = self.solver.setOptionValue(name, value)
        self.statuses[name] = status
        return status


def test_every_solver_option_is_one_highs_knows() -> None:
    # Reading back (above) cannot see a misspelt option whose value is HiGHS's default anyway
    # (random_seed 0): HiGHS would keep its default and answer the misspelt name with an error
    # that _new_solver does not read. Every name set must be accepted.
    recording = _RecordingSolver()
    _highs._new_solver(SimpleNamespace(_Highs=lambda: recording), 7, 1e-10)
    assert recording.statuses == dict.fromkeys(
        [
            "output_flag",
            "threads",
            "random_seed",
            "mip_rel_gap",
            "mip_abs_gap",
            "mip_feasibility_tolerance",
            "primal_feasibility_tolerance",
            "time_limit",
        ],
        highspy.HighsStatus.kOk,
    )


def test_run_highs_solves_within_a_short_limit_at_the_tolerance_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[float, float]] = []
    real = _highs._new_solver

    def recording(module: Any, time_limit: float, tolerance: float) -> Any:
        made.append((time_limit, tolerance))
        return real(module, time_limit, tolerance)

    monkeypatch.setattr(_highs, "_new_solver", recording)
    model = model_of(["4", "7"], ["3", "5"], rhs="10", worst="100")
    model.upper = [3, 3]
    outcome = _highs.run_highs(model, 0.5, tolerance=1e-10)
    assert outcome == Outcome([1, 1], True)
    assert made == [(0.5, 1e-10)]


class _ReportingDualBound:
    """A real HiGHS solver whose reported dual bound is replaced by ``dual_bound``."""

    def __init__(self, solver: Any, dual_bound: float) -> None:
        self.solver, self.dual_bound = solver, dual_bound

    def __getattr__(self, name: str) -> Any:
        return getattr(self.solver, name)

    def getInfo(self) -> Any:
        return SimpleNamespace(mip_dual_bound=self.dual_bound)


@pytest.mark.parametrize(("dual_bound", "proven"), [(8.0, True), (7.5, True), (7.0, False)])
def test_an_optimum_is_proven_only_within_one_cost_unit_of_the_dual_bound(
    monkeypatch: pytest.MonkeyPatch, dual_bound: float, proven: bool
) -> None:
    # Costs 3 and 5 are whole, so the optimum of [1, 1] (objective 8) is proven when the dual
    # bound is above 7: no whole objective lies between. A bound of exactly 7 leaves 7 possible.
    real = _highs._new_solver

    def reporting(module: Any, time_limit: float, tolerance: float) -> Any:
        return _ReportingDualBound(real(module, time_limit, tolerance), dual_bound)

    monkeypatch.setattr(_highs, "_new_solver", reporting)
    model = model_of(["4", "7"], ["3", "5"], rhs="10", worst="100")
    model.upper = [3, 3]
    assert _highs.run_highs(model, 5) == Outcome([1, 1], proven)


def test_a_model_without_a_cover_is_a_solver_failure() -> None:
    model = model_of(["1"], ["1"], rhs="5", worst="10")  # one unit of weight 1 cannot cover 5
    with pytest.raises(OptimizerFailure, match=r"^HiGHS returned Infeasible$"):
        _highs.run_highs(model, 10)


# --- the covering knapsack: columns, cuts, and the retry on short covers -------------------------


def test_columns_first_cut_at_its_discount_then_fill_at_full_price() -> None:
    items = [
        Cuttable(index=4, price=D(10), surplus=D("0.5"), most=3),  # first cut 9, then 10 × 2
        Cuttable(index=6, price=D(10), surplus=D(0), most=2),  # exactly on its ideal: fill only
        Cuttable(index=9, price=D(10), surplus=D(3), most=1),  # one cut, at 10 − 2·3
    ]
    assert _columns(items) == [
        _Column(4, D(10), D(9), 1),
        _Column(4, D(10), D(10), 2),
        _Column(6, D(10), D(10), 2),
        _Column(9, D(10), D(4), 1),
    ]
    assert {c.cut for c in _columns(items, cut=100)} == {100}  # lots: each unit cuts a lot


def test_cuts_of_one_security_add_up_across_its_columns() -> None:
    columns = [
        _Column(5, D(10), D(8), 1),
        _Column(5, D(10), D(10), 2),
        _Column(7, D(20), D(20), 4),
        _Column(8, D(20), D(20), 1, cut=30),
        _Column(8, D(20), D(20), 2, cut=10),
    ]
    assert _by_index(columns, [1, 2, 4, 1, 2]) == {5: 3, 7: 4, 8: 50}


def test_short_covers_are_retried_tighter_then_with_the_deficit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One security of price 10 (surplus 2: a first cut at 6, then fill at 10) must shed 15:
    # rows 10·x ≥ 15 become x ≥ 2 after the gcd. HiGHS is made to answer 1, 1 and then 3.
    calls: list[tuple[float, int, bool]] = []
    answers = iter([Outcome([1, 0], True), Outcome([1, 0], True), Outcome([1, 2], True)])

    def solver(model: IntegerModel, time_limit: float, *, tolerance: float) -> Outcome:
        assert time_limit > 0
        calls.append((tolerance, model.rhs, model.exact))
        return next(answers)

    worsts: list[Decimal] = []
    real_model = _milp.integer_model

    def recording_model(*args: Any) -> IntegerModel:
        worsts.append(args[4])
        return real_model(*args)

    monkeypatch.setattr(_milp, "run_highs", solver)
    monkeypatch.setattr(_milp, "integer_model", recording_model)
    cuts = _milp.cheapest_cuts([Cuttable(0, D(10), D(2), 3)], D(15), 10)
    assert worsts == [D(25)]  # the excess plus the dearest price bounds any greedy cover
    assert calls == [(1e-9, 2, True), (1e-10, 2, True), (1e-10, 3, False)]
    assert cuts == Cuts({0: 3}, False)  # feasible, but no longer a proof


def test_covers_that_stay_short_are_a_solver_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def solver(model: IntegerModel, time_limit: float, *, tolerance: float) -> Outcome:
        return Outcome([0, 0], True)

    monkeypatch.setattr(_milp, "run_highs", solver)
    with pytest.raises(
        OptimizerFailure, match=r"^HiGHS kept returning cuts that do not cover the excess spend$"
    ):
        _milp.cheapest_cuts([Cuttable(0, D(10), D(2), 3)], D(15), 10)


def test_no_time_left_means_no_cuts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_milp, "run_highs", lambda *args, **kwargs: None)
    assert _milp.cheapest_cuts([Cuttable(0, D(10), D(2), 3)], D(15), 10) == Cuts(None, False)


# --- the answer: methods and time ---------------------------------------------------------------

BINDING = make_problem(
    "100", ("A", "30", "0", "0.5", "0.5", "0.5"), ("B", "45", "0", "0.5", "0.5", "0.5")
)


def test_a_timeout_says_milp_and_the_solver_gets_the_time_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert inspect.signature(optimize_rebalance).parameters["time_limit_seconds"].default == 30
    timed_out = optimize_rebalance(BINDING, time_limit_seconds=0)
    assert (timed_out.status, timed_out.method) == ("timeout", "milp")
    assert timed_out.reason is not None
    assert timed_out.reason.message == (
        "cash binds and no proven optimum was found within the time limit of 0 s"
    )
    given: list[float] = []
    real = _solve.cheapest_cuts

    def recording(items: Any, excess: Decimal, remaining: float) -> Cuts:
        given.append(remaining)
        return real(items, excess, remaining)

    monkeypatch.setattr(_solve, "cheapest_cuts", recording)
    assert optimize_rebalance(BINDING, time_limit_seconds=5).status == "optimal"
    assert len(given) == 1
    assert 4 < given[0] <= 5


def test_an_answer_from_rounded_solver_data_says_milp_rounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = _solve.cheapest_cuts

    def unproven(items: Any, excess: Decimal, remaining: float) -> Cuts:
        cuts = real(items, excess, remaining)
        return Cuts(cuts.by_index, False)

    monkeypatch.setattr(_solve, "cheapest_cuts", unproven)
    solution = optimize_rebalance(BINDING)
    assert (solution.status, solution.method, dict(solution.quantities)) == (
        "optimal",
        "milp-rounded",
        {"A": 1, "B": 1},
    )


def test_an_answer_failing_verification_is_an_optimizer_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing(problem: RebalanceProblem, units: Any) -> Decimal:
        raise VerificationFailed("A: value 1 is outside its band [2, 3]")

    monkeypatch.setattr(_solve, "verify", failing)
    with pytest.raises(OptimizerFailure) as exc:
        optimize_rebalance(make_problem("100", ("A", "10", "0", "0.1", "0.1", "0.1")))
    assert str(exc.value) == (
        "an answer failed exact verification: A: value 1 is outside its band [2, 3]"
    )


def test_band_minima_that_spend_exactly_the_market_value_are_feasible() -> None:
    # B's nearest unit (0: ideal 20 at price 50) is below its band [10, 100]: the full bounds
    # decide. The fewest units (1 A + 1 B) cost exactly the market value of 100: feasible, and
    # with the nearest units clamped into the bands they are the answer, without a solver.
    problem = make_problem(
        "100", ("A", "50", "0", "0.5", "0", "0.5"), ("B", "50", "0", "0.2", "0.1", "0.8")
    )
    solution = optimize_rebalance(problem)
    assert (solution.status, solution.method, dict(solution.quantities)) == (
        "optimal",
        "separable",
        {"A": 1, "B": 1},
    )


# --- the tie rule after a MILP answer (_prefer_holdings) ----------------------------------------


def prepared(problem: RebalanceProblem) -> Any:
    market_value = problem.market_value
    with exact():
        bounds = [
            unit_bounds(market_value, s.price, s.quantity, s.target, s.low_drift, s.high_drift)
            for s in problem.securities
        ]
    return _solve._Prepared(problem, market_value, bounds, D(1))


def test_ties_sell_first_then_buy_with_the_cash_freed() -> None:
    # Market value 200. Y and Z sit on their ideals (not ties; Z cannot go lower). A (ideal 25,
    # holding 2, band [20, 50]) is at 3 units: 2 is as good, nearer the holding, and exactly its
    # band's lowest unit: sell. B (ideal 35, holding 4) is at 3: 4 is as good and nearer the
    # holding, and affordable only with the 10 that A's sale freed: buy. F (ideal 15, holding 5)
    # would also rather hold 2 than 1, but after B's purchase no cash is left for it.
    problem = make_problem(
        "90",
        ("Y", "10", "0", "0.05", "0.05", "0.05"),
        ("Z", "10", "0", "0.05", "0", "0.05"),
        ("A", "10", "2", "0.125", "0.025", "0.125"),
        ("B", "10", "4", "0.175", "0.175", "0.075"),
        ("C", "110", "0", "0.55", "0.55", "0"),
        ("F", "10", "5", "0.075", "0.075", "0.025"),
    )
    assert problem.market_value == 200
    units = [D(u) for u in (1, 1, 3, 3, 1, 1)]  # spends exactly 200
    _solve._prefer_holdings(prepared(problem), units)
    assert units == [1, 1, 2, 4, 1, 1]


def test_a_tie_outside_the_band_is_not_taken() -> None:
    # Ideal 25 = 2.5 units; the band [0, 29] admits 2 but not 3, however near the holding of 9.
    problem = make_problem("10", ("D", "10", "9", "0.25", "0.25", "0.04"))
    units = [D(2)]
    _solve._prefer_holdings(prepared(problem), units)
    assert units == [2]


# --- negative targets: bands below zero (the optimizer answers any finite input) -----------------


def test_a_negative_target_holds_the_fewest_admissible_units() -> None:
    # A's ideal is −3 (band [−13, 47]): no unit is nearer than 0. B's nearest unit (0) is below
    # its band [20, 45], so both go through the full bounds, where A's first unit is clamped up
    # from −1 to 0.
    problem = make_problem(
        "100", ("A", "10", "0", "-0.03", "0.1", "0.5"), ("B", "40", "0", "0.2", "0", "0.25")
    )
    solution = optimize_rebalance(problem)
    assert dict(solution.quantities) == {"A": 0, "B": 1}
    alone = make_problem("100", ("A", "10", "0", "-0.03", "0", "0.5"))  # the fast path
    assert dict(optimize_rebalance(alone).quantities) == {"A": 0}
    for case in (problem, alone):
        oracle = brute_force(case)
        assert oracle is not None
        assert check_solution(case, optimize_rebalance(case).quantities) == oracle.objective


def test_a_band_entirely_below_zero_is_empty() -> None:
    solution = optimize_rebalance(make_problem("100", ("A", "10", "0", "-0.05", "0", "0.02")))
    assert solution.status == "infeasible"
    assert solution.reason is not None
    assert (solution.reason.kind, solution.reason.details["band_high"]) == ("empty_band", "-3")


# --- reasons: every kind names its numbers ------------------------------------------------------


def test_infeasible_answers_keep_the_market_value_and_explain_themselves() -> None:
    price = optimize_rebalance(make_problem("100", ("A", "0", "3", "0.1", "0.1", "0.1")))
    assert price.market_value == 100
    negative = optimize_rebalance(make_problem("-1000", ("A", "10", "1", "0.1", "0.1", "0.1")))
    assert negative.market_value == -990
    assert negative.reason is not None
    assert negative.reason.message == ("market value -990 is negative: no holdings keep cash ≥ 0")
    minimum = optimize_rebalance(
        make_problem(
            "100", ("A", "60", "0", "0.5", "0.1", "0.5"), ("B", "60", "0", "0.5", "0.1", "0.5")
        )
    )
    assert minimum.market_value == 100
    assert minimum.reason is not None
    assert minimum.reason.message == (
        "the fewest whole units every band admits cost 120, more than the market value 100"
    )
    empty = optimize_rebalance(
        make_problem(
            "100", ("A", "25", "0", "0.15", "0.05", "0.05"), ("B", "25", "0", "0.15", "0.05", "0")
        )
    )
    assert empty.market_value == 100
    assert empty.reason is not None
    assert empty.reason.details == {
        "band_low": "10",
        "band_high": "20",
        "price": "25",
        "securities_with_empty_band": "2",
    }


# --- exact arithmetic ---------------------------------------------------------------------------


def test_the_exact_context_never_rounds() -> None:
    long = D("1" * 40)
    with exact() as context:
        assert long + D("0.1") == D("1" * 40 + ".1")  # 41 digits: the default context keeps 28
        assert context.prec == MAX_PREC
        assert context.traps[Inexact]
    assert (
        plain(D("1234567890123456789012345678901234.5")) == "1234567890123456789012345678901234.5"
    )
    assert plain(D("1.30E+3")) == "1300"


@pytest.mark.parametrize(
    ("value", "price", "ceiling"),
    [("30", "10", 3), ("31", "10", 4), ("0.5", "0.25", 2), ("0.6", "0.25", 3), ("0", "7", 0)],
)
def test_ceil_div_is_the_exact_ceiling_even_for_exact_multiples(
    value: str, price: str, ceiling: int
) -> None:
    # The most units a security may be cut (⌈excess/price⌉): one more than needed at an exact
    # multiple would let the solver overshoot by a whole unit it could put back.
    with exact():
        assert ceil_div(D(value), D(price)) == ceiling


@pytest.mark.parametrize(
    ("ideal", "holding", "nearest"),
    [
        ("-7", "0", -1),  # −0.7 units: −1 is nearer than 0
        ("-3", "0", 0),  # −0.3 units: 0 is nearer than −1
        ("-15", "0", -1),  # −1.5 units, a tie: −1 is nearer the holding of 0 than −2
        ("-15", "-5", -2),  # the same tie, nearer a holding of −5
        ("-20", "0", -2),  # exactly −2 units
        ("27", "0", 3),
    ],
)
def test_nearest_unit_rounds_negative_ideals_to_the_nearest_unit(
    ideal: str, holding: str, nearest: int
) -> None:
    # Before band clamping (unit_bounds clamps into [first, last], first ≥ 0), a negative ideal
    # (a negative target) still has a nearest whole unit, found with floor, not truncation.
    with exact():
        assert nearest_unit(D(ideal), D(10), D(holding)) == nearest


# --- input checks and the final verification ----------------------------------------------------


def security(sid: str, price: Any = None) -> SecurityTarget:
    return SecurityTarget(
        sid, D(10) if price is None else price, D(0), D("0.1"), D("0.1"), D("0.1")
    )


def test_a_duplicate_is_named_whichever_comes_first() -> None:
    problem = RebalanceProblem(D(100), (security("A"), security("B"), security("B")))
    with pytest.raises(
        ValueError, match=r"^duplicate security_id 'B': each security must appear once$"
    ):
        validate(problem)


@pytest.mark.parametrize(
    ("cash", "price", "error", "message"),
    [
        (D("NaN"), D(10), ValueError, "cash NaN is not a finite number"),
        (D(1), D("-Infinity"), ValueError, "security A: price -Infinity is not a finite number"),
        (D(1), 10.0, TypeError, "security A: price must be a Decimal, not float"),
        (None, D(10), TypeError, "cash must be a Decimal, not NoneType"),
    ],
)
def test_a_bad_number_is_named(cash: Any, price: Any, error: type, message: str) -> None:
    with pytest.raises(error) as exc:
        validate(RebalanceProblem(cash, (security("A", price),)))
    assert str(exc.value) == message


def test_verification_names_what_is_wrong() -> None:
    # Bands reach below zero (low drift above target), so only the whole-unit check can refuse
    # a negative unit.
    problem = make_problem(
        "100", ("A", "10", "0", "0.1", "0.5", "0.5"), ("B", "10", "0", "0.1", "0.5", "0.5")
    )
    assert verify(problem, [D(1), D(1)]) == 0
    for units, message in [
        ([D(-1), D(0)], "A: -1 is not a whole unit ≥ 0"),
        ([D("0.5"), D(0)], "A: 0.5 is not a whole unit ≥ 0"),
        ([D(0), D(7)], "B: value 70 is outside its band [-40.0, 60.0]"),
        ([D(6), D(6)], "spend 120 exceeds the market value 100"),
    ]:
        with pytest.raises(VerificationFailed) as exc:
            verify(problem, units)
        assert str(exc.value) == message
    with pytest.raises(ValueError, match="zip"):
        verify(problem, [D(1)])  # one unit per security, no fewer
