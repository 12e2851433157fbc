"""Pricing Service (Java/Spring Boot): a price by ticker and all prices.

Prices are JSON numbers; ``open``/``high``/``low`` equal ``close``; ``volume`` is the integer part
of the price's std. Ticker match is exact and case-sensitive; an unknown ticker gets Spring's
default 404 body. With random prices on, every response (and every element of the bulk list) is a
fresh draw, as in the real service.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from order_generation.sandbox.services import StateDep
from order_generation.sandbox.state import SandboxState
from order_generation.sandbox.wire import json_response, spring_error

router = APIRouter(tags=["pricing"])


@router.get("/api/v1/price/{ticker}")
async def price(state: StateDep, ticker: str, request: Request) -> Response:
    if ticker not in state.prices:
        return spring_error(404, "Not Found", request.url.path)
    return json_response(_price_dto(state, ticker))


@router.get("/api/v1/prices")
async def prices(state: StateDep) -> Response:
    return json_response([_price_dto(state, ticker) for ticker in state.prices])


def _price_dto(state: SandboxState, ticker: str) -> dict[str, object]:
    row_id, seeded = state.prices[ticker]
    close = state.close_price(ticker)
    return {
        "id": row_id,
        "ticker": ticker,
        "date": state.data.price_date.isoformat(),
        "open": close,
        "close": close,
        "high": close,
        "low": close,
        "volume": int(seeded.std),
    }
