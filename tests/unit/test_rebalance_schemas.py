"""The fast JSON builders of rebalance responses must produce exactly the documented shapes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pydantic_core
import pytest

from order_generation.api.rebalance_schemas import (
    DriftOut,
    PortfolioOut,
    RebalanceOut,
    RebalanceResultOut,
    RunPositionOut,
    portfolio_json,
    position_json,
    result_json,
    run_json,
)
from order_generation.api.schemas import json_number
from order_generation.domain.optimizer import SecurityTarget
from order_generation.domain.rebalance import (
    PortfolioRebalance,
    RebalanceRun,
    SecurityPrice,
    failed_outcome,
    position_outcome,
)
from order_generation.domain.trading_options import TradingOptions

DAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 4, 5, 6, tzinfo=UTC)
SEC = ("a" * 24, "b" * 24)


def portfolio() -> PortfolioRebalance:
    mv = Decimal("10000.50")
    buy = position_outcome(
        SecurityTarget(
            SEC[0], Decimal("12.34"), Decimal(10), Decimal("0.3"), Decimal("0.01"), Decimal("0.02")
        ),
        Decimal(243),
        mv,
        DAY,
    )
    sell = position_outcome(
        SecurityTarget(SEC[1], Decimal("7"), Decimal("2.5"), Decimal(0), Decimal(0), Decimal(0)),
        Decimal(0),
        mv,
        DAY,
    )
    return PortfolioRebalance(
        "c" * 24, None, "rebalanced", None, mv, Decimal("100"), Decimal("7016.38"), (buy, sell)
    )


# Fields only a portfolio rebalanced with trading options has (SPEC §8): without options the
# answers are today's, byte for byte.
UNDER_OPTIONS = {"relaxed_by", "options", "in_band"}


@pytest.mark.parametrize("with_options", [False, True])
def test_builders_match_the_documented_models(with_options: bool) -> None:
    options = TradingOptions(cash_flow=Decimal("-12.5"), lot_sizes={SEC[0]: 10})
    rebalanced = replace(portfolio(), options=options) if with_options else portfolio()
    run = RebalanceRun(
        "d" * 24,
        "e" * 24,
        "Model",
        3,
        NOW,
        (rebalanced, failed_outcome("f" * 24, "Broken", "holdings unreadable")),
        (SecurityPrice(SEC[0], "X", Decimal("12.34")),),
        1,
        NOW,
    )
    for model, value, has_options in (
        (RebalanceOut, run_json(run), False),  # the run itself has no options, its portfolios do
        (PortfolioOut, portfolio_json(run.portfolios[0]), with_options),
        (PortfolioOut, portfolio_json(run.portfolios[1]), False),
        # A position alone does not know its portfolio's value: portfolio_json adds in_band.
        (RunPositionOut, position_json(run.portfolios[0].positions[0]), False),
        (RunPositionOut, portfolio_json(run.portfolios[0])["positions"][0], with_options),
        (RebalanceResultOut, result_json(run.rebalance_id, run.portfolios[0]), with_options),
        (DriftOut, result_json(run.rebalance_id, run.portfolios[0])["drifts"][0], with_options),
    ):
        checked = model.model_validate(value, strict=False)
        expected = set(model.model_fields) - (set() if has_options else UNDER_OPTIONS)
        assert set(checked.model_fields_set) == expected
        # Same JSON whether encoded from the builder's value or from the validated model.
        assert pydantic_core.from_json(pydantic_core.to_json(value)) == checked.model_dump(
            mode="json", exclude_unset=True
        )


def test_options_are_echoed_as_applied_with_each_position_in_or_out_of_its_band() -> None:
    options = TradingOptions(cash_flow=Decimal("-12.5"), lot_sizes={SEC[0]: 10}, bands="soft")
    result = result_json(None, replace(portfolio(), options=options, relaxed_by=Decimal("0.01")))
    assert result["rebalance_id"] is None
    assert result["relaxed_by"] == 0.01
    assert result["options"]["cash_flow"] == -12.5
    assert result["options"]["lot_sizes"] == {SEC[0]: 10}
    assert result["options"]["bands"] == "soft"
    # 243 × 12.34 = 2,998.62 of 10,000.50 is 29.98 %, inside 29-32 %; the sold security's band
    # is [0, 0] and it ends at 0.
    assert [d["in_band"] for d in result["drifts"]] == [True, True]
    stored = portfolio_json(replace(portfolio(), options=options))
    assert [p["in_band"] for p in stored["positions"]] == [True, True]
    assert "in_band" not in portfolio_json(replace(portfolio(), options=options), summary=True)


def test_numbers_are_exact_where_whole_and_doubles_otherwise() -> None:
    assert json_number(Decimal("243")) == 243
    assert isinstance(json_number(Decimal("243.000")), int)
    assert json_number(Decimal("2.5")) == 2.5
    assert json_number(Decimal("-0.0294")) == -0.0294
    assert isinstance(json_number(Decimal(2**60)), float)
    position = position_json(portfolio().positions[1])
    assert (
        position["transaction_type"],
        position["trade_quantity"],
        position["original_quantity"],
    ) == ("SELL", 2.5, 2.5)
    trades = result_json("d" * 24, portfolio())["transactions"]
    assert [(t["transaction_type"], t["quantity"]) for t in trades] == [("BUY", 233), ("SELL", 2.5)]
