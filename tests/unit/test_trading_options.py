"""Rebalance options (SPEC §8): layers merge field by field; what they say about one security."""

from __future__ import annotations

from decimal import Decimal

import pytest

from order_generation.domain.trading_options import (
    RunOptions,
    SecurityRules,
    TradingOptions,
    layer_document,
    layer_from_document,
    layer_from_text,
    layer_text,
    merge_options,
    options_document,
    options_from_text,
    options_text,
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


# --- storing options, and a run's layers ------------------------------------------------------

FULL = TradingOptions(
    cash_flow=Decimal("-2500.50"),
    cash_reserve=Decimal("0.020"),
    mode="sell_only",
    restrictions={"B": "locked", "A": "no_buy"},
    min_trade_value=Decimal("1E+2"),
    min_trade_quantity=3,
    lot_sizes={"B": 10},
    default_lot_size=2,
    bands="soft",
    trigger="out_of_band",
    on_infeasible="relax",
    dry_run=True,
)


def test_options_are_stored_as_compact_json_and_read_back_exactly() -> None:
    text = options_text(FULL)
    assert text == (
        '{"cash_flow":"-2500.5","cash_reserve":"0.02","mode":"sell_only",'
        '"restrictions":{"A":"no_buy","B":"locked"},"min_trade_value":"100",'
        '"min_trade_quantity":3,"lot_sizes":{"B":10},"default_lot_size":2,"bands":"soft",'
        '"trigger":"out_of_band","on_infeasible":"relax","dry_run":true}'
    )
    assert options_from_text(text) == FULL
    assert options_document(TradingOptions())["cash_flow"] == "0"
    assert options_from_text(options_text(TradingOptions())) == TradingOptions()


def test_a_layer_is_stored_with_only_what_it_sets() -> None:
    layer = {"mode": "buy_only", "cash_reserve": Decimal("0.050"), "lot_sizes": {"A": 5}}
    text = layer_text(layer)
    assert text == '{"cash_reserve":"0.05","lot_sizes":{"A":5},"mode":"buy_only"}'
    assert layer_from_text(text) == layer
    assert layer_document({"cash_flow": Decimal(7)}) == {"cash_flow": "7"}
    assert layer_from_document({"min_trade_value": "2.5", "bands": "soft"}) == {
        "min_trade_value": Decimal("2.5"),
        "bands": "soft",
    }


def test_a_runs_layers_merge_lowest_first_and_survive_a_round_trip() -> None:
    layers = RunOptions(
        model={"mode": "buy_only", "cash_reserve": Decimal("0.01")},
        request={"mode": "full", "cash_flow": Decimal(100), "restrictions": {"A": "no_buy"}},
        portfolios={"p2": {"mode": "sell_only", "restrictions": {"B": "locked"}}},
    )
    assert layers.for_portfolio("p1") == TradingOptions(
        mode="full", cash_reserve=Decimal("0.01"), cash_flow=Decimal(100),
        restrictions={"A": "no_buy"},
    )  # fmt: skip
    assert layers.for_portfolio("p2") == TradingOptions(
        mode="sell_only", cash_reserve=Decimal("0.01"), cash_flow=Decimal(100),
        restrictions={"B": "locked"},
    )  # fmt: skip
    assert layers.shared == layers.for_portfolio("p1")
    assert RunOptions.of_document(layers.document()) == layers
    assert layers.document() == {
        "model": {"cash_reserve": "0.01", "mode": "buy_only"},
        "request": {"cash_flow": "100", "mode": "full", "restrictions": {"A": "no_buy"}},
        "portfolios": {"p2": {"mode": "sell_only", "restrictions": {"B": "locked"}}},
    }
    assert layers.named_securities() == [
        ("request.restrictions", "A"),
        ("portfolio_options.p2.restrictions", "B"),
    ]


def test_a_run_without_any_layer_has_no_options_at_all() -> None:
    empty = RunOptions()
    assert empty.for_portfolio("p1") is None
    assert empty.shared is None
    assert empty.named_securities() == []
    assert RunOptions.of_document(empty.document()) == empty
    # An empty request body is a layer: the options path, with every default.
    assert RunOptions(request={}).for_portfolio("p1") == TradingOptions()
    only_model = RunOptions(model={"lot_sizes": {"X": 100}, "default_lot_size": 10})
    assert only_model.for_portfolio("p9") == TradingOptions(
        lot_sizes={"X": 100}, default_lot_size=10
    )
    assert only_model.named_securities() == [("model.lot_sizes", "X")]
