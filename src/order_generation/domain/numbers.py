"""Exact decimals from what clients and files write: one rule for every reader.

A decimal is a JSON integer, an exact ``Decimal`` (JSON read with ``parse_float=Decimal``), or
text of the plain numeral form below. Floats are never accepted: a binary float has already
lost the digits its writer meant. ``Decimal()`` alone would also take "NaN", "1_000", Unicode
digits and spaces, and exponents too large to compute with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

_SPACE = r"[ \t\n\r\f\v]*"
DECIMAL_TEXT_PATTERN = (
    rf"^{_SPACE}[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{{1,9}})?{_SPACE}$"
)
_DECIMAL_TEXT = re.compile(DECIMAL_TEXT_PATTERN)


def exact_decimal(value: object) -> Decimal:
    """``value`` as an exact, finite Decimal; ValueError saying why it is not one."""
    # The common types first: a request or a file of problems holds thousands of numbers.
    if isinstance(value, str):
        if not _DECIMAL_TEXT.match(value):
            raise ValueError("must be a decimal number written with the digits 0-9")
        return Decimal(value)  # the pattern allows surrounding ASCII space; Decimal ignores it
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("must be a finite number")
        return value
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, int):
        return Decimal(value)
    raise ValueError("must be a number or a numeric string")


def exact_decimals(values: Iterable[object]) -> list[Decimal]:
    """``exact_decimal`` of each value (the same rule), with less overhead per number for the
    common case of decimal text; ValueError at the first that is not one."""
    match = _DECIMAL_TEXT.match
    return [
        Decimal(value) if type(value) is str and match(value) else exact_decimal(value)
        for value in values
    ]
