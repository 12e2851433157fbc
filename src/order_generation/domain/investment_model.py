"""Investment models and their positions, with every rule of SPEC §2 on exact decimals.

Models are immutable values: each change returns a new model that has passed every rule, so an
invalid model cannot exist in memory, let alone be stored. Identity (``model_id``) and
``version`` are untouched by changes; the repository bumps ``version`` when it writes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import RuleViolation
from order_generation.domain.ids import new_object_id, require_object_id

TARGET_STEP = Decimal("0.005")
MAX_TARGET = Decimal("0.95")
MAX_TARGET_SUM = Decimal("0.95")
MAX_DRIFT = Decimal("1")
MAX_POSITIONS = 100
MAX_NAME_LENGTH = 255
# Weights beyond 10 decimal places carry no meaning for a portfolio and would only make storage
# and arithmetic unbounded, so they are refused rather than silently rounded.
MAX_DECIMAL_PLACES = 10
# Fields GET /models can sort by (SPEC §3); default order is creation order.
MODEL_SORT_FIELDS = ("model_id", "name", "last_rebalance_date")


@dataclass(frozen=True, slots=True)
class Position:
    """A security's target weight in a model and its allowed drift band around it."""

    security_id: str
    target: Decimal
    high_drift: Decimal
    low_drift: Decimal

    def same_values(self, other: Position) -> bool:
        """Equal by value: 0.05 and 0.050 are the same weight."""
        return (
            self.security_id == other.security_id
            and self.target == other.target
            and self.high_drift == other.high_drift
            and self.low_drift == other.low_drift
        )


@dataclass(frozen=True, slots=True)
class InvestmentModel:
    """A named list of positions and the portfolios subscribed to it.

    ``rebalance_options`` are its default trading options (SPEC §8): the options it names, as
    validated values (the API checks them), or None for none."""

    model_id: str
    name: str
    positions: tuple[Position, ...]
    portfolios: tuple[str, ...]
    last_rebalance_date: datetime | None = None
    version: int = 1
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rebalance_options: Mapping[str, Any] | None = None

    def position(self, security_id: str) -> Position | None:
        return next((p for p in self.positions if p.security_id == security_id), None)

    def revised(
        self,
        *,
        name: str,
        positions: Iterable[Position],
        portfolios: Iterable[str],
        last_rebalance_date: datetime | None,
        rebalance_options: Mapping[str, Any] | None = None,
    ) -> InvestmentModel:
        """The model with its whole content replaced (PUT), checked against every rule."""
        return replace(
            self,
            name=_valid_name(name),
            positions=valid_positions(positions),
            portfolios=valid_portfolios(portfolios),
            last_rebalance_date=last_rebalance_date,
            rebalance_options=rebalance_options or None,
        )

    def with_position_added(self, position: Position) -> InvestmentModel:
        security_id = require_object_id(position.security_id, "security_id")
        if self.position(security_id) is not None:
            raise RuleViolation(
                f"security {security_id} is already in the model; update it instead",
                code=ErrorCode.DUPLICATE_SECURITY,
            )
        return replace(self, positions=valid_positions((*self.positions, position)))

    def with_position_updated(self, position: Position) -> InvestmentModel:
        security_id = self._require_held(position)
        changed = (position if p.security_id == security_id else p for p in self.positions)
        return replace(self, positions=valid_positions(changed))

    def with_position_removed(self, position: Position) -> InvestmentModel:
        security_id = self._require_held(position)
        stored = self.position(security_id)
        assert stored is not None
        if not stored.same_values(replace(position, security_id=security_id)):
            raise RuleViolation(
                f"position of security {security_id} differs from the stored one "
                f"(target {stored.target}, high_drift {stored.high_drift}, "
                f"low_drift {stored.low_drift}); nothing was deleted",
                code=ErrorCode.POSITION_MISMATCH,
            )
        return replace(
            self, positions=tuple(p for p in self.positions if p.security_id != security_id)
        )

    def with_portfolios_added(self, portfolio_ids: Iterable[str]) -> InvestmentModel:
        return replace(self, portfolios=valid_portfolios((*self.portfolios, *portfolio_ids)))

    def with_portfolios_removed(self, portfolio_ids: Iterable[str]) -> InvestmentModel:
        gone = set(valid_portfolios(portfolio_ids))
        return replace(self, portfolios=tuple(p for p in self.portfolios if p not in gone))

    def _require_held(self, position: Position) -> str:
        security_id = require_object_id(position.security_id, "security_id")
        if self.position(security_id) is None:
            raise RuleViolation(
                f"security {security_id} is not in the model", code=ErrorCode.SECURITY_NOT_IN_MODEL
            )
        return security_id


def new_model(
    name: str,
    positions: Iterable[Position],
    portfolios: Iterable[str],
    rebalance_options: Mapping[str, Any] | None = None,
) -> InvestmentModel:
    """A new model at version 1 with a fresh id, checked against every rule."""
    return InvestmentModel(
        model_id=new_object_id(),
        name=_valid_name(name),
        positions=valid_positions(positions),
        portfolios=valid_portfolios(portfolios),
        rebalance_options=rebalance_options or None,
    )


def valid_positions(positions: Iterable[Position]) -> tuple[Position, ...]:
    """The positions that a model stores: each checked, zero targets dropped, model rules met."""
    kept: list[Position] = []
    seen: set[str] = set()
    for position in positions:
        checked = _valid_position(position)
        if checked.security_id in seen:
            raise RuleViolation(
                f"security {checked.security_id} appears more than once in the model",
                code=ErrorCode.DUPLICATE_SECURITY,
            )
        seen.add(checked.security_id)
        if checked.target != 0:
            kept.append(checked)
    if len(kept) > MAX_POSITIONS:
        raise RuleViolation(
            f"a model holds at most {MAX_POSITIONS} positions with a target above 0; "
            f"this one has {len(kept)}",
            code=ErrorCode.TOO_MANY_POSITIONS,
        )
    total = sum((p.target for p in kept), Decimal(0))
    if total > MAX_TARGET_SUM:
        raise RuleViolation(
            f"the sum of targets is {total}, above the maximum of {MAX_TARGET_SUM} "
            "(at least 5 % stays in cash)",
            code=ErrorCode.TARGET_SUM_EXCEEDS_0_95,
        )
    return tuple(kept)


def valid_portfolios(portfolio_ids: Iterable[str]) -> tuple[str, ...]:
    """Portfolio ids checked and lower-cased, duplicates dropped, first occurrence kept."""
    unique = dict.fromkeys(require_object_id(p, "portfolio id") for p in portfolio_ids)
    return tuple(unique)


def _valid_position(position: Position) -> Position:
    security_id = require_object_id(position.security_id, "security_id")
    where = f"security {security_id}"
    target = _exact(position.target, "target", where)
    high = _exact(position.high_drift, "high_drift", where)
    low = _exact(position.low_drift, "low_drift", where)
    if not 0 <= target <= MAX_TARGET:
        raise RuleViolation(
            f"{where}: target {target} must be between 0 and {MAX_TARGET}",
            code=ErrorCode.TARGET_OUT_OF_RANGE,
        )
    if target % TARGET_STEP != 0:
        raise RuleViolation(
            f"{where}: target {target} must be a multiple of {TARGET_STEP}",
            code=ErrorCode.TARGET_NOT_MULTIPLE_OF_0_005,
        )
    for label, drift in (("high_drift", high), ("low_drift", low)):
        if not 0 <= drift <= MAX_DRIFT:
            raise RuleViolation(
                f"{where}: {label} {drift} must be between 0 and {MAX_DRIFT}",
                code=ErrorCode.DRIFT_OUT_OF_RANGE,
            )
    return Position(security_id, target, high, low)


def _exact(value: Decimal, label: str, where: str) -> Decimal:
    if not value.is_finite():
        raise RuleViolation(
            f"{where}: {label} must be a finite number", code=ErrorCode.NOT_A_NUMBER
        )
    if _decimal_places(value) > MAX_DECIMAL_PLACES:
        raise RuleViolation(
            f"{where}: {label} has more than {MAX_DECIMAL_PLACES} decimal places",
            code=ErrorCode.TOO_PRECISE,
        )
    return value


def _decimal_places(value: Decimal) -> int:
    """Significant decimal places of a finite value, without rounding (0.050 has 2)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    significant = text.rstrip("0")
    if not significant:
        return 0
    return max(0, -(exponent + len(text) - len(significant)))


def _valid_name(name: str) -> str:
    if not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise RuleViolation(
            f"name is required and at most {MAX_NAME_LENGTH} characters (got {len(name)})",
            code=ErrorCode.INVALID_NAME,
        )
    require_plain_text(name, "name")
    return name


def require_plain_text(text: str, what: str) -> str:
    """``text`` if it is valid Unicode without control characters, else RuleViolation saying
    where. A lone surrogate (possible in JSON) has no UTF-8 form; control characters (NUL
    above all) are stored differently, or refused, by different databases."""
    for index, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            problem = f"is not valid Unicode (a lone surrogate at position {index})"
        elif unicodedata.category(char) == "Cc":
            problem = f"holds a control character (U+{ord(char):04X} at position {index})"
        else:
            continue
        raise RuleViolation(f"{what} {problem}", code=ErrorCode.INVALID_NAME)
    return text
