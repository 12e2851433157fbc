"""Rebalance options (SPEC §8): layers merge field by field; what they say about one security."""

from __future__ import annotations

from decimal import Decimal

import pytest

from order_generation.domain.trading_options import (
    SecurityRules,
    TradingOptions,
    merge_options,
    security_rules,
)


def test_no_layers_is_todays_behaviour() -> None:
    options = merge_options()
    assert options == TradingOptions()
    assert security_rules(options, "A") == SecurityRules()


def test_later_layers_win_field_by_field() -> None:
    model = {"mode": "buy_only", "cash_reserve": Decimal("0.02"), "restrictions": {"A": "no_buy"}}
    request = {"cash_flow": Decimal(5000), "restrictions": {"B": "locked"}}
    portfolio = {"mode": "full"}
    options = merge_options(model, request, portfolio)
    assert options.mode == "full"  # the portfolio's own
    assert options.cash_reserve == Decimal("0.02")  # the model's, untouched by later layers
    assert options.cash_flow == Decimal(5000)  # the request's
    assert options.restrictions == {"B": "locked"}  # a map is replaced whole, not merged


def test_a_name_that_is_not_an_option_is_refused() -> None:
    with pytest.raises(ValueError, match="not rebalance options: lot, spam"):
        merge_options({"mode": "full"}, {"spam": 1, "lot": 3})


@pytest.mark.parametrize(
    ("options", "security", "expected"),
    [
        (TradingOptions(mode="sell_only"), "A", SecurityRules(no_buy=True)),
        (TradingOptions(mode="buy_only"), "A", SecurityRules(no_sell=True)),
        (TradingOptions(restrictions={"A": "no_buy"}), "A", SecurityRules(no_buy=True)),
        (TradingOptions(restrictions={"A": "no_sell"}), "A", SecurityRules(no_sell=True)),
        (
            TradingOptions(restrictions={"A": "locked"}),
            "A",
            SecurityRules(no_buy=True, no_sell=True),
        ),
        (TradingOptions(restrictions={"A": "locked"}), "B", SecurityRules()),
        (TradingOptions(lot_sizes={"A": 100}, default_lot_size=10), "A", SecurityRules(lot=100)),
        (TradingOptions(lot_sizes={"A": 100}, default_lot_size=10), "B", SecurityRules(lot=10)),
        (
            TradingOptions(min_trade_value=Decimal(500), min_trade_quantity=3, bands="soft"),
            "A",
            SecurityRules(min_trade_value=Decimal(500), min_trade_quantity=3, soft_band=True),
        ),
    ],
)
def test_what_the_options_say_about_one_security(
    options: TradingOptions, security: str, expected: SecurityRules
) -> None:
    assert security_rules(options, security) == expected
