"""The fast JSON builders of rebalance responses must produce exactly the documented shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pydantic_core

from order_generation.api.rebalance_schemas import (
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


def test_builders_match_the_documented_models() -> None:
    run = RebalanceRun(
        "d" * 24,
        "e" * 24,
        "Model",
        3,
        NOW,
        (portfolio(), failed_outcome("f" * 24, "Broken", "holdings unreadable")),
        (SecurityPrice(SEC[0], "X", Decimal("12.34")),),
        1,
        NOW,
    )
    for model, value in (
        (RebalanceOut, run_json(run)),
        (PortfolioOut, portfolio_json(run.portfolios[0])),
        (PortfolioOut, portfolio_json(run.portfolios[1])),
        (RunPositionOut, position_json(run.portfolios[0].positions[0])),
        (RebalanceResultOut, result_json(run.rebalance_id, run.portfolios[0])),
    ):
        checked = model.model_validate(value, strict=False)
        assert set(checked.model_fields_set) == set(model.model_fields)
        # Same JSON whether encoded from the builder's value or from the validated model.
        assert pydantic_core.from_json(pydantic_core.to_json(value)) == checked.model_dump(
            mode="json"
        )


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
