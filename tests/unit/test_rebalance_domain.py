"""From holdings, model and prices to the problem; from the solution to trades and drifts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from order_generation.domain.holdings import PortfolioHoldings
from order_generation.domain.investment_model import Position, new_model
from order_generation.domain.optimizer import RebalanceSolution, optimize_rebalance
from order_generation.domain.rebalance import (
    MissingPrices,
    infeasible_outcome,
    rebalance_problem,
    rebalanced_outcome,
)

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
