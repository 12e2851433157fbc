"""Request and response bodies of the HTTP API, and their conversion to and from the domain.

JSON is snake_case. Decimals arrive as numbers or numeric strings and leave as JSON numbers:
the GlobeCo portal does arithmetic on them (a string would render as ``$NaN``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
    WithJsonSchema,
)

from order_generation.api.options import DefaultOptions
from order_generation.domain.ids import OBJECT_ID_PATTERN
from order_generation.domain.investment_model import InvestmentModel, Position
from order_generation.domain.numbers import DECIMAL_TEXT_PATTERN, exact_decimal
from order_generation.domain.rebalance import MAX_RUN_LIMIT

MAX_VERSION = 2**31 - 1


def _as_utc(value: datetime) -> datetime:
    # A timestamp without a zone is taken as UTC, the zone of every timestamp in the API.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before the first representable instant
        raise ValueError("date is out of range (years 1 to 9999 in UTC)") from None


_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
# What the domain reads as a decimal (documented for clients; the domain checks it exactly).
# At least one character that is not a space, and no control characters (the domain's rule).
_PRINTABLE = r"[^\u0000-\u001f\u007f-\u009f]"
NAME_PATTERN = rf"^{_PRINTABLE}*[^\s\u0000-\u001f\u007f-\u009f]{_PRINTABLE}*$"


def _whole_number(value: object) -> object:
    # Query strings are text: "1.0", "1e3", " 1" or "١" are not versions, offsets or limits.
    if isinstance(value, str):
        if not _WHOLE_NUMBER.fullmatch(value):
            raise ValueError("must be a whole number written with the digits 0-9")
        return int(value)
    return value


def _json_integer(value: object) -> object:
    # In JSON 2 and 2.0 are the same integer (JSON Schema agrees); 2.5, "2" and true are not.
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


def _iso_text(value: object) -> object:
    # A timestamp is ISO-8601 text; pydantic alone would also read 0 as 1970-01-01.
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("must be an ISO-8601 date-time string")
    return value


def _decimal_schema(maximum: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": float(maximum)},
                {"type": "string", "pattern": DECIMAL_TEXT_PATTERN},
            ],
            "description": f"An exact decimal from 0 to {maximum}, as a number or a string; "
            "at most 10 decimal places.",
        }
    )


ObjectId = Annotated[str, Field(pattern=OBJECT_ID_PATTERN, examples=["6755b0c4e5a1b2c3d4e5f601"])]
# Read by the domain's one rule for decimals (pydantic's own would take "1e400" as infinite).
DecimalIn = Annotated[Decimal, PlainValidator(exact_decimal)]
TargetIn = Annotated[DecimalIn, _decimal_schema("0.95")]
DriftIn = Annotated[DecimalIn, _decimal_schema("1")]
# The domain checks names (one rule, one error code); the schema documents the same rule.
NameIn = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": NAME_PATTERN},
    ),
]


def json_number(value: Decimal) -> int | float:
    """A decimal as a JSON number: whole values as integers (quantities read 10, not 10.0), the
    rest as doubles, which is what the portal's JavaScript holds anyway."""
    whole = int(value)
    return whole if whole == value and abs(whole) < 2**53 else float(value)


DecimalOut = Annotated[
    Decimal, PlainSerializer(json_number, return_type=int | float, when_used="json")
]
UtcDatetime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_as_utc)]
_VERSION_SCHEMA = WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_VERSION})
# In a body a version is a JSON integer (2.0 counts, as in JSON Schema; "2" and true do not).
Version = Annotated[
    int, BeforeValidator(_json_integer), Strict(), Ge(1), Le(MAX_VERSION), _VERSION_SCHEMA
]

# Parameters of the path and the query string.
ObjectIdPath = Annotated[
    str, Path(pattern=OBJECT_ID_PATTERN, examples=["6755b0c4e5a1b2c3d4e5f601"])
]
VersionQuery = Annotated[
    int,
    BeforeValidator(_whole_number),
    Ge(1),
    Le(MAX_VERSION),
    _VERSION_SCHEMA,
    Query(description="The current version (optimistic concurrency)."),
]
MAX_QUERY_NUMBER = 10**18 - 1


def _paging_schema(maximum: int) -> WithJsonSchema:
    return WithJsonSchema({"type": "integer", "minimum": 0, "maximum": maximum})


# Offsets and limits: plain digits; the domain checks their range (one rule, one message) and
# the schema documents it.
QueryNumber = Annotated[int, BeforeValidator(_whole_number), _paging_schema(MAX_QUERY_NUMBER)]
RunLimit = Annotated[int, BeforeValidator(_whole_number), _paging_schema(MAX_RUN_LIMIT)]


def sort_pattern(fields: Sequence[str]) -> str:
    """The JSON Schema pattern of a ``sort_by`` over ``fields`` (for documentation)."""
    field = rf"\s*[+ -]?\s*({'|'.join(fields)})\s*"
    return rf"^{field}(,{field})*$"


class RequestBody(BaseModel):
    # Unknown fields are ignored, so the portal can send back a model it read (with model_id…).
    model_config = ConfigDict(extra="ignore")


class PositionIn(RequestBody):
    security_id: ObjectId
    target: TargetIn
    high_drift: DriftIn
    low_drift: DriftIn

    def to_domain(self) -> Position:
        return Position(self.security_id, self.target, self.high_drift, self.low_drift)


class PositionChange(PositionIn):
    """A position for the position endpoints; ``version``, if given, must be the current one."""

    version: Version | None = None


_MODEL_OPTIONS = "Default trading options of the model's rebalances (SPEC §8)."


class ModelCreate(RequestBody):
    name: NameIn
    positions: Annotated[list[PositionIn], Field(max_length=1000)] = []
    portfolios: Annotated[list[ObjectId], Field(max_length=10_000)] = []
    rebalance_options: DefaultOptions | None = Field(default=None, description=_MODEL_OPTIONS)


class ModelUpdate(RequestBody):
    name: NameIn
    positions: Annotated[list[PositionIn], Field(max_length=1000)]
    portfolios: Annotated[list[ObjectId], Field(max_length=10_000)]
    last_rebalance_date: UtcDatetime | None = Field(
        default=None, description="Absent: the stored date is kept; null: cleared."
    )
    rebalance_options: DefaultOptions | None = Field(
        default=None,
        description=f"{_MODEL_OPTIONS} Absent: the stored options are kept (a client that "
        "does not know the field keeps them); null or {}: cleared.",
    )
    version: Version


class PortfoliosChange(RequestBody):
    portfolios: Annotated[list[ObjectId], Field(max_length=10_000)]
    version: Version | None = Field(
        default=None, description="If given, must be the model's current version."
    )


class ModelPositionOut(BaseModel):
    security_id: str
    target: DecimalOut
    high_drift: DecimalOut
    low_drift: DecimalOut


class ModelOut(BaseModel):
    model_id: str
    name: str
    positions: list[ModelPositionOut]
    portfolios: list[str]
    last_rebalance_date: datetime | None
    rebalance_options: dict[str, Any] | None = Field(
        description=f"{_MODEL_OPTIONS} Only the options the model sets; null for none."
    )
    version: int

    @classmethod
    def of(cls, model: InvestmentModel) -> ModelOut:
        return cls(
            model_id=model.model_id,
            name=model.name,
            positions=[
                ModelPositionOut(
                    security_id=p.security_id,
                    target=p.target,
                    high_drift=p.high_drift,
                    low_drift=p.low_drift,
                )
                for p in model.positions
            ],
            portfolios=list(model.portfolios),
            last_rebalance_date=model.last_rebalance_date,
            rebalance_options=_options_out(model.rebalance_options),
            version=model.version,
        )


def _options_out(layer: Mapping[str, Any] | None) -> dict[str, Any] | None:
    # Decimals as JSON numbers, like every figure the API answers.
    if layer is None:
        return None
    return {k: json_number(v) if isinstance(v, Decimal) else v for k, v in sorted(layer.items())}


class ErrorOut(BaseModel):
    detail: str
    code: str
    errors: list[dict[str, str]] = []
