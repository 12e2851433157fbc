"""Every reason the solve under trading options gives, in full (SPEC §8: "every 'no' names the
constraint and security that make it so"). Each figure was worked out by hand in the comment
beside it."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from order_generation.domain.optimizer import (
    Infeasibility,
    RebalanceProblem,
    RebalanceSolution,
    optimize_rebalance,
)
from order_generation.domain.optimizer._reasons import percent
from order_generation.domain.trading_options import TradingOptions
from tests.unit.test_optimizer_oracle import make_problem

D = Decimal
# MV = 10,000: A holds 40 units at 100 (40 %, target 30 % ± 5 %), B nothing (target 50 % ± 5 %).
BASE = make_problem(
    "6000", ("A", "100", "40", "0.3", "0.05", "0.05"), ("B", "50", "0", "0.5", "0.05", "0.05")
)
# MV = 10,000; A holds 27 units at 100 against a band of 29-31 units (2,900-3,100 of value).
NEAR = make_problem("7300", ("A", "100", "27", "0.3", "0.01", "0.01"))
SHORT = make_problem("1000", ("A", "10", "-5", "0.3", "0.05", "0.05"))  # MV = 950
TRADE_BAND = {"price": "100", "band_low": "2900", "band_high": "3100"}
NEAR_TAIL = ": trades from the holding of 27 units must end in [2900, 3100] of value"


def solve(problem: RebalanceProblem, options: dict[str, object]) -> RebalanceSolution:
    constrained = dataclasses.replace(problem, options=TradingOptions(**options))  # type: ignore[arg-type]
    return optimize_rebalance(constrained)


def reason(problem: RebalanceProblem, **options: object) -> Infeasibility:
    solution = solve(problem, options)
    assert solution.status == "infeasible"
    assert (solution.method, solution.quantities, solution.objective) == ("bounds", {}, None)
    assert solution.reason is not None
    return solution.reason


CASES = [
    pytest.param(
        BASE, {"cash_flow": D(-250000)},
        Infeasibility(
            "cash_flow_exceeds_market_value",
            "cash_flow -250000 exceeds the portfolio's value 10000: no holdings leave cash ≥ 0",
            None, {"option": "cash_flow", "cash_flow": "-250000", "market_value": "10000"},
        ),
        id="withdrawal-beyond-the-value",
    ),
    pytest.param(
        # MV = 10 − 500 = −490, + 10 = −480: a deposit does not make the portfolio solvent.
        make_problem("10", ("A", "100", "-5", "0.3", "0.05", "0.05")), {"cash_flow": D(10)},
        Infeasibility(
            "negative_market_value", "market value -480 is negative: no holdings keep cash ≥ 0",
            None, {"market_value": "-480"},
        ),
        id="negative-value-after-a-deposit",
    ),
    pytest.param(
        # MV′ = 3,000: A may not sell, and its 40 units are worth 4,000 = 133.33 % of it.
        BASE, {"cash_flow": D(-7000), "restrictions": {"A": "no_sell"}},
        Infeasibility(
            "restriction",
            "A is no_sell and holds 40 units worth 133.33 % against a band of 25–35 %: together "
            "with the rest it needs more than the 3000 the cash row allows",
            "A", {"option": "restrictions", "rule": "no_sell", "quantity": "40", "value": "4000",
                  "cash_row": "3000"},
        ),
        id="no_sell-keeps-more-than-the-cash-row",
    ),
    pytest.param(
        BASE, {"cash_flow": D(-7000), "mode": "buy_only"},
        Infeasibility(
            "restriction",
            "A, under mode buy_only, holds 40 units worth 133.33 % against a band of 25–35 %: "
            "together with the rest it needs more than the 3000 the cash row allows",
            "A", {"option": "mode", "rule": "buy_only", "quantity": "40", "value": "4000",
                  "cash_row": "3000"},
        ),
        id="buy_only-keeps-more-than-the-cash-row",
    ),
    pytest.param(
        # MV′ = 5,000: A keeps 40 units (4,000), B's band needs at least 45 × 50 = 2,250.
        BASE, {"cash_flow": D(-5000), "restrictions": {"A": "no_sell"}},
        Infeasibility(
            "restriction",
            "A is no_sell and holds 40 units worth 80 % against a band of 25–35 %: together "
            "with the rest it needs more than the 5000 the cash row allows",
            "A", {"option": "restrictions", "rule": "no_sell", "quantity": "40", "value": "4000",
                  "cash_row": "5000"},
        ),
        id="no_sell-with-the-rest-too-dear",
    ),
    pytest.param(
        # −50 of 950 is −5.26 %.
        SHORT, {"restrictions": {"A": "no_buy"}},
        Infeasibility(
            "restriction",
            "A is no_buy and holds -5 units worth -5.26 % against a band of 25–35 %: a negative "
            "holding cannot reach 0 units without buying",
            "A", {"option": "restrictions", "rule": "no_buy", "quantity": "-5", "value": "-50",
                  "cash_row": "950"},
        ),
        id="short-position-that-may-not-be-bought-back",
    ),
    pytest.param(
        # Band 4-6 % of 9,000 = 360-540: 6 to 8 units at 64.12; lots of 100 from 0 reach none.
        make_problem("9000", ("XOM", "64.12", "0", "0.05", "0.01", "0.01")),
        {"lot_sizes": {"XOM": 100}},
        Infeasibility(
            "lot_size",
            "no multiple of lot 100 of XOM fits its band at 64.12: trades from the holding of 0 "
            "units must end in [360, 540] of value",
            "XOM", {"option": "lot_sizes", "options": "lot_sizes", "price": "64.12",
                    "band_low": "360", "band_high": "540"},
        ),
        id="lot",
    ),
    pytest.param(
        NEAR, {"min_trade_quantity": 5},  # 29-31 is a trade of 2-4 units
        Infeasibility(
            "min_trade", "no trade of at least 5 units of A fits its band at 100" + NEAR_TAIL,
            "A", {"option": "min_trade_quantity", "options": "min_trade_quantity", **TRADE_BAND},
        ),
        id="minimum-quantity",
    ),
    pytest.param(
        NEAR, {"min_trade_value": D(500)},  # a trade of 2-4 units is worth 200-400
        Infeasibility(
            "min_trade", "no trade of A worth at least 500 fits its band at 100" + NEAR_TAIL,
            "A", {"option": "min_trade_value", "options": "min_trade_value", **TRADE_BAND},
        ),
        id="minimum-value",
    ),
    pytest.param(
        # Lots of 2 from 27 reach 29 and 31 (trades of 200 and 400): neither is worth 500.
        NEAR, {"min_trade_value": D(500), "min_trade_quantity": 5, "default_lot_size": 2},
        Infeasibility(
            "lot_size",
            "no multiple of lot 2 of A fits its band at 100 (with min_trade_quantity 5 and "
            "min_trade_value 500)" + NEAR_TAIL,
            "A", {"option": "lot_sizes",
                  "options": "lot_sizes,min_trade_quantity,min_trade_value", **TRADE_BAND},
        ),
        id="lot-with-both-minimums",
    ),
    pytest.param(
        # The bands' fewest units, 25 A and 90 B, cost 7,000; a 31 % reserve leaves 6,900.
        BASE, {"cash_reserve": D("0.31")},
        Infeasibility(
            "minimum_spend_exceeds_market_value",
            "the fewest admissible units of every security cost 7000, more than the 6900 the "
            "cash row allows after cash_reserve 0.31",
            None, {"minimum_spend": "7000", "cash_row": "6900", "option": "cash_reserve"},
        ),
        id="reserve",
    ),
    pytest.param(
        BASE, {"cash_reserve": D("0.3"), "cash_flow": D(-100)},  # 9,900 × 0.7 = 6,930
        Infeasibility(
            "minimum_spend_exceeds_market_value",
            "the fewest admissible units of every security cost 7000, more than the 6930 the "
            "cash row allows after cash_flow -100 and cash_reserve 0.3",
            None, {"minimum_spend": "7000", "cash_row": "6930", "option": "cash_reserve"},
        ),
        id="withdrawal-and-reserve",
    ),
    pytest.param(
        # One security: its band's fewest units (55 × 10 = 550) alone exceed half of 1,000.
        make_problem("1000", ("A", "10", "0", "0.6", "0.05", "0.05")), {"cash_reserve": D("0.5")},
        Infeasibility(
            "minimum_spend_exceeds_market_value",
            "the fewest admissible units of every security cost 550, more than the 500 the "
            "cash row allows after cash_reserve 0.5",
            None, {"minimum_spend": "550", "cash_row": "500", "option": "cash_reserve"},
        ),
        id="one-band-dearer-than-the-cash-row",
    ),
    pytest.param(
        make_problem("100", ("A", "25", "0", "0.15", "0.05", "0.05")), {},
        Infeasibility(
            "empty_band", "security A: band [10, 20] of value holds no whole unit at price 25",
            "A", {"band_low": "10", "band_high": "20", "price": "25",
                  "securities_with_empty_band": "1"},
        ),
        id="band-with-no-whole-unit",
    ),
    pytest.param(
        SHORT, {"restrictions": {"A": "no_buy"}, "on_infeasible": "relax"},
        Infeasibility(
            "restriction",
            "A is no_buy and holds -5 units worth -5.26 % against a band of -75–135 %: a "
            "negative holding cannot reach 0 units without buying (on_infeasible: relax; no "
            "widening of the bands helps)",
            "A", {"option": "restrictions", "rule": "no_buy", "quantity": "-5", "value": "-50",
                  "cash_row": "950"},
        ),
        id="relax-cannot-help",
    ),
    pytest.param(
        # Targets of 60 % each: the bands' fewest units (6 + 6 at 10) cost 120 of 100.
        make_problem("100", ("A", "10", "0", "0.6", "0.05", "0.05"),
                     ("B", "10", "0", "0.6", "0.05", "0.05")),
        {"min_trade_quantity": 0},
        Infeasibility(
            "minimum_spend_exceeds_market_value",
            "the fewest admissible units of every security cost 120, more than the 100 the "
            "cash row allows",
            None, {"minimum_spend": "120", "cash_row": "100", "option": "cash_flow"},
        ),
        id="bands-dearer-than-the-value-no-cash-option",
    ),
    pytest.param(
        # MV = 50: A may not sell its half unit, and buying the rest of one unit costs 100.
        make_problem("0", ("A", "100", "0.5", "0.3", "0.3", "0.3")),
        {"restrictions": {"A": "no_sell"}},
        Infeasibility(
            "restriction",
            "A is no_sell and holds 0.5 units worth 100 % against a band of 0–60 %: together "
            "with the rest it needs more than the 50 the cash row allows",
            "A", {"option": "restrictions", "rule": "no_sell", "quantity": "0.5", "value": "50",
                  "cash_row": "50"},
        ),
        id="no_sell-of-a-fraction",
    ),
    pytest.param(
        # Band 690-710 of 1,000 holds only 7 units at 100: not a multiple of 100 from 0.
        make_problem("1000", ("A", "100", "0", "0.7", "0.01", "0.01")), {"default_lot_size": 100},
        Infeasibility(
            "lot_size",
            "no multiple of lot 100 of A fits its band at 100: trades from the holding of 0 "
            "units must end in [690, 710] of value",
            "A", {"option": "lot_sizes", "options": "lot_sizes", "price": "100",
                  "band_low": "690", "band_high": "710"},
        ),
        id="lot-against-a-single-unit",
    ),
    pytest.param(
        # Soft bands admit any holding, but not a short one that may not be bought back (the
        # hard band, 26-34 of MV 200, holds no unit at 40: soft bands must not call it empty).
        make_problem("240", ("A", "40", "-1", "0.15", "0.02", "0.02")),
        {"bands": "soft", "restrictions": {"A": "no_buy"}},
        Infeasibility(
            "restriction",
            "A is no_buy and holds -1 units worth -20 % against a band of 13–17 %: a "
            "negative holding cannot reach 0 units without buying",
            "A", {"option": "restrictions", "rule": "no_buy", "quantity": "-1", "value": "-40",
                  "cash_row": "200"},
        ),
        id="soft-bands-and-a-short-no_buy",
    ),
    pytest.param(
        # Band 4.7-4.9 of 10 holds only 12 units at 0.4: a trade of 2 from 10, worth 0.8.
        make_problem("6", ("A", "0.4", "10", "0.48", "0.01", "0.01")), {"min_trade_value": D(1)},
        Infeasibility(
            "min_trade",
            "no trade of A worth at least 1 fits its band at 0.4: trades from the holding of 10 "
            "units must end in [4.7, 4.9] of value",
            "A", {"option": "min_trade_value", "options": "min_trade_value", "price": "0.4",
                  "band_low": "4.7", "band_high": "4.9"},
        ),
        id="minimum-value-of-exactly-one",
    ),
]  # fmt: skip


def test_the_security_a_direction_forces_furthest_above_its_band_is_named() -> None:
    # MV = 300 + 400 + 300 = 1,000, a 50 % reserve leaves 500. A keeps 40 units at 10 against a
    # band from 30 (35 % − 5 %): 100 forced above it; B keeps 30 against a band from 5: 250.
    # Together they need 700: B is the one to name.
    problem = make_problem(
        "300", ("A", "10", "40", "0.35", "0.05", "0.05"), ("B", "10", "30", "0.1", "0.05", "0.05")
    )
    options = {"cash_reserve": D("0.5"), "restrictions": {"A": "no_sell", "B": "no_sell"}}
    assert reason(problem, **options).security_id == "B"
    # Equally forced: the first is named.
    even = make_problem(
        "300", ("A", "10", "35", "0.1", "0.05", "0.05"), ("B", "10", "35", "0.1", "0.05", "0.05")
    )
    assert reason(even, **options).security_id == "A"
    # Only the second restricted: it is found after the first, unrestricted, is passed over.
    assert reason(problem, **{**options, "restrictions": {"B": "no_sell"}}).security_id == "B"
    # Under soft bands nothing below a holding is forced but by the direction: A keeps 400,
    # B 300 (their hard bands would have forced only 100 and 250).
    soft = {**options, "bands": "soft"}
    assert reason(problem, **soft).security_id == "A"


def test_under_soft_bands_a_kept_holding_is_blamed_even_where_the_hard_band_is_dear() -> None:
    # MV′ 3,000 with an 80 % reserve: 600 to spend. A keeps 40 units (4,000); its hard band
    # (8 units, 800) would not fit either, but under soft bands A could hold nothing.
    blamed = reason(
        BASE, bands="soft", cash_flow=D(-7000), cash_reserve=D("0.8"), restrictions={"A": "no_sell"}
    )
    assert (blamed.kind, blamed.security_id) == ("restriction", "A")


def test_a_restriction_that_forces_nothing_is_not_blamed_for_a_dear_total() -> None:
    # MV = 1,000, a 55 % reserve leaves 450: B's band (45 units at 10) fits alone, D's one unit
    # (1 % at 10) tips the total over. B may not sell, but holds nothing: nothing is forced.
    problem = make_problem(
        "1000", ("B", "10", "0", "0.5", "0.05", "0.05"), ("D", "10", "0", "0.01", "0", "0")
    )
    blamed = reason(problem, cash_reserve=D("0.55"), restrictions={"B": "no_sell"})
    assert (blamed.kind, blamed.security_id) == ("minimum_spend_exceeds_market_value", None)


def test_a_restriction_that_forces_little_or_nothing() -> None:
    # MV = 1,000; B's band (45-55 % at 10) needs 450, all a 55 % reserve leaves.
    problem = make_problem(
        "999.5", ("C", "0.5", "1", "0", "0", "0"), ("B", "10", "0", "0.5", "0.05", "0.05")
    )
    # C may not sell its one unit of 0.5, above its band [0, 0]: named, however little.
    forced = reason(problem, cash_reserve=D("0.55"), restrictions={"C": "no_sell"})
    assert (forced.kind, forced.security_id) == ("restriction", "C")
    # A 56 % reserve leaves 440: B's band alone is too dear; B's no_sell (it holds nothing)
    # is not to blame.
    free = reason(problem, cash_reserve=D("0.56"), restrictions={"B": "no_sell"})
    assert (free.kind, free.security_id) == ("minimum_spend_exceeds_market_value", None)
    assert free.message.startswith("the fewest admissible units of every security cost 450")


@pytest.mark.parametrize(("problem", "options", "expected"), CASES)
def test_every_no_names_its_option_and_security(
    problem: RebalanceProblem, options: dict[str, object], expected: Infeasibility | None
) -> None:
    if expected is None:
        solution = optimize_rebalance(
            dataclasses.replace(problem, options=TradingOptions(**options))
        )  # type: ignore[arg-type]
        assert solution.status == "optimal"
        return
    assert reason(problem, **options) == expected


def test_a_relaxed_answer_says_how_far_the_bands_were_widened() -> None:
    problem = make_problem("100", ("A", "25", "0", "0.15", "0.05", "0.05"))
    options = TradingOptions(on_infeasible="relax")
    solution = optimize_rebalance(dataclasses.replace(problem, options=options))
    assert (solution.status, solution.relaxed_by, str(solution.relaxed_by)) == (
        "optimal", D("0.05"), "0.05",
    )  # fmt: skip
    assert solution.reason == Infeasibility(
        "relaxed",
        "no whole-unit answer fits the bands; every band was widened by 0.05 on both sides "
        "(on_infeasible: relax), the smallest widening on the 0.0001 grid that admits one",
        None,
        {"relaxed_by": "0.05"},
    )


@pytest.mark.parametrize(
    ("value", "whole", "text"),
    [
        (D(4000), D(3000), "133.33"),
        (D(1), D(6), "16.67"),  # half up
        (D(-50), D(950), "-5.26"),
        (D(2500), D(10000), "25"),
        (D(1), D(0), "∞"),
        (D(0), D(0), "0"),
    ],
)
def test_percentages_in_messages(value: Decimal, whole: Decimal, text: str) -> None:
    assert percent(value, whole) == text
