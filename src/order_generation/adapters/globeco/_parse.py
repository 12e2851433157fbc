"""Reading GlobeCo payloads strictly: every contract break is an ``InvalidServiceResponse`` that
names the service, the request and the offending field, never a ``KeyError`` further down."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn

from order_generation.domain.errors import InvalidServiceResponse
from order_generation.domain.numbers import exact_decimal

# 10^18 is far beyond any price, quantity or cash balance; a huge exponent would make the exact
# arithmetic downstream overflow instead of failing here.
_MAX_ADJUSTED_EXPONENT = 17


class Payload:
    """Typed access to one decoded response body of ``service``'s ``what`` request."""

    def __init__(self, service: str, what: str) -> None:
        self.service = service
        self.what = what

    def fail(self, where: str, problem: str) -> NoReturn:
        raise InvalidServiceResponse(self.service, f"{self.what}: {where} {problem}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"should be an object, got {_kind(value)}")
        return value

    def array(self, value: Any, where: str, *, null_is_empty: bool = False) -> list[Any]:
        if value is None and null_is_empty:
            return []
        if not isinstance(value, list):
            self.fail(where, f"should be an array, got {_kind(value)}")
        return value

    def text(self, obj: Mapping[str, Any], key: str, where: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            self.fail(f"{where}.{key}", f"should be a non-empty string, got {_kind(value)}")
        return value

    def optional_text(self, obj: Mapping[str, Any], key: str, where: str) -> str | None:
        return None if obj.get(key) is None else self.text(obj, key, where)

    def integer(self, obj: Mapping[str, Any], key: str, where: str) -> int:
        value = obj.get(key)
        if type(value) is not int:  # bool is not a count
            self.fail(f"{where}.{key}", f"should be an integer, got {_kind(value)}")
        return value

    def decimal(self, obj: Mapping[str, Any], key: str, where: str) -> Decimal:
        """A number, or a numeric string (accounting sends decimals as strings), read by the
        domain's one rule for decimals; below 10^18 in magnitude."""
        value = obj.get(key)
        try:
            number = exact_decimal(value)
        except ValueError:
            self.fail(f"{where}.{key}", f"should be a decimal number, got {_kind(value)}")
        if number.adjusted() > _MAX_ADJUSTED_EXPONENT:
            self.fail(f"{where}.{key}", f"is out of range, got {_kind(value)}")
        return number


def _kind(value: object) -> str:
    if value is None:
        return "null (or missing)"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    if isinstance(value, int | Decimal):
        return f"number {value}"
    return type(value).__name__
