"""Rebalance options (SPEC §8): what a portfolio manager says about how to trade.

A model stores defaults, a request overrides them, and ``portfolio_options`` overrides the
request for one portfolio: ``merge_options`` applies those layers field by field (a layer that
names ``restrictions`` or ``lot_sizes`` replaces the whole map). ``security_rules`` is what the
options say about one security, as the optimizer's admissible sets take it (docs/adr/0011).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import MAX_PREC, Context, Decimal
from functools import lru_cache
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


_UNROUNDED = Context(prec=MAX_PREC)
_DECIMAL_OPTIONS = {"cash_flow", "cash_reserve", "min_trade_value"}
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


def options_document(options: TradingOptions) -> dict[str, Any]:
    """Options as applied, as JSON values (decimals as exact text, maps sorted): what a run
    stores and echoes, and ``ogs solve`` prints."""
    return {
        "cash_flow": _text(options.cash_flow),
        "cash_reserve": _text(options.cash_reserve),
        "mode": options.mode,
        "restrictions": dict(sorted(options.restrictions.items())),
        "min_trade_value": _text(options.min_trade_value),
        "min_trade_quantity": options.min_trade_quantity,
        "lot_sizes": dict(sorted(options.lot_sizes.items())),
        "default_lot_size": options.default_lot_size,
        "bands": options.bands,
        "trigger": options.trigger,
        "on_infeasible": options.on_infeasible,
        "dry_run": options.dry_run,
    }


def options_text(options: TradingOptions) -> str:
    """``options_document`` as compact JSON text, for storage."""
    return json.dumps(options_document(options), separators=(",", ":"))


@lru_cache(maxsize=256)  # a run's portfolios mostly share one text: read it once
def options_from_text(text: str) -> TradingOptions:
    """A stored ``options_text`` read back (trusted: the service wrote it)."""
    return merge_options(layer_from_text(text))


def layer_document(layer: Mapping[str, Any]) -> dict[str, Any]:
    """Some options (a model's defaults, a job's request) as JSON values, decimals as text."""
    return {k: _text(v) if isinstance(v, Decimal) else v for k, v in sorted(layer.items())}


def layer_from_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """``layer_document`` (or ``options_document``) read back (trusted: the service wrote it)."""
    layer = dict(document)
    for name in _DECIMAL_OPTIONS & layer.keys():
        layer[name] = Decimal(layer[name])
    return layer


def layer_text(layer: Mapping[str, Any]) -> str:
    """``layer_document`` as compact JSON text, for storage."""
    return json.dumps(layer_document(layer), separators=(",", ":"))


def layer_from_text(text: str) -> dict[str, Any]:
    """``layer_text`` (or ``options_text``) read back."""
    return layer_from_document(json.loads(text))


def _text(value: Decimal) -> str:
    # Positional, without trailing zeros, never rounded (the optimizer's ``plain``, which this
    # leaf module cannot import: the optimizer imports it).
    return format(value.normalize(_UNROUNDED), "f")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The option layers of one run, lowest first: the model's defaults, the request's, and
    each portfolio's own (``portfolio_options``). A run with no layer at all is today's
    rebalance exactly (``for_portfolio`` is None)."""

    model: Mapping[str, Any] | None = None
    request: Mapping[str, Any] | None = None
    portfolios: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def for_portfolio(self, portfolio_id: str) -> TradingOptions | None:
        """The options ``portfolio_id`` is rebalanced with, or None for none at all."""
        own = self.portfolios.get(portfolio_id)
        if own is None:
            return self.shared
        return merge_options(*(layer for layer in (self.model, self.request, own) if layer))

    @property
    def shared(self) -> TradingOptions | None:
        """The options of every portfolio without its own layer (None: no options)."""
        layers = [layer for layer in (self.model, self.request) if layer is not None]
        return _merged(tuple(map(_frozen, layers))) if layers else None

    def document(self) -> dict[str, Any]:
        """The layers as JSON values (a job stores them with its inputs)."""
        return {
            "model": None if self.model is None else layer_document(self.model),
            "request": None if self.request is None else layer_document(self.request),
            "portfolios": {p: layer_document(layer) for p, layer in self.portfolios.items()},
        }

    @classmethod
    def of_document(cls, document: Mapping[str, Any]) -> RunOptions:
        model, request = document["model"], document["request"]
        return cls(
            None if model is None else layer_from_document(model),
            None if request is None else layer_from_document(request),
            {p: layer_from_document(layer) for p, layer in document["portfolios"].items()},
        )

    def named_securities(self) -> list[tuple[str, str]]:
        """Every (where, security id) the layers name in ``restrictions`` and ``lot_sizes``:
        where is ``model``, ``request`` or ``portfolio_options.<id>``, then the option."""
        named = []
        places = [("model", self.model), ("request", self.request)]
        places += [(f"portfolio_options.{p}", layer) for p, layer in self.portfolios.items()]
        for place, layer in places:
            for option in ("restrictions", "lot_sizes"):
                for security_id in (layer or {}).get(option) or {}:
                    named.append((f"{place}.{option}", security_id))
        return named


def _frozen(layer: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    # A hashable form of a layer (maps as sorted item tuples), so merges can be cached.
    return tuple(
        (k, tuple(sorted(v.items())) if isinstance(v, Mapping) else v)
        for k, v in sorted(layer.items())
    )


@lru_cache(maxsize=64)
def _merged(layers: tuple[tuple[tuple[str, Any], ...], ...]) -> TradingOptions:
    return merge_options(
        *(
            {k: dict(v) if k in ("restrictions", "lot_sizes") else v for k, v in layer}
            for layer in layers
        )
    )
