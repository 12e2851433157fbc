"""Ids: 24 hexadecimal characters, laid out like MongoDB ObjectIds (GlobeCo's ids are those)."""

from __future__ import annotations

import itertools
import os
import re
import time

from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import RuleViolation

_HEX24 = "[0-9a-fA-F]{24}"
OBJECT_ID_PATTERN = f"^{_HEX24}$"  # as JSON Schema writes it (the OpenAPI document)
_OBJECT_ID = re.compile(_HEX24)
_id_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_process_tag = os.urandom(5).hex()


def new_object_id() -> str:
    """A fresh id: seconds, a per-process tag, a counter (as a MongoDB ObjectId)."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{_process_tag}{next(_id_counter) & 0xFFFFFF:06x}"


def is_object_id(value: str) -> bool:
    """True for exactly 24 hexadecimal characters (either case)."""
    return _OBJECT_ID.fullmatch(value) is not None


def require_object_id(value: str, what: str) -> str:
    """The id in lower case, or RuleViolation naming ``what`` when it is not 24 hex chars."""
    if not is_object_id(value):
        raise RuleViolation(
            f"{what} {value!r} is not a 24-character hexadecimal id", code=ErrorCode.INVALID_ID
        )
    return value.lower()
