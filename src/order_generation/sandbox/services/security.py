"""Security Service (Python/FastAPI + Mongo): securities by id, all of them, and a v2 search.

Quirks kept: a malformed (non-ObjectId) id is an unhandled error, so a plain-text 500; query
parameters on ``/api/v1/securities`` are ignored (the whole list comes back).
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from order_generation.domain.ids import is_object_id
from order_generation.sandbox.model import SandboxSecurity
from order_generation.sandbox.services import StateDep
from order_generation.sandbox.services._paging import v2_pagination
from order_generation.sandbox.wire import fastapi_error, json_response, starlette_500

router = APIRouter(tags=["security"])

_TICKER = re.compile(r"[A-Za-z0-9.-]{1,50}")
# The one security type the real service seeds: CS, Common Stock.
_CS_TYPE_ID = hashlib.sha256(b"globeco-sandbox-security-type:CS").hexdigest()[:24]


@router.get("/api/v1/security/{securityId}")
async def security(
    state: StateDep, security_id: Annotated[str, Path(alias="securityId")]
) -> Response:
    if not is_object_id(security_id):
        return starlette_500()  # bson InvalidId escapes the handler in the real service
    found = state.securities_by_id.get(security_id)
    if found is None:
        return fastapi_error(404, "Security not found")
    return json_response(_v1(found))


@router.get("/api/v1/securities")
async def securities(state: StateDep) -> Response:
    return json_response([_v1(s) for s in state.data.securities])


@router.get("/api/v2/securities")
async def search_securities(
    state: StateDep,
    ticker: str | None = None,
    ticker_like: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    if ticker is not None and ticker_like is not None:
        return fastapi_error(
            400, "Only one of 'ticker' or 'ticker_like' parameters can be provided"
        )
    for value in (ticker, ticker_like):
        if value is not None and not _TICKER.fullmatch(value):
            return fastapi_error(
                400, "Ticker must be 1-50 characters of letters, digits, '.' and '-'"
            )
    found = state.securities_by_ticker  # sorted by ticker, as the real search is
    if ticker is not None:
        found = [s for s in found if s.ticker.lower() == ticker.lower()]
    elif ticker_like is not None:
        pattern = re.compile(ticker_like, re.IGNORECASE)  # the real service uses a Mongo regex
        found = [s for s in found if pattern.search(s.ticker)]
    page = found[offset : offset + limit]
    return json_response(
        {
            "securities": [_v2(s) for s in page],
            "pagination": v2_pagination(len(found), limit, offset),
        }
    )


def _v1(s: SandboxSecurity) -> dict[str, object]:
    return _security_json(s, {})


def _v2(s: SandboxSecurity) -> dict[str, object]:
    return _security_json(s, {"version": 1})  # v2 also versions the nested type


def _security_json(s: SandboxSecurity, type_extra: dict[str, object]) -> dict[str, object]:
    return {
        "ticker": s.ticker,
        "description": s.description,
        "securityTypeId": _CS_TYPE_ID,
        "version": 1,
        "securityId": s.security_id,
        "securityType": {
            "securityTypeId": _CS_TYPE_ID,
            "abbreviation": "CS",
            "description": "Common Stock",
            **type_extra,
        },
    }
