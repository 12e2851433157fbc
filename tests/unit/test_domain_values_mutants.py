"""Domain values and small rules that mutation testing found unpinned (docs/mutation-testing.md):
errors, orders, holdings, ids, exact decimals, trade sides and the rebalance outcomes."""

from __future__ import annotations

import re
import time
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import (
    DatabaseUnavailable,
    DomainError,
    InvalidState,
    Overloaded,
    RuleViolation,
    ServiceUnavailable,
    Unavailable,
    VersionConflict,
    check_version,
)
from order_generation.domain.holdings import PortfolioHoldings
from order_generation.domain.ids import new_object_id, require_object_id
from order_generation.domain.numbers import exact_decimal, exact_decimals
from order_generation.domain.optimizer import RebalanceProblem, RebalanceSolution, SecurityTarget
from order_generation.domain.orders import OrderBatchResult, OrderRequest, OrderResult
from order_generation.domain.rebalance import (
    MissingPrices,
    PortfolioRebalance,
    failed_outcome,
    infeasible_outcome,
    position_outcome,
    rebalanced_outcome,
    unpriced_outcome,
)
from order_generation.domain.trade import side_of

TODAY = date(2026, 11, 26)
A, B = "a" * 24, "b" * 24


# --- errors -----------------------------------------------------------------------------------


def test_check_version_passes_the_current_version_and_refuses_a_stale_one() -> None:
    check_version("model", A, 3, 3)
    with pytest.raises(VersionConflict) as exc:
        check_version("model", A, 4, 3)
    assert exc.value.code == ErrorCode.VERSION_CONFLICT
    assert exc.value.message == (f"model {A} is at version 4, not 3; read it again and retry")


def test_rule_violation_keeps_its_message_code_and_error_items() -> None:
    items = [{"loc": ["body", "name"], "msg": "too long"}]
    error = RuleViolation("bad", code=ErrorCode.INVALID_NAME, errors=items)
    assert (error.message, str(error), error.code, error.errors) == (
        "bad",
        "bad",
        ErrorCode.INVALID_NAME,
        items,
    )
    assert RuleViolation("bad", code=ErrorCode.INVALID_NAME).errors == []
    assert DomainError("x").errors == []
    assert DomainError("x").code == ErrorCode.INTERNAL_ERROR


def test_invalid_state_keeps_its_message_and_code() -> None:
    error = InvalidState("has portfolios", code=ErrorCode.MODEL_HAS_PORTFOLIOS)
    assert (error.message, error.code, error.errors) == (
        "has portfolios",
        ErrorCode.MODEL_HAS_PORTFOLIOS,
        [],
    )


def test_unavailable_retries_after_5_seconds_by_default_and_never_under_1() -> None:
    assert Unavailable("down").retry_after_seconds == 5
    assert Unavailable("down").message == "down"
    assert Unavailable("down", retry_after_seconds=0).retry_after_seconds == 1
    assert Unavailable("down", retry_after_seconds=-3).retry_after_seconds == 1
    assert Unavailable("down", retry_after_seconds=12).retry_after_seconds == 12
    assert DatabaseUnavailable("db").code == ErrorCode.DATABASE_UNAVAILABLE
    assert Overloaded("busy").code == ErrorCode.OVERLOADED


def test_service_unavailable_names_the_service() -> None:
    error = ServiceUnavailable("pricing", "timed out")
    assert error.message == "pricing service unavailable: timed out"
    assert error.service == "pricing"
    assert error.retry_after_seconds == 5
    assert error.code == ErrorCode.SERVICE_UNAVAILABLE
    assert ServiceUnavailable("pricing", "x", retry_after_seconds=9).retry_after_seconds == 9
    assert ServiceUnavailable("pricing", "x", retry_after_seconds=0).retry_after_seconds == 1


# --- orders -----------------------------------------------------------------------------------


def test_an_order_is_for_one_unit_or_more() -> None:
    assert OrderRequest(A, B, "BUY", 1).quantity == 1
    for quantity in (0, -1):
        with pytest.raises(ValueError, match=f"order quantity must be > 0, got {quantity}"):
            OrderRequest(A, B, "SELL", quantity)


def test_order_batch_status_counts_successes_and_failures() -> None:
    ok, bad = OrderResult(0, True, 7, "created"), OrderResult(1, False, None, "refused")
    assert OrderBatchResult((ok, ok)).status == "SUCCESS"
    both = OrderBatchResult((ok, bad))
    assert (both.successful, both.failed, both.status) == (1, 1, "PARTIAL")
    assert OrderBatchResult((bad,)).status == "FAILURE"
    assert OrderBatchResult(()).status == "SUCCESS"


# --- holdings ---------------------------------------------------------------------------------


def test_holdings_quantities_are_a_read_only_copy() -> None:
    given = {A: Decimal(3)}
    holdings = PortfolioHoldings("p", Decimal(10), given)
    given[B] = Decimal(1)
    assert dict(holdings.quantities) == {A: Decimal(3)}
    with pytest.raises(TypeError):
        holdings.quantities[B] = Decimal(1)  # type: ignore[index]


def test_empty_holdings_keep_the_portfolio_id() -> None:
    empty = PortfolioHoldings.empty("p1")
    assert (empty.portfolio_id, empty.cash, dict(empty.quantities)) == ("p1", 0, {})


# --- ids --------------------------------------------------------------------------------------


def test_new_object_ids_start_with_the_current_time_in_seconds() -> None:
    before = int(time.time())
    stamp = int(new_object_id()[:8], 16)
    assert before <= stamp <= int(time.time())


def test_a_malformed_id_is_named_in_the_error() -> None:
    with pytest.raises(RuleViolation) as exc:
        require_object_id("xyz", "portfolio id")
    assert exc.value.message == "portfolio id 'xyz' is not a 24-character hexadecimal id"
    assert exc.value.code == ErrorCode.INVALID_ID


# --- exact decimals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (Decimal("NaN"), "must be a finite number"),
        (Decimal("-Infinity"), "must be a finite number"),
        (1.5, "must be a number or a numeric string"),
        (None, "must be a number or a numeric string"),
        (True, "must be a number, not a boolean"),
        ("1_000", "must be a decimal number written with the digits 0-9"),
    ],
)
def test_what_is_not_an_exact_decimal_says_why(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        exact_decimal(value)


# --- trade sides ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "side"),
    [("0.5", "BUY"), ("1", "BUY"), ("0", None), ("0.000", None), ("-0.5", "SELL"), ("-3", "SELL")],
)
def test_any_change_of_a_fractional_holding_is_a_trade(change: str, side: str | None) -> None:
    assert side_of(Decimal(change)) == side


# --- rebalance outcomes -----------------------------------------------------------------------


def problem() -> RebalanceProblem:
    return RebalanceProblem(
        cash=Decimal(100),
        securities=(
            SecurityTarget(
                A, Decimal(10), Decimal(2), Decimal("0.5"), Decimal("0.5"), Decimal("0.5")
            ),
        ),
    )


def test_missing_prices_message_lists_the_securities() -> None:
    error = MissingPrices((A, B))
    assert error.security_ids == (A, B)
    assert str(error) == (
        f"no price for security {A}, {B} "
        "(unknown to the security service, or its ticker is not priced)"
    )


def test_outcomes_carry_the_portfolio_id_and_name() -> None:
    p = problem()
    solution = RebalanceSolution("optimal", p.market_value, {A: 6}, Decimal(0), None, "separable")
    done = rebalanced_outcome("pf", "Growth", p, solution, TODAY)
    assert (done.portfolio_id, done.portfolio_name, done.status, done.reason) == (
        "pf",
        "Growth",
        "rebalanced",
        None,
    )
    stuck = infeasible_outcome("pf", "Growth", p, "why", TODAY)
    assert (stuck.portfolio_id, stuck.portfolio_name, stuck.status, stuck.reason) == (
        "pf",
        "Growth",
        "infeasible",
        "why",
    )
    assert stuck.trades == ()
    assert stuck.cash_after_rebalance == stuck.cash_before_rebalance == Decimal(100)


def test_an_infeasible_portfolio_reports_its_positions_untraded_on_the_run_date() -> None:
    # Every position of an infeasible portfolio is reported (and stored) as it stands, dated
    # like the positions of the portfolios that were rebalanced in the same run.
    stuck = infeasible_outcome("pf", None, problem(), "why", TODAY)
    assert [
        (p.security_id, p.original_quantity, p.adjusted_quantity, p.trade_quantity, p.trade_date)
        for p in stuck.positions
    ] == [(A, Decimal(2), Decimal(2), Decimal(0), TODAY)]
    assert stuck.positions[0].transaction_type is None


def test_a_solution_for_another_problem_says_so() -> None:
    p = problem()
    other = RebalanceSolution("optimal", p.market_value, {B: 6}, Decimal(0), None, "separable")
    with pytest.raises(ValueError, match=r"^the solution does not answer this problem$"):
        rebalanced_outcome("pf", None, p, other, TODAY)


def test_an_unpriced_portfolio_keeps_its_cash_and_has_no_positions() -> None:
    holdings = PortfolioHoldings("pf", Decimal("250.5"), {A: Decimal(3)})
    outcome = unpriced_outcome(holdings, "Growth", "no price for ...")
    cash = Decimal("250.5")
    assert outcome == PortfolioRebalance(
        "pf", "Growth", "infeasible", "no price for ...", cash, cash, cash, ()
    )


def test_a_failed_portfolio_knows_nothing_of_its_money() -> None:
    outcome = failed_outcome("pf", "Growth", "malformed answer")
    assert outcome == PortfolioRebalance(
        "pf", "Growth", "failed", "malformed answer", None, None, None, ()
    )


def test_actual_weight_rounds_half_up_to_4_places() -> None:
    # 1 unit of 1 in a market value of 20,000 is 0.00005 exactly: half up gives 0.0001 (the
    # default half-even rounding would give 0.0000).
    security = SecurityTarget(A, Decimal(1), Decimal(0), Decimal(0), Decimal(0), Decimal(1))
    outcome = position_outcome(security, Decimal(1), Decimal(20000), TODAY)
    assert outcome.actual == Decimal("0.0001")
    assert outcome.actual_drift == Decimal("0.0001")
    assert (outcome.transaction_type, outcome.trade_quantity) == ("BUY", Decimal(1))
    at_zero = position_outcome(security, Decimal(0), Decimal(0), TODAY)
    assert at_zero.actual == 0


_NUMBER_LIKE = st.one_of(
    st.text(alphabet="0123456789.+-eE _\t nNaIif٣", max_size=12),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.none(),
)


@given(st.lists(_NUMBER_LIKE, max_size=6))
def test_the_batch_reader_applies_exactly_the_one_rule(values: list[object]) -> None:
    """``exact_decimals`` (the fast path of ``ogs solve``) accepts and refuses what
    ``exact_decimal`` does, value for value."""
    expected: list[Decimal] | None = []
    first_refusal = ""
    for value in values:
        try:
            assert expected is not None
            expected.append(exact_decimal(value))
        except ValueError as error:
            expected, first_refusal = None, str(error)
            break
    if expected is None:
        with pytest.raises(ValueError, match=f"^{re.escape(first_refusal)}$"):
            exact_decimals(values)
    else:
        got = exact_decimals(values)
        assert got == expected
        assert [str(g) for g in got] == [str(e) for e in expected]  # same digits, same exponent
