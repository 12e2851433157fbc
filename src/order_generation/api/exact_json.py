"""Request bodies read as exact decimals.

FastAPI decodes JSON with the standard library's defaults, which turn every number with a
fraction or exponent into a binary float: ``0.0050000000000000000001`` would arrive as 0.005
and ``1e-400`` as 0. Routes of this class decode numbers from their text instead, so the domain
sees exactly what the client wrote (and refuses it if it is too precise).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def loads_exact(body: bytes | str) -> Any:
    """JSON with every non-integer number as an exact ``Decimal``; NaN and Infinity, integers
    beyond the interpreter's digit limit and absurd nesting are decoding errors."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_not_a_number)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        raise json.JSONDecodeError(str(error) or type(error).__name__, text, 0) from None


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


class _ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_exact(await self.body())
        return self._json


class ExactJsonRoute(APIRoute):
    """An ``APIRoute`` whose JSON body is decoded by ``loads_exact``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_exactly(request: Request) -> Response:
            return await handle(_ExactJsonRequest(request.scope, request.receive))

        return handle_exactly
