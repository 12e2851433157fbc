"""How the real services write values and errors, so the sandbox can write them the same way."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from starlette.responses import PlainTextResponse, Response


@lru_cache(maxsize=1 << 16)
def go_decimal(value: Decimal) -> str:
    """A decimal as Go's shopspring/decimal writes it: a string, no exponent, no trailing zeros
    (``"100"``, ``"1234.5"``). The accounting service sends every decimal this way.

    Cached: a summary writes three per holding, and holdings repeat a few thousand quantities
    (equal decimals have one normal form, so the cache can answer by equality)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def go_timestamp(ns: int | None = None) -> str:
    """Go's ``time.Time`` in RFC 3339 with nanoseconds, trailing zeros trimmed, UTC ``Z``."""
    ns = time.time_ns() if ns is None else ns
    seconds, nanos = divmod(ns, 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


def iso_now() -> str:
    """A Java ``OffsetDateTime``/``Instant`` as Spring writes it (millisecond UTC)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_response(content: Any, status_code: int = 200) -> Response:
    """JSON with ``Decimal`` written as a JSON number (pricing and order values are numbers).

    ``float`` is exact enough here: prices and quantities have at most 15 significant digits, and
    a float's shortest repr gives back the same decimal digits.
    """
    body = orjson.dumps(content, default=_number)  # compact, as the real services write
    return Response(body, status_code=status_code, media_type="application/json")


def spring_error(status: int, error: str, path: str) -> Response:
    """Spring Boot's default error body (pricing and order services)."""
    body = {"timestamp": iso_now(), "status": status, "error": error, "path": path}
    return json_response(body, status)


def go_error(status: int, code: str, message: str) -> Response:
    """The accounting service's error body: ``{"error": {"code", "message", "timestamp"}}``."""
    return json_response(
        {"error": {"code": code, "message": message, "timestamp": go_timestamp()}}, status
    )


def fastapi_error(status: int, detail: str) -> Response:
    """A FastAPI ``HTTPException`` body (security and portfolio services)."""
    return json_response({"detail": detail}, status)


def starlette_500() -> Response:
    """What a FastAPI service answers for an unhandled exception: plain text, not JSON."""
    return PlainTextResponse("Internal Server Error", status_code=500)


def _number(value: object) -> float:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
