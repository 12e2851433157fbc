"""Rebalance options (SPEC §8): what a portfolio manager says about how to trade.

A model stores defaults, a request overrides them, and ``portfolio_options`` overrides the
request for one portfolio: ``merge_options`` applies those layers field by field (a layer that
names ``restrictions`` or ``lot_sizes`` replaces the whole map). ``security_rules`` is what the
options say about one security, as the optimizer's admissible sets take it (docs/adr/0011).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any, Literal

Mode = Literal["full", "buy_only", "sell_only"]
Restriction = Literal["no_buy", "no_sell", "locked"]
Bands = Literal["hard", "soft"]
Trigger = Literal["always", "out_of_band"]
OnInfeasible = Literal["report", "relax"]


@dataclass(frozen=True, slots=True)
class TradingOptions:
    """SPEC §8's options, as applied to one portfolio. The defaults are today's behaviour."""

    cash_flow: Decimal = Decimal(0)
    cash_reserve: Decimal = Decimal(0)
    mode: Mode = "full"
    restrictions: Mapping[str, Restriction] = field(default_factory=dict)
    min_trade_value: Decimal = Decimal(0)
    min_trade_quantity: int = 0
    lot_sizes: Mapping[str, int] = field(default_factory=dict)
    default_lot_size: int = 1
    bands: Bands = "hard"
    trigger: Trigger = "always"
    on_infeasible: OnInfeasible = "report"
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class SecurityRules:
    """SPEC §8's options as they bear on one security (the defaults change nothing)."""

    no_buy: bool = False  # mode sell_only, or restriction no_buy / locked
    no_sell: bool = False  # mode buy_only, or restriction no_sell / locked
    lot: int = 1
    min_trade_value: Decimal = Decimal(0)
    min_trade_quantity: int = 0
    soft_band: bool = False


OPTION_NAMES = frozenset(f.name for f in fields(TradingOptions))


def merge_options(*layers: Mapping[str, Any]) -> TradingOptions:
    """The options of the layers, later layers winning field by field (model defaults, then the
    request, then the portfolio's own). Each layer holds already validated values; a name that
    is not an option is a programming error."""
    merged = TradingOptions()
    for layer in layers:
        unknown = set(layer) - OPTION_NAMES
        if unknown:
            raise ValueError(f"not rebalance options: {', '.join(sorted(unknown))}")
        merged = replace(merged, **layer)
    return merged


def security_rules(options: TradingOptions, security_id: str) -> SecurityRules:
    """What ``options`` say about trading one security."""
    restriction = options.restrictions.get(security_id)
    return SecurityRules(
        no_buy=options.mode == "sell_only" or restriction in ("no_buy", "locked"),
        no_sell=options.mode == "buy_only" or restriction in ("no_sell", "locked"),
        lot=options.lot_sizes.get(security_id, options.default_lot_size),
        min_trade_value=options.min_trade_value,
        min_trade_quantity=options.min_trade_quantity,
        soft_band=options.bands == "soft",
    )
