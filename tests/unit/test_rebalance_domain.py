"""From holdings, model and prices to the problem; from the solution to trades and drifts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from order_generation.domain.holdings import PortfolioHoldings
from order_generation.domain.investment_model import Position, new_model
from order_generation.domain.optimizer import RebalanceSolution, SecurityTarget, optimize_rebalance
from order_generation.domain.rebalance import (
    MissingPrices,
    in_band,
    infeasible_outcome,
    position_outcome,
    rebalance_problem,
    rebalanced_outcome,
)
from order_generation.domain.trading_options import TradingOptions

A, B, C, D = (f"{i:024x}" for i in range(1, 5))
PF = "f" * 24
TODAY = date(2026, 11, 26)


def D_(value: str) -> Decimal:
    return Decimal(value)


MODEL = new_model(
    "m",
    [
        Position(A, D_("0.5"), D_("0.05"), D_("0.05")),
        Position(B, D_("0.3"), D_("0.02"), D_("0.02")),
    ],
    [PF],
)
PRICES = {A: D_("100"), B: D_("50"), C: D_("20"), D: D_("7")}


def test_universe_is_model_then_held_outside_the_model() -> None:
    holdings = PortfolioHoldings(PF, D_("1000"), {C: D_("10"), A: D_("5"), D: D_("0")})
    problem = rebalance_problem(holdings, MODEL, PRICES)
    assert [s.security_id for s in problem.securities] == [A, B, C]  # D: zero, not in model
    a, b, c = problem.securities
    assert (a.quantity, a.price, a.target, a.low_drift, a.high_drift) == (
        D_("5"),
        D_("100"),
        D_("0.5"),
        D_("0.05"),
        D_("0.05"),
    )
    assert b.quantity == 0
    assert (c.quantity, c.target, c.low_drift, c.high_drift) == (D_("10"), 0, 0, 0)
    assert problem.cash == D_("1000")
    assert problem.market_value == D_("1000") + 5 * 100 + 10 * 20


def test_missing_prices_name_the_securities() -> None:
    holdings = PortfolioHoldings(PF, D_("1000"), {C: D_("1")})
    with pytest.raises(MissingPrices) as exc:
        rebalance_problem(holdings, MODEL, {A: D_("1")})
    assert exc.value.security_ids == (B, C)
    assert B in str(exc.value)
    assert C in str(exc.value)


def test_trades_drifts_and_cash_after_a_rebalance() -> None:
    # MV = 1000 + 5·100 + 10·20 = 1700. A: 0.5·1700/100 = 8.5 → 8 or 9 (tie → 8, nearer 5).
    # B: 0.3·1700/50 = 10.2 → 10. C sold. Spend 800 + 500 = 1300 ≤ 1700.
    holdings = PortfolioHoldings(PF, D_("1000"), {A: D_("5"), C: D_("10")})
    problem = rebalance_problem(holdings, MODEL, PRICES)
    solution = optimize_rebalance(problem)
    assert solution.status == "optimal"
    outcome = rebalanced_outcome(PF, "Portfolio 1", problem, solution, TODAY)

    assert outcome.status == "rebalanced"
    assert outcome.reason is None
    assert outcome.market_value == D_("1700")
    assert outcome.cash_before_rebalance == D_("1000")
    assert outcome.cash_after_rebalance == D_("400")
    a, b, c = outcome.positions
    assert (a.security_id, a.original_quantity, a.adjusted_quantity) == (A, 5, 8)
    assert (a.transaction_type, a.trade_quantity, a.trade_date) == ("BUY", 3, TODAY)
    assert a.original_position_market_value == D_("500")
    assert a.adjusted_position_market_value == D_("800")
    assert a.actual == D_("0.4706")  # 800 / 1700 = 0.470588… rounded to 4 places
    assert a.actual_drift == D_("-0.0294")
    assert (b.adjusted_quantity, b.transaction_type, b.trade_quantity) == (10, "BUY", 10)
    assert b.actual == D_("0.2941")
    assert (c.adjusted_quantity, c.transaction_type, c.trade_quantity) == (0, "SELL", 10)
    assert (c.actual, c.actual_drift, c.target) == (0, 0, 0)
    assert [(t.security_id, t.transaction_type, t.trade_quantity) for t in outcome.trades] == [
        (A, "BUY", 3),
        (B, "BUY", 10),
        (C, "SELL", 10),
    ]


def test_no_trade_when_already_on_target() -> None:
    holdings = PortfolioHoldings(PF, D_("500"), {A: D_("5")})  # MV 1000, A worth 500
    model = new_model("m", [Position(A, D_("0.5"), D_("0.01"), D_("0.01"))], [PF])
    problem = rebalance_problem(holdings, model, {A: D_("100")})
    outcome = rebalanced_outcome(PF, None, problem, optimize_rebalance(problem), TODAY)
    (a,) = outcome.positions
    assert (a.transaction_type, a.trade_quantity, a.actual, a.actual_drift) == (
        None,
        0,
        D_("0.5"),
        0,
    )
    assert outcome.trades == ()
    assert outcome.portfolio_name is None


def test_empty_portfolio_has_zero_market_value_and_no_trades() -> None:
    problem = rebalance_problem(PortfolioHoldings.empty(PF), MODEL, PRICES)
    outcome = rebalanced_outcome(PF, None, problem, optimize_rebalance(problem), TODAY)
    assert outcome.market_value == 0
    assert outcome.trades == ()
    assert all(p.actual == 0 for p in outcome.positions)


def test_infeasible_outcome_keeps_holdings_and_reports_the_reason() -> None:
    holdings = PortfolioHoldings(PF, D_("100"), {C: D_("2")})
    model = new_model("m", [Position(A, D_("0.5"), D_("0.01"), D_("0.01"))], [PF])
    problem = rebalance_problem(holdings, model, {A: D_("1000"), C: D_("50")})
    solution = optimize_rebalance(problem)
    assert solution.status == "infeasible"
    outcome = infeasible_outcome(
        PF, "P", problem, solution.reason.message if solution.reason else "", TODAY
    )
    assert outcome.status == "infeasible"
    assert outcome.reason
    assert outcome.trades == ()
    assert outcome.cash_after_rebalance == outcome.cash_before_rebalance == D_("100")
    assert [(p.original_quantity, p.adjusted_quantity) for p in outcome.positions] == [
        (0, 0),
        (2, 2),
    ]
    assert outcome.positions[1].actual == D_("0.5")


def test_a_solution_for_another_problem_is_refused() -> None:
    problem = rebalance_problem(PortfolioHoldings.empty(PF), MODEL, PRICES)
    wrong = RebalanceSolution("optimal", Decimal(0), {A: 1}, Decimal(0), None)
    with pytest.raises(ValueError, match="does not answer"):
        rebalanced_outcome(PF, None, problem, wrong, TODAY)


# --- under trading options (SPEC §8) -----------------------------------------------------------


def test_options_reach_the_problem_and_the_outcome_counts_the_cash_flow() -> None:
    # MV = 1,700 + a deposit of 300 = 2,000. A: 0.5 · 2,000 / 100 = 10; B: 0.3 · 2,000 / 50 = 12.
    holdings = PortfolioHoldings(PF, D_("1000"), {A: D_("5"), C: D_("10")})
    options = TradingOptions(cash_flow=D_("300"))
    problem = rebalance_problem(holdings, MODEL, PRICES, options)
    assert problem.options is options
    outcome = rebalanced_outcome(PF, None, problem, optimize_rebalance(problem), TODAY)
    assert outcome.options is options
    assert outcome.relaxed_by is None
    assert outcome.market_value == D_("2000")
    assert outcome.cash_before_rebalance == D_("1000")
    assert outcome.cash_after_rebalance == D_("2000") - 10 * 100 - 12 * 50
    a, b, _ = outcome.positions
    assert (a.adjusted_quantity, a.actual, b.adjusted_quantity, b.actual) == (
        10,
        D_("0.5"),
        12,
        D_("0.3"),
    )
    assert [in_band(p, outcome.market_value) for p in outcome.positions] == [True, True, True]
    # Without options the same holdings are not charged a cash flow, and carry no options.
    plain = rebalance_problem(holdings, MODEL, PRICES)
    assert plain.options is None
    assert rebalanced_outcome(PF, None, plain, optimize_rebalance(plain), TODAY).options is None


def test_a_relaxed_outcome_keeps_the_widening_and_says_so() -> None:
    # MV = 100: A's band [10, 20] holds no unit at 25 until widened by 0.05.
    model = new_model("m", [Position(A, D_("0.15"), D_("0.05"), D_("0.05"))], [PF])
    holdings = PortfolioHoldings(PF, D_("100"), {})
    options = TradingOptions(on_infeasible="relax")
    problem = rebalance_problem(holdings, model, {A: D_("25")}, options)
    outcome = rebalanced_outcome(PF, None, problem, optimize_rebalance(problem), TODAY)
    assert (outcome.status, outcome.relaxed_by) == ("rebalanced", D_("0.05"))
    assert outcome.reason is not None
    assert outcome.reason.startswith("no whole-unit answer fits the bands; every band was widened")
    (a,) = outcome.positions
    assert (a.adjusted_quantity, in_band(a, D_("100"))) == (1, False)  # 25 is outside 10-20


def test_an_in_band_outcome_keeps_the_holdings() -> None:
    holdings = PortfolioHoldings(PF, D_("1000"), {A: D_("5")})
    problem = rebalance_problem(holdings, MODEL, PRICES, TradingOptions(trigger="out_of_band"))
    outcome = infeasible_outcome(PF, None, problem, "in band", TODAY, "in_band")
    assert (outcome.status, outcome.reason, outcome.trades) == ("in_band", "in band", ())
    assert [p.adjusted_quantity for p in outcome.positions] == [5, 0]


@pytest.mark.parametrize(
    ("value", "inside"), [("250", True), ("249.99", False), ("350", True), ("350.01", False)]
)
def test_in_band_is_inclusive_and_exact(value: str, inside: bool) -> None:
    # Target 30 % ± 5 % of 1,000: 250 to 350.
    position = position_outcome(
        SecurityTarget(A, D_("0.01"), D_("0"), D_("0.3"), D_("0.05"), D_("0.05")),
        D_(value) / D_("0.01"),
        D_("1000"),
        TODAY,
    )
    assert in_band(position, D_("1000")) is inside


def test_model_default_options_are_kept_only_when_set() -> None:
    assert new_model("m", [], [], {}).rebalance_options is None
    assert new_model("m", [], [], {"mode": "buy_only"}).rebalance_options == {"mode": "buy_only"}
    revised = MODEL.revised(
        name="m", positions=MODEL.positions, portfolios=(), last_rebalance_date=None,
        rebalance_options={},
    )  # fmt: skip
    assert revised.rebalance_options is None
    kept = MODEL.revised(
        name="m", positions=MODEL.positions, portfolios=(), last_rebalance_date=None,
        rebalance_options={"bands": "soft"},
    )  # fmt: skip
    assert kept.rebalance_options == {"bands": "soft"}
