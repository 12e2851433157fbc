"""SPEC §8's rebalance options as JSON: one schema for the rebalance bodies, a model's
``rebalance_options`` and each problem of ``ogs solve``.

Every option is optional; what a layer names is what it overrides (``layer``), so model
defaults, a request and ``portfolio_options`` merge field by field (``merge_options``). Unknown
keys, out-of-range values and floats that are not exact decimals are refused, naming the field.
Imports pydantic only, so ``ogs solve`` can use it without the web stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    WithJsonSchema,
)

from order_generation.domain.numbers import exact_decimal
from order_generation.domain.trading_options import TradingOptions, merge_options

_MAX_LOT = 10**9
_MONEY_DIGITS = 18  # money options stay below 10^18 in magnitude


def _json_integer(value: object) -> object:
    # In JSON 100 and 100.0 are the same integer; 2.5, "100" and true are not.
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


def _money(value: object) -> Decimal:
    number = exact_decimal(value)
    # adjusted() is the exponent of the leading digit: no arithmetic, so no overflow on 1e999999.
    if number and number.adjusted() >= _MONEY_DIGITS:
        raise ValueError(f"must be less than 10^{_MONEY_DIGITS} in magnitude")
    return number


def _fraction(value: object) -> Decimal:
    number = exact_decimal(value)
    if not 0 <= number < 1:
        raise ValueError("must be at least 0 and less than 1")
    return number


def _non_negative(value: object) -> Decimal:
    number = _money(value)
    if number < 0:
        raise ValueError("must be at least 0")
    return number


_SPACE = "[ \\t\\n\\r\\f\\v]*"
_MONEY_TEXT = f"^{_SPACE}[+-]?([0-9]{{1,{_MONEY_DIGITS}}}(\\.[0-9]*)?|\\.[0-9]+){_SPACE}$"
_NON_NEGATIVE_TEXT = f"^{_SPACE}\\+?([0-9]{{1,{_MONEY_DIGITS}}}(\\.[0-9]*)?|\\.[0-9]+){_SPACE}$"
_FRACTION_TEXT = f"^{_SPACE}\\+?(0+(\\.[0-9]*)?|0*\\.[0-9]+){_SPACE}$"
_LIMIT = 10.0**_MONEY_DIGITS


def _decimal_schema(description: str, number: dict[str, Any], pattern: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "number", **number},
            {"type": "string", "pattern": pattern},
            {"type": "null"},
        ],
        "description": f"{description} An exact decimal, as a number or a string.",
    }


def _count_schema(minimum: int) -> WithJsonSchema:
    integer = {"type": "integer", "minimum": minimum, "maximum": _MAX_LOT}
    return WithJsonSchema({"anyOf": [integer, {"type": "null"}]})


Count = Annotated[int, BeforeValidator(_json_integer), Strict(), Ge(0), Le(_MAX_LOT)]
Lot = Annotated[int, BeforeValidator(_json_integer), Strict(), Ge(1), Le(_MAX_LOT)]
LotMap = Annotated[
    dict[str, Lot],
    WithJsonSchema({
        "anyOf": [
            {"type": "object", "propertyNames": {"minLength": 1, "maxLength": 64},
             "additionalProperties": {"type": "integer", "minimum": 1, "maximum": _MAX_LOT}},
            {"type": "null"},
        ]
    }),
]  # fmt: skip
SecurityKey = Annotated[str, Field(min_length=1, max_length=64)]


class DefaultOptions(BaseModel):
    """The options of SPEC §8 a model may keep as defaults (all but ``dry_run``, which is a
    request's choice); each one left out keeps the layer below it (or its default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cash_flow: Annotated[Decimal, PlainValidator(_money)] | None = Field(
        None,
        json_schema_extra=_decimal_schema(
            "Money arriving (> 0) or to be raised (< 0); targets apply to the value after it.",
            {"exclusiveMinimum": -_LIMIT, "exclusiveMaximum": _LIMIT},
            _MONEY_TEXT,
        ),
    )
    cash_reserve: Annotated[Decimal, PlainValidator(_fraction)] | None = Field(
        None,
        json_schema_extra=_decimal_schema(
            "Keep at least this share of the value in cash.",
            {"minimum": 0, "exclusiveMaximum": 1},
            _FRACTION_TEXT,
        ),
    )
    mode: Literal["full", "buy_only", "sell_only"] | None = None
    restrictions: dict[SecurityKey, Literal["no_buy", "no_sell", "locked"]] | None = None
    min_trade_value: Annotated[Decimal, PlainValidator(_non_negative)] | None = Field(
        None,
        json_schema_extra=_decimal_schema(
            "Each trade is 0 or worth at least this.",
            {"minimum": 0, "exclusiveMaximum": _LIMIT},
            _NON_NEGATIVE_TEXT,
        ),
    )
    min_trade_quantity: Annotated[Count | None, _count_schema(0)] = None
    lot_sizes: Annotated[LotMap | None, LotMap.__metadata__[0]] = None
    default_lot_size: Annotated[Lot | None, _count_schema(1)] = None
    bands: Literal["hard", "soft"] | None = None
    trigger: Literal["always", "out_of_band"] | None = None
    on_infeasible: Literal["report", "relax"] | None = None

    def layer(self) -> dict[str, Any]:
        """The options this layer sets (an explicit null counts as not set)."""
        return {name: getattr(self, name) for name in self.model_fields_set
                if getattr(self, name) is not None}  # fmt: skip

    def securities(self) -> set[str]:
        """The security ids this layer names."""
        return set(self.restrictions or ()) | set(self.lot_sizes or ())


class RebalanceOptions(DefaultOptions):
    """The options of SPEC §8 for one request (or one problem of ``ogs solve``)."""

    dry_run: Annotated[bool, Strict()] | None = None


def options_of(layers: Iterable[RebalanceOptions | None]) -> TradingOptions:
    """The options a portfolio is rebalanced with: the layers merged, later ones winning."""
    return merge_options(*(layer.layer() for layer in layers if layer is not None))


def trading_options(data: Mapping[str, Any]) -> TradingOptions:
    """Any full or partial options document, validated, as options."""
    return options_of([RebalanceOptions.model_validate(data)])
