"""The pieces of the solve under trading options, each against hand-worked examples: the
neighbours of a unit among the admissible segments, the cuts a MILP may take, the tie rule after
it, the in-band test, the MILP with several progressions per security, the literal verification
of an answer and the checks of option values."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings

from order_generation.domain.optimizer import (
    OptimizerFailure,
    RebalanceProblem,
    RebalanceSolution,
    SecurityTarget,
    _constrained,
    optimize_rebalance,
)
from order_generation.domain.optimizer._admissible import Segment
from order_generation.domain.optimizer._constrained import (
    Frame,
    _cut_ranges,
    _neighbour,
    _prefer_holdings,
)
from order_generation.domain.optimizer._exact import exact
from order_generation.domain.optimizer._milp import Choosable, CutRange, cheapest_choices
from order_generation.domain.optimizer._reasons import relaxed, timeout
from order_generation.domain.optimizer._verify import VerificationFailed, verify_with_options
from order_generation.domain.trading_options import (
    SecurityRules,
    TradingOptions,
    options_from_text,
    options_text,
)
from tests.unit.test_optimizer_options import domain_options, oracle_problems
from tests.unit.test_optimizer_options_oracle import (
    Options,
    adjusted_market_value,
    budget,
    candidates,
)
from tests.unit.test_optimizer_oracle import make_problem

D = Decimal


def seg(first: int, last: int, step: int = 1) -> Segment:
    return Segment(D(first), D(last), D(step))


LOTS = [seg(0, 0), seg(5, 45, 10), seg(60, 61)]


@pytest.mark.parametrize(
    ("unit", "below", "above"),
    [
        (25, 15, 35),
        (5, 0, 15),
        (0, None, 5),
        (45, 35, 60),
        (60, 45, 61),
        (61, 60, None),
        (20, 15, 25),  # not itself admissible: the nearest admissible on either side
        (-3, None, 0),
        (70, 61, None),
    ],
)
def test_the_neighbours_of_a_unit_among_segments(
    unit: int, below: int | None, above: int | None
) -> None:
    with exact():
        assert _neighbour(LOTS, D(unit), -1) == (None if below is None else D(below))
        assert _neighbour(LOTS, D(unit), 1) == (None if above is None else D(above))


def test_cuts_below_the_nearest_unit_as_progressions() -> None:
    with exact():
        # Nearest 45, excess 1,000 at price 10: 100 units cover it alone. Cuts of 10, 20, …, 40
        # (to 35 … 5), then 45 (to 0): nothing is left out, none covers the excess.
        assert _cut_ranges(LOTS, D(45), D(1000), D(10)) == (CutRange(10, 10, 3), CutRange(45, 1, 0))
        # Excess 150: a cut of 20 covers it; larger lattice cuts are never needed, nor selling out.
        assert _cut_ranges(LOTS, D(45), D(150), D(10)) == (CutRange(10, 10, 1),)
        # Excess 50: the first cut covers it alone.
        assert _cut_ranges(LOTS, D(45), D(50), D(10)) == (CutRange(10, 10, 0),)
        # Nearest 61: a cut of 1 (to 60), then 16 (to 45) and on, then 61.
        assert _cut_ranges(LOTS, D(61), D(2000), D(10)) == (
            CutRange(1, 1, 0), CutRange(16, 10, 4), CutRange(61, 1, 0),
        )  # fmt: skip
        # The nearest unit is the lowest: nothing to cut.
        assert _cut_ranges(LOTS, D(0), D(10), D(10)) == ()


def test_a_multiple_choice_cover_takes_the_cheapest_admissible_cuts() -> None:
    # Security 0 (price 10, 5 above its ideal): cuts of 10, 20 or 30 (lots), or 45 (sell out).
    # Security 1 (price 7, below its ideal): cuts of 1, 2, 3. Excess 75: the cheapest cover is a
    # lot of 10 units of 0 (cost 100 − 10 = 90, covering 100), not 3 of 1 and … (21 < 75).
    items = [
        Choosable(0, D(10), D(5), (CutRange(10, 10, 2), CutRange(45, 1, 0))),
        Choosable(1, D(7), D(-2), (CutRange(1, 1, 2),)),
    ]
    cuts = cheapest_choices(items, D(75), 10)
    assert (nonzero(cuts.by_index), cuts.proven) == ({0: 10}, True)
    # Excess 105: 10 units of 0 are not enough; 20 units (cost 190) or 10 + 1 unit of 1 …
    # 100 + 7 = 107 ≥ 105 at cost 90 + 7 = 97 is cheapest.
    assert nonzero(cheapest_choices(items, D(105), 10).by_index) == {0: 10, 1: 1}
    # Excess 440: selling 0 out (450, cost 440) beats 30 units and 3 of 1 (300 + 21 < 440).
    assert nonzero(cheapest_choices(items, D(440), 10).by_index) == {0: 45}


def nonzero(cuts: dict[int, int] | None) -> dict[int, int]:
    assert cuts is not None
    return {i: k for i, k in cuts.items() if k}


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(oracle_problems())
def test_ties_keep_the_unit_nearer_the_holding_when_it_is_affordable(
    case: tuple[RebalanceProblem, Options],
) -> None:
    """No security of an answer has an admissible neighbour just as near its ideal, nearer its
    holding (then the smaller) and affordable with the others as they are (SPEC §4.6)."""
    problem, options = case
    solution = optimize_rebalance(dataclasses.replace(problem, options=domain_options(options)))
    if solution.status != "optimal":
        return
    mv, room = adjusted_market_value(problem, options), budget(problem, options)
    units = [Fraction(solution.quantities[s.security_id]) for s in problem.securities]
    spend = sum(
        (u * Fraction(s.price) for u, s in zip(units, problem.securities, strict=True)), Fraction(0)
    )
    for security, unit in zip(problem.securities, units, strict=True):
        price, holding = Fraction(security.price), Fraction(security.quantity)
        ideal = mv * Fraction(security.target)
        admissible = candidates(problem, security, options)
        at = admissible.index(unit)
        for other in admissible[max(at - 1, 0) : at + 2]:
            if other == unit or abs(ideal - other * price) != abs(ideal - unit * price):
                continue
            if spend + (other - unit) * price > room:
                continue
            assert (abs(other - holding), other) > (abs(unit - holding), unit), security


def test_in_band_is_judged_on_the_edges_inclusively() -> None:
    # MV = 10,000; A at exactly 25 % (its band's lower edge), cash exactly the 75 % reserve.
    problem = make_problem("7500", ("A", "100", "25", "0.3", "0.05", "0.05"))
    trigger = TradingOptions(trigger="out_of_band", cash_reserve=D("0.75"))
    assert optimize_rebalance(dataclasses.replace(problem, options=trigger)).status == "in_band"
    more = dataclasses.replace(trigger, cash_reserve=D("0.7501"))
    assert optimize_rebalance(dataclasses.replace(problem, options=more)).status != "in_band"
    # After a deposit of 100 the band is of 10,100: 2,500 is below its 2,525.
    deposit = dataclasses.replace(trigger, cash_reserve=D(0), cash_flow=D(100))
    assert optimize_rebalance(dataclasses.replace(problem, options=deposit)).status == "optimal"
    # Cash below 0 after a withdrawal is out of band even with every security in its band.
    drawn = dataclasses.replace(trigger, cash_reserve=D(0), cash_flow=D(-7501))
    assert optimize_rebalance(dataclasses.replace(problem, options=drawn)).status != "in_band"


def test_whole_answers_are_ints_and_only_a_locked_fraction_is_a_decimal() -> None:
    problem = make_problem(
        "1000", ("A", "10", "2.5", "0.5", "0.01", "0.01"), ("B", "10", "0", "0.3", "0.1", "0.1")
    )
    solution = optimize_rebalance(
        dataclasses.replace(problem, options=TradingOptions(restrictions={"A": "locked"}))
    )
    assert type(solution.quantities["B"]) is int
    assert type(solution.quantities["A"]) is Decimal


# --- the literal verification of an answer ----------------------------------------------------


VERIFY = make_problem(
    "7000", ("A", "100", "25.5", "0.3", "0.05", "0.05"), ("B", "50", "0", "0.2", "0.05", "0.05")
)  # MV = 9,550


RESTRICTED = "trades against its restriction or mode"
A_BAND = "A: value 2000 is outside [2387.500, 3342.500]"  # 25-35 % of 9,550, exactly
A_BAND_40 = A_BAND.replace("2000", "4000")
SOLD = ("0", "0")  # A sold out; B at 0 is no trade


@pytest.mark.parametrize(
    ("options", "units", "failure"),
    [
        (TradingOptions(), ("25", "-1"), "B: -1 is not a whole unit ≥ 0"),
        (TradingOptions(), ("25.5", "38"), "A: 25.5 is not a whole unit ≥ 0"),
        (TradingOptions(restrictions={"A": "locked"}), ("25.5", "38"), None),
        (TradingOptions(mode="sell_only"), ("29", "38"), f"A: 29 {RESTRICTED}"),
        (TradingOptions(restrictions={"B": "no_sell"}), ("29", "38"), None),
        (TradingOptions(restrictions={"A": "no_sell"}), ("25", "38"), f"A: 25 {RESTRICTED}"),
        (
            TradingOptions(default_lot_size=3),
            ("27", "39"),
            "A: the trade to 27 is not in lots of 3",
        ),
        (TradingOptions(lot_sizes={"A": 2}), ("27", "39"), None),  # 27 − ⌊25.5⌋ = 2
        (TradingOptions(min_trade_quantity=2), ("27", "38"), "A: the trade to 27 is below the"),
        (TradingOptions(min_trade_value=D(151)), ("27", "38"), "A: the trade to 27 is below the"),
        (TradingOptions(min_trade_value=D(150)), ("27", "38"), None),  # 1.5 units × 100
        # Selling out is exempt from lots and minimums, not from the band: soft here.
        (
            TradingOptions(min_trade_value=D(10**6), lot_sizes={"A": 7}, bands="soft"),
            SOLD,
            None,
        ),
        (TradingOptions(), ("20", "38"), A_BAND),
        (TradingOptions(bands="soft"), ("20", "38"), None),
        (TradingOptions(restrictions={"A": "no_buy"}), ("20", "38"), A_BAND),
        # no_sell waives the top of the band only up to the holding's ⌈25.5⌉ = 26 units.
        (
            TradingOptions(restrictions={"A": "no_sell"}),
            ("40", "38"),
            A_BAND_40,
        ),
        (TradingOptions(cash_reserve=D("0.5")), ("29", "38"), "spend 4800 exceeds the cash row"),
    ],
)
def test_verification_reads_every_option_literally(
    options: TradingOptions, units: tuple[str, str], failure: str | None
) -> None:
    answer = [D(u) for u in units]
    if failure is None:
        assert verify_with_options(VERIFY, options, answer) >= 0
        return
    with pytest.raises(VerificationFailed, match=f"^{re.escape(failure)}"):
        verify_with_options(VERIFY, options, answer)


# --- option values the optimizer refuses (the API and ogs solve check them first) --------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (TradingOptions(cash_reserve=D(1)), "option cash_reserve 1 is not in [0, 1)"),
        (TradingOptions(cash_reserve=D("-0.1")), "option cash_reserve -0.1 is not in [0, 1)"),
        (TradingOptions(min_trade_value=D(-1)), "option min_trade_value -1 is negative"),
        (TradingOptions(min_trade_quantity=-2), "option min_trade_quantity -2 is negative"),
        (TradingOptions(default_lot_size=0), "option lot size of default_lot_size must be"),
        (
            TradingOptions(lot_sizes={"A": -3}),
            "option lot size of A must be a whole number ≥ 1, not -3",
        ),
        (TradingOptions(cash_flow=D("NaN")), "option cash_flow NaN is not a finite number"),
    ],
)
def test_option_values_outside_their_rules_are_refused(
    options: TradingOptions, message: str
) -> None:
    problem = dataclasses.replace(
        make_problem("10", ("A", "1", "0", "0", "0", "0")), options=options
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        optimize_rebalance(problem)


def test_a_decimal_option_must_be_a_decimal() -> None:
    options = TradingOptions(cash_flow=5)  # type: ignore[arg-type]
    problem = dataclasses.replace(
        make_problem("10", ("A", "1", "0", "0", "0", "0")), options=options
    )
    with pytest.raises(TypeError, match=r"^option cash_flow must be a Decimal, not int$"):
        optimize_rebalance(problem)


# --- the tie rule after the MILP (SPEC §4.6) ----------------------------------------------------


def tie_frame(budget: str, *rows: tuple[str, str, str, str]) -> tuple[Frame, list[list[Segment]]]:
    """A frame of securities (id, price, holding, ideal value) on MV 100, each admitting 0-10."""
    securities = tuple(
        SecurityTarget(sid, D(price), D(held), D(ideal) / 100, D(1), D(1))
        for sid, price, held, ideal in rows
    )
    problem = RebalanceProblem(D(0), securities, TradingOptions())
    rules = tuple(SecurityRules() for _ in rows)
    frame = Frame(problem, TradingOptions(), D(100), D(budget), D(0), rules)
    return frame, [[seg(0, 10)] for _ in rows]


def prefer(frame: Frame, segments: list[list[Segment]], units: list[int]) -> list[int]:
    chosen = [D(u) for u in units]
    with exact():
        _prefer_holdings(frame, segments, chosen)
    return [int(u) for u in chosen]


def test_a_tie_moves_to_the_unit_nearer_the_holding() -> None:
    # A: ideal 25 at price 10 lies half-way between 2 and 3 units.
    frame, segments = tie_frame("100", ("A", "10", "2", "25"))
    assert prefer(frame, segments, [3]) == [2]  # down, toward the holding of 2
    frame, segments = tie_frame("100", ("A", "10", "3", "25"))
    assert prefer(frame, segments, [2]) == [3]  # up, toward the holding of 3, affordable
    frame, segments = tie_frame("100", ("A", "10", "2.5", "25"))
    assert prefer(frame, segments, [3]) == [2]  # the holding half-way too: the smaller
    assert prefer(frame, segments, [2]) == [2]


def test_a_tie_is_taken_up_only_when_the_cash_allows_exactly() -> None:
    # Spend 20 of a budget of 30: one more unit of 10 fits exactly; of 29, it does not.
    frame, segments = tie_frame("30", ("A", "10", "3", "25"))
    assert prefer(frame, segments, [2]) == [3]
    frame, segments = tie_frame("29", ("A", "10", "3", "25"))
    assert prefer(frame, segments, [2]) == [2]


def test_moves_that_sell_run_first_and_free_cash_for_moves_that_buy() -> None:
    # Spend 30 + 20 = 50 of 50. B (ideal 25) may go down to 2 toward its holding of 2, which
    # frees 10 for A (ideal 25) to go up from 2 to 3 toward its holding of 3.
    frame, segments = tie_frame("50", ("A", "10", "3", "25"), ("B", "10", "2", "25"))
    assert prefer(frame, segments, [2, 3]) == [3, 2]
    # Only one purchase fits: the first in problem order takes it, the second sees less cash.
    frame, segments = tie_frame("50", ("A", "10", "3", "25"), ("B", "10", "3", "25"))
    assert prefer(frame, segments, [2, 2]) == [3, 2]


def test_every_security_is_considered_whatever_the_ones_before_it() -> None:
    # A at 0 has no unit below it; B after it still moves down to its holding.
    frame, segments = tie_frame("100", ("A", "10", "0", "-5"), ("B", "10", "2", "25"))
    assert prefer(frame, segments, [0, 3]) == [0, 2]
    # A's move up (20) does not fit the 10 left; B's (10) after it does.
    frame, segments = tie_frame("50", ("A", "20", "2", "30"), ("B", "10", "3", "25"))
    assert prefer(frame, segments, [1, 2]) == [1, 3]


def test_a_neighbour_that_is_not_as_near_the_ideal_is_not_taken() -> None:
    frame, segments = tie_frame("100", ("A", "10", "2", "26"))  # 3 units: 4 away; 2: 6 away
    assert prefer(frame, segments, [3]) == [3]
    frame, segments = tie_frame("100", ("A", "10", "9", "-5"))  # ideal below 0: 0 is nearest
    assert prefer(frame, segments, [0]) == [0]


def test_the_tie_rule_applies_to_the_solvers_answer() -> None:
    # As test_tie_rule_on_the_cash_binding_path for today's problem, under options: A (ideal
    # 25 = 2.5 units of 10, holds 3) and C (one unit of 90, ideal 85) overspend 100 by 20; only
    # cutting C covers it, and cutting A to 2 as well is free. The solver is made to do both.
    real = _constrained.cheapest_choices

    def with_the_free_tie_cut(items: Any, excess: Decimal, remaining: float) -> Any:
        cuts = real(items, excess, remaining)
        assert cuts.by_index is not None
        return dataclasses.replace(cuts, by_index={**cuts.by_index, 0: 1})

    problem = make_problem(
        "70", ("A", "10", "3", "0.25", "0.05", "0.05"), ("C", "90", "0", "0.85", "0.85", "0.15")
    )
    constrained = dataclasses.replace(problem, options=TradingOptions(min_trade_quantity=1))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_constrained, "cheapest_choices", with_the_free_tie_cut)
        solution = optimize_rebalance(constrained)
    assert (solution.method, dict(solution.quantities)) == ("milp", {"A": 3, "C": 0})


def test_a_timeout_under_options_says_so_in_full() -> None:
    problem = make_problem(
        "70", ("A", "10", "3", "0.25", "0.05", "0.05"), ("C", "90", "0", "0.85", "0.85", "0.15")
    )
    constrained = dataclasses.replace(problem, options=TradingOptions(cash_flow=D(0)))
    solution = optimize_rebalance(constrained, time_limit_seconds=0)
    assert solution == RebalanceSolution("timeout", D(100), {}, None, timeout(0), "milp")


def test_an_in_band_answer_in_full() -> None:
    problem = make_problem("7500", ("A", "100", "25", "0.3", "0.05", "0.05"))
    options = TradingOptions(trigger="out_of_band", cash_flow=D("0.0"))
    solution = optimize_rebalance(dataclasses.replace(problem, options=options))
    assert solution == RebalanceSolution("in_band", D(10000), {}, None, None, "trigger")


@pytest.mark.parametrize("cash_flow", ["0", "0.5"])
def test_a_negative_value_not_made_so_by_a_withdrawal_names_the_value(cash_flow: str) -> None:
    problem = make_problem("10", ("A", "100", "-5", "0.3", "0.05", "0.05"))  # MV = −490
    options = TradingOptions(cash_flow=D(cash_flow))
    solution = optimize_rebalance(dataclasses.replace(problem, options=options))
    assert solution.reason is not None
    assert (solution.status, solution.market_value, solution.reason.kind) == (
        "infeasible", D(-490) + D(cash_flow), "negative_market_value",
    )  # fmt: skip


def test_a_relaxed_answer_in_full() -> None:
    problem = make_problem("100", ("A", "25", "0", "0.15", "0.05", "0.05"))
    options = TradingOptions(on_infeasible="relax")
    solution = optimize_rebalance(dataclasses.replace(problem, options=options))
    assert solution == RebalanceSolution(
        "optimal", D(100), {"A": 1}, D(10), relaxed(D("0.05")), "separable", D("0.05")
    )
    # Relax that cannot help answers with the market value after the cash flow.
    blocked = dataclasses.replace(options, cash_flow=D(-50), restrictions={"A": "locked"})
    short = make_problem("100", ("A", "25", "-1", "0.15", "0.05", "0.05"))
    answer = optimize_rebalance(dataclasses.replace(short, options=blocked))
    assert (answer.status, answer.market_value, answer.method) == ("infeasible", D(25), "bounds")


def test_cut_progressions_skip_segments_above_and_stop_at_a_covering_cut() -> None:
    with exact():
        # Nearest 25: the segment above (60-61) is skipped, not the end of the search.
        assert _cut_ranges(LOTS, D(25), D(1000), D(10)) == (CutRange(10, 10, 1), CutRange(25, 1, 0))
        # Excess 200 at 10: a cut of exactly 20 covers it, so selling out is never needed.
        assert _cut_ranges(LOTS, D(45), D(200), D(10)) == (CutRange(10, 10, 1),)


def test_more_choices_of_the_multiple_choice_cover() -> None:
    # A single progression one step below the nearest unit: at most count + 1 steps (3 × 7).
    three = Choosable(1, D(7), D(-2), (CutRange(1, 1, 2),))
    lot = Choosable(0, D(10), D(5), (CutRange(10, 10, 2), CutRange(45, 1, 0)))
    assert nonzero(cheapest_choices([lot, three], D(28), 10).by_index) == {0: 10}
    # A switch's discount is twice the surplus: a lot of 10 (weight 100) costs 100 − 10 = 90,
    # dearer than one unit of 88, cheaper than one of 91.
    one = Choosable(2, D(88), D(-1), (CutRange(1, 1, 0),))
    assert nonzero(cheapest_choices([lot, one], D(80), 10).by_index) == {2: 1}
    dear = Choosable(2, D(91), D(-1), (CutRange(1, 1, 0),))
    assert nonzero(cheapest_choices([lot, dear], D(80), 10).by_index) == {0: 10}
    # No discount below the ideal: 2 units of 7 (14) lose to one unit of 13.
    below = Choosable(3, D(7), D(-2), (CutRange(2, 1, 0), CutRange(5, 1, 0)))
    thirteen = Choosable(4, D(13), D(0), (CutRange(1, 1, 0),))
    assert nonzero(cheapest_choices([below, thirteen], D(13), 10).by_index) == {4: 1}
    # Further steps come only with their progression's switch: cuts of 16, 26, 36 … never 10.
    gap = Choosable(5, D(10), D(0), (CutRange(16, 10, 4),))
    assert nonzero(cheapest_choices([gap], D(100), 10).by_index) == {5: 16}


def test_relax_admits_a_cheapest_holding_that_uses_the_whole_cash_row() -> None:
    # MV = 100, a 75 % reserve leaves 25: widened by 0.05 the band [5, 25] holds one unit of 25,
    # which spends the cash row exactly.
    problem = make_problem("100", ("A", "25", "0", "0.15", "0.05", "0.05"))
    options = TradingOptions(on_infeasible="relax", cash_reserve=D("0.75"))
    solution = optimize_rebalance(dataclasses.replace(problem, options=options))
    assert (solution.relaxed_by, dict(solution.quantities)) == (D("0.05"), {"A": 1})


def test_in_band_counts_the_cash_flow_and_takes_cash_of_zero() -> None:
    # MV′ = 10,000 + 100; A's 2,500 is inside 20-40 %; cash after the deposit 7,600 meets a
    # 74 % reserve (7,474) — cash without it (7,500) would not.
    problem = make_problem("7500", ("A", "100", "25", "0.3", "0.1", "0.1"))
    options = TradingOptions(trigger="out_of_band", cash_flow=D(100), cash_reserve=D("0.74"))
    assert optimize_rebalance(dataclasses.replace(problem, options=options)).status == "in_band"
    # Fully invested, cash 0 and 0.5: both in band.
    for cash in ("0", "0.5"):
        invested = make_problem(cash, ("A", "100", "10", "1", "0.05", "0.05"))
        trigger = TradingOptions(trigger="out_of_band")
        answer = optimize_rebalance(dataclasses.replace(invested, options=trigger))
        assert answer.status == "in_band", cash


def test_an_answer_that_fails_verification_is_a_defect_named_as_such() -> None:
    problem = make_problem("100", ("A", "10", "0", "0.5", "0.1", "0.1"))

    def refuse(*_: Any, **__: Any) -> Decimal:
        raise VerificationFailed("A: made up")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_constrained, "verify_with_options", refuse)
        with pytest.raises(
            OptimizerFailure, match=r"^an answer failed exact verification: A: made up$"
        ):
            optimize_rebalance(dataclasses.replace(problem, options=TradingOptions()))


def test_verification_of_a_fractional_holding_and_its_whole_part() -> None:
    # MV = 1,000 + 25.5 × 100 = 3,550; A's band 90-100 % of it: 3,195-3,550.
    problem = make_problem("1000", ("A", "100", "25.5", "0.95", "0.05", "0.05"))
    with exact():
        # no_buy waives the bottom of the band down to ⌊25.5⌋ = 25 units, not to 26.
        assert (
            verify_with_options(problem, TradingOptions(restrictions={"A": "no_buy"}), [D(25)]) >= 0
        )
        with pytest.raises(VerificationFailed, match=r"^A: 24 trades against"):
            verify_with_options(problem, TradingOptions(mode="buy_only"), [D(24)])
        # Only a locked holding may stay fractional.
        with pytest.raises(VerificationFailed, match=r"^A: 25\.5 is not a whole unit"):
            verify_with_options(problem, TradingOptions(restrictions={"A": "no_buy"}), [D("25.5")])
        # Lots of 2 from 25 (inside the band): 33 is a multiple away, 34 is not.
        assert verify_with_options(problem, TradingOptions(default_lot_size=2), [D(33)]) >= 0
        with pytest.raises(VerificationFailed, match=r"^A: the trade to 34 is not in lots of 2"):
            verify_with_options(problem, TradingOptions(default_lot_size=2), [D(34)])
    # Selling out a half unit is exempt from a minimum of 1 unit and lots of 3 (band [0, 0]).
    half = make_problem("10", ("A", "100", "0.5", "0", "0", "0"))
    options = TradingOptions(min_trade_quantity=1, default_lot_size=3)
    with exact():
        assert verify_with_options(half, options, [D(0)]) == 0


def test_stored_options_keep_every_digit() -> None:
    flow = D("1234567890.123456789012345678901")  # 31 significant digits
    assert options_from_text(options_text(TradingOptions(cash_flow=flow))).cash_flow == flow
    assert '"cash_flow":"1234567890.123456789012345678901"' in options_text(
        TradingOptions(cash_flow=flow)
    )


def test_an_answer_from_rounded_solver_data_says_milp_rounded() -> None:
    real = _constrained.cheapest_choices

    def unproven(items: Any, excess: Decimal, remaining: float) -> Any:
        return dataclasses.replace(real(items, excess, remaining), proven=False)

    problem = make_problem(
        "100", ("A", "30", "0", "0.5", "0.5", "0.5"), ("B", "45", "0", "0.5", "0.5", "0.5")
    )
    constrained = dataclasses.replace(problem, options=TradingOptions())
    assert optimize_rebalance(constrained).method == "milp"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_constrained, "cheapest_choices", unproven)
        solution = optimize_rebalance(constrained)
    assert (solution.status, solution.method, dict(solution.quantities)) == (
        "optimal", "milp-rounded", {"A": 1, "B": 1},
    )  # fmt: skip
