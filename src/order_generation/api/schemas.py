"""Request and response bodies of the HTTP API, and their conversion to and from the domain.

JSON is snake_case. Decimals arrive as numbers or numeric strings and leave as JSON numbers:
the GlobeCo portal does arithmetic on them (a string would render as ``$NaN``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from order_generation.domain.investment_model import InvestmentModel, Position

OBJECT_ID_PATTERN = r"^[0-9a-fA-F]{24}$"
MAX_VERSION = 2**31 - 1


def _as_utc(value: datetime) -> datetime:
    # A timestamp without a zone is taken as UTC, the zone of every timestamp in the API.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ObjectId = Annotated[str, Field(pattern=OBJECT_ID_PATTERN, examples=["6755b0c4e5a1b2c3d4e5f601"])]
DecimalIn = Annotated[Decimal, Field(allow_inf_nan=False)]


def json_number(value: Decimal) -> int | float:
    """A decimal as a JSON number: whole values as integers (quantities read 10, not 10.0), the
    rest as doubles, which is what the portal's JavaScript holds anyway."""
    whole = int(value)
    return whole if whole == value and abs(whole) < 2**53 else float(value)


DecimalOut = Annotated[
    Decimal, PlainSerializer(json_number, return_type=int | float, when_used="json")
]
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]


class RequestBody(BaseModel):
    # Unknown fields are ignored, so the portal can send back a model it read (with model_id…).
    model_config = ConfigDict(extra="ignore")


class PositionIn(RequestBody):
    security_id: ObjectId
    target: DecimalIn
    high_drift: DecimalIn
    low_drift: DecimalIn

    def to_domain(self) -> Position:
        return Position(self.security_id, self.target, self.high_drift, self.low_drift)


class PositionChange(PositionIn):
    """A position for the position endpoints; ``version``, if given, must be the current one."""

    version: Version | None = None


class ModelCreate(RequestBody):
    name: str
    positions: Annotated[list[PositionIn], Field(max_length=1000)] = []
    portfolios: Annotated[list[ObjectId], Field(max_length=10_000)] = []


class ModelUpdate(RequestBody):
    name: str
    positions: Annotated[list[PositionIn], Field(max_length=1000)]
    portfolios: Annotated[list[ObjectId], Field(max_length=10_000)]
    last_rebalance_date: UtcDatetime | None = Field(
        default=None, description="Absent: the stored date is kept; null: cleared."
    )
    version: Version


class PortfoliosChange(RequestBody):
    portfolios: Annotated[list[ObjectId], Field(max_length=10_000)]
    version: Version | None = Field(
        default=None, description="If given, must be the model's current version."
    )


class PositionOut(BaseModel):
    security_id: str
    target: DecimalOut
    high_drift: DecimalOut
    low_drift: DecimalOut


class ModelOut(BaseModel):
    model_id: str
    name: str
    positions: list[PositionOut]
    portfolios: list[str]
    last_rebalance_date: datetime | None
    version: int

    @classmethod
    def of(cls, model: InvestmentModel) -> ModelOut:
        return cls(
            model_id=model.model_id,
            name=model.name,
            positions=[
                PositionOut(
                    security_id=p.security_id,
                    target=p.target,
                    high_drift=p.high_drift,
                    low_drift=p.low_drift,
                )
                for p in model.positions
            ],
            portfolios=list(model.portfolios),
            last_rebalance_date=model.last_rebalance_date,
            version=model.version,
        )


class ErrorOut(BaseModel):
    detail: str
    code: str
    errors: list[dict[str, str]] = []
