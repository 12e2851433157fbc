"""The optimizer under SPEC §8's options, held to the independent oracle of
``test_optimizer_options_oracle`` (which tries every unit against each rule and every
combination): the same optimum, infeasible exactly when the oracle finds nothing, the smallest
grid widening for ``relax``, and reasons that name the option and the security."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from order_generation.domain.optimizer import (
    RebalanceProblem,
    RebalanceSolution,
    optimize_rebalance,
    optimize_rebalance_inline,
)
from order_generation.domain.trading_options import TradingOptions
from tests.unit.test_optimizer_options_oracle import (
    Options,
    brute_force,
    small_problems_with_options,
    smallest_widening,
)
from tests.unit.test_optimizer_oracle import make_problem


def exact_decimal(value: Fraction) -> Decimal:
    """A fraction with a terminating decimal expansion, exactly."""
    decimal = Decimal(value.numerator) / Decimal(value.denominator)
    assert Fraction(decimal) == value
    return decimal


def domain_options(options: Options, **changes: Any) -> TradingOptions:
    """The oracle's options as the domain's ``TradingOptions``."""
    return dataclasses.replace(
        TradingOptions(
            cash_flow=exact_decimal(options.cash_flow),
            cash_reserve=exact_decimal(options.cash_reserve),
            mode=options.mode,  # type: ignore[arg-type]
            restrictions=options.restrictions,  # type: ignore[arg-type]
            min_trade_value=exact_decimal(options.min_trade_value),
            min_trade_quantity=options.min_trade_quantity,
            lot_sizes=options.lot_sizes,
            default_lot_size=options.default_lot_size,
            bands=options.bands,  # type: ignore[arg-type]
        ),
        **changes,
    )


def solve(problem: RebalanceProblem, options: TradingOptions) -> RebalanceSolution:
    return optimize_rebalance(dataclasses.replace(problem, options=options))


def units_of(problem: RebalanceProblem, solution: RebalanceSolution) -> tuple[Fraction, ...]:
    assert list(solution.quantities) == [s.security_id for s in problem.securities]
    return tuple(Fraction(solution.quantities[s.security_id]) for s in problem.securities)


@st.composite
def crowded_problems_with_options(draw: st.DrawFn) -> tuple[RebalanceProblem, Options]:
    """Like the oracle's problems, but with targets that may add up to more than the whole, so
    the cash row binds and the MILP decides."""
    ids = ["A", "B", "C"][: draw(st.integers(2, 3))]
    rows = []
    for sid in ids:
        price = draw(st.sampled_from(["7", "12.5", "20", "33"]))
        quantity = draw(st.sampled_from(["0", "2", "5", "4.5", "9"]))
        target = draw(st.sampled_from(["0.2", "0.35", "0.45", "0.6"]))
        drift = draw(st.sampled_from(["0.05", "0.2", "0.45"]))
        rows.append((sid, price, quantity, target, drift, drift))
    cash = draw(st.sampled_from(["40", "100", "150"]))
    options = Options(
        cash_flow=Fraction(draw(st.sampled_from([0, 0, 30, -40]))),
        cash_reserve=draw(st.sampled_from([Fraction(0), Fraction(1, 10)])),
        mode=draw(st.sampled_from(["full", "full", "buy_only", "sell_only"])),
        restrictions=draw(
            st.dictionaries(st.sampled_from(ids), st.sampled_from(["no_buy", "no_sell", "locked"]))
        ),
        min_trade_value=Fraction(draw(st.sampled_from([0, 0, 25, 60]))),
        min_trade_quantity=draw(st.sampled_from([0, 0, 2])),
        lot_sizes=draw(st.dictionaries(st.sampled_from(ids), st.sampled_from([1, 2, 3]))),
        default_lot_size=draw(st.sampled_from([1, 1, 2])),
        bands=draw(st.sampled_from(["hard", "hard", "soft"])),
    )
    return make_problem(cash, *rows), options


def oracle_problems() -> st.SearchStrategy[tuple[RebalanceProblem, Options]]:
    return st.one_of(small_problems_with_options(), crowded_problems_with_options())


# The four properties below draw ~900 examples (about 20 s): `slow`; under mutation they run
# small and derandomized (test_optimizer_options_mutants.py).
@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(oracle_problems())
def test_same_optimum_as_brute_force_and_infeasible_exactly_when_it_finds_nothing(
    case: tuple[RebalanceProblem, Options],
) -> None:
    problem, options = case
    answer = brute_force(problem, options, limit=60_000)
    assume(answer is not None)
    assert answer is not None
    solution = solve(problem, domain_options(options))
    if not answer.feasible:
        assert solution.status == "infeasible"
        assert solution.reason is not None
        assert solution.quantities == {}
        return
    assert solution.status == "optimal", solution.reason
    assert units_of(problem, solution) in answer.optimal_solutions
    assert solution.objective is not None
    assert Fraction(solution.objective) == answer.objective
    assert solution.relaxed_by is None


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(oracle_problems())
def test_relax_answers_the_optimum_at_the_smallest_grid_widening(
    case: tuple[RebalanceProblem, Options],
) -> None:
    problem, options = case
    widening = smallest_widening(problem, options)
    solution = solve(problem, domain_options(options, on_infeasible="relax"))
    if widening is None:
        assert solution.status == "infeasible"
        return
    if widening == 0:
        assert solution.relaxed_by is None
        assert solution == solve(problem, domain_options(options))
        return
    widened = dataclasses.replace(options, widen=widening)
    answer = brute_force(problem, widened, limit=60_000)
    assume(answer is not None)
    assert answer is not None
    assert solution.status == "optimal"
    assert solution.relaxed_by == exact_decimal(widening)
    assert solution.reason is not None
    assert solution.reason.kind == "relaxed"
    assert units_of(problem, solution) in answer.optimal_solutions


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(oracle_problems())
def test_the_inline_answer_is_the_full_answer_or_none(
    case: tuple[RebalanceProblem, Options],
) -> None:
    problem, options = case
    constrained = dataclasses.replace(problem, options=domain_options(options))
    inline = optimize_rebalance_inline(constrained)
    if inline is not None:
        assert inline == optimize_rebalance(constrained)


TODAYS_CASH = st.sampled_from(["0", "100", "2500"])
TODAYS_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["7", "12.5", "0.33", "410"]),
        st.sampled_from(["0", "3", "4.5", "250"]),
        st.sampled_from(["0", "0.1", "0.45", "0.7"]),
        st.sampled_from(["0", "0.01", "0.3"]),
    ),
    min_size=1,
    max_size=5,
)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(TODAYS_CASH, TODAYS_ROWS)
def test_default_options_give_todays_answer(cash: str, rows: list[tuple[str, ...]]) -> None:
    problem = make_problem(cash, *((f"S{i}", p, q, t, d, d) for i, (p, q, t, d) in enumerate(rows)))
    today = optimize_rebalance(problem)
    with_defaults = solve(problem, TradingOptions())
    assert (with_defaults.status, with_defaults.quantities) == (today.status, today.quantities)
    assert with_defaults.objective == today.objective
    assert with_defaults.market_value == today.market_value


# --- SPEC §8 by example ------------------------------------------------------------------------

# MV = 10,000: A holds 40 units at 100 (40 %, target 30 % ± 5 %), B nothing (target 50 % ± 5 %).
BASE = make_problem(
    "6000", ("A", "100", "40", "0.3", "0.05", "0.05"), ("B", "50", "0", "0.5", "0.05", "0.05")
)


def test_a_deposit_is_invested_without_selling() -> None:
    solution = solve(BASE, TradingOptions(cash_flow=Decimal(2000), mode="buy_only"))
    # MV′ = 12,000; A may not sell below its 40 units (36 would be the target), B buys 120.
    assert solution.status == "optimal"
    assert dict(solution.quantities) == {"A": 40, "B": 120}
    assert solution.market_value == Decimal(12000)


def test_the_market_value_of_the_answer_includes_the_cash_flow() -> None:
    solution = solve(BASE, TradingOptions(cash_flow=Decimal(-1000)))
    assert solution.market_value == Decimal(9000)
    assert dict(solution.quantities) == {"A": 27, "B": 90}


def test_a_withdrawal_beyond_the_value_names_the_cash_flow() -> None:
    solution = solve(BASE, TradingOptions(cash_flow=Decimal(-250000)))
    assert solution.status == "infeasible"
    assert solution.reason is not None
    assert solution.reason.kind == "cash_flow_exceeds_market_value"
    assert "cash_flow -250000 exceeds the portfolio's value 10000" in solution.reason.message


def test_no_sell_holding_too_much_for_the_cash_names_the_security_and_its_band() -> None:
    # Raising 7,000 leaves MV′ 3,000; A may not sell and its 40 units are worth 4,000.
    solution = solve(BASE, TradingOptions(cash_flow=Decimal(-7000), restrictions={"A": "no_sell"}))
    assert solution.status == "infeasible"
    assert solution.reason is not None
    assert solution.reason.security_id == "A"
    assert solution.reason.details["option"] == "restrictions"
    assert solution.reason.message.startswith(
        "A is no_sell and holds 40 units worth 133.33 % against a band of 25–35 %"
    )


def test_no_lot_multiple_in_the_band_names_the_lot() -> None:
    problem = make_problem("9000", ("XOM", "64.12", "0", "0.05", "0.01", "0.01"))
    solution = solve(problem, TradingOptions(lot_sizes={"XOM": 100}))
    assert solution.status == "infeasible"
    assert solution.reason is not None
    assert solution.reason.kind == "lot_size"
    assert solution.reason.security_id == "XOM"
    assert solution.reason.message.startswith(
        "no multiple of lot 100 of XOM fits its band at 64.12"
    )


def test_a_minimum_trade_that_no_unit_in_the_band_reaches_names_the_minimum() -> None:
    # A's band is 29-31 units around a holding of 30: no trade of 5 units fits it, and keeping 30
    # is allowed, so this is feasible; with the holding at 27 the only way in is a trade of 2-4.
    problem = make_problem("7300", ("A", "100", "27", "0.3", "0.01", "0.01"))
    solution = solve(problem, TradingOptions(min_trade_quantity=5))
    assert solution.status == "infeasible"
    assert solution.reason is not None
    assert solution.reason.kind == "min_trade"
    assert solution.reason.details["option"] == "min_trade_quantity"
    assert solution.reason.security_id == "A"


def test_a_reserve_names_itself_when_the_bands_cannot_leave_it() -> None:
    solution = solve(BASE, TradingOptions(cash_reserve=Decimal("0.31")))
    assert solution.status == "infeasible"
    assert solution.reason is not None
    assert solution.reason.kind == "minimum_spend_exceeds_market_value"
    assert "cash_reserve 0.31" in solution.reason.message


def test_relax_names_the_widening_in_its_reason() -> None:
    problem = make_problem("100", ("A", "25", "0", "0.15", "0.05", "0.05"))
    solution = solve(problem, TradingOptions(on_infeasible="relax"))
    assert solution.status == "optimal"
    assert solution.relaxed_by == Decimal("0.05")
    assert dict(solution.quantities) == {"A": 1}
    assert solution.reason is not None
    assert "widened by 0.05" in solution.reason.message


def test_relax_that_cannot_help_reports_what_blocks_it() -> None:
    solution = solve(BASE, TradingOptions(cash_flow=Decimal(-20000), on_infeasible="relax"))
    assert solution.status == "infeasible"
    assert solution.reason is not None
    assert solution.reason.kind == "cash_flow_exceeds_market_value"


def test_a_locked_fractional_holding_stays_as_it_is() -> None:
    problem = make_problem(
        "1000", ("A", "10", "2.5", "0.5", "0.01", "0.01"), ("B", "10", "0", "0.3", "0.1", "0.1")
    )
    solution = solve(problem, TradingOptions(restrictions={"A": "locked"}))
    assert solution.status == "optimal"
    assert solution.quantities["A"] == Decimal("2.5")
    assert solution.quantities["B"] == 31  # 30 % of MV 1,025 is 307.5: 30.75 units round to 31


@pytest.mark.parametrize("mode", ["buy_only", "sell_only"])
def test_a_mode_never_trades_the_forbidden_way(mode: str) -> None:
    solution = solve(BASE, TradingOptions(mode=mode))  # type: ignore[arg-type]
    assert solution.status == "optimal"
    if mode == "buy_only":
        assert solution.quantities["A"] == 40
    else:
        assert solution.quantities["B"] == 0


def test_in_band_portfolios_are_not_traded_under_out_of_band_trigger() -> None:
    problem = make_problem(
        "7100", ("A", "100", "29", "0.3", "0.05", "0.05"), ("B", "50", "0", "0.0", "0.0", "0.0")
    )
    solution = solve(problem, TradingOptions(trigger="out_of_band"))
    assert solution.status == "in_band"
    assert solution.quantities == {}
    assert solve(problem, TradingOptions()).status == "optimal"
    # A reserve of 72 % is not met by 71 % cash: out of band, so traded.
    assert (
        solve(problem, TradingOptions(trigger="out_of_band", cash_reserve=Decimal("0.72"))).status
        == "optimal"
    )
