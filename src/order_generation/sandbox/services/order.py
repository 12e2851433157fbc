"""Order Service (Java/Spring Boot): ``POST /api/v1/orders`` takes an array of 1–1000 orders.

Kept from the real service: 200 when every order was created, 207 when some or all failed one by
one, 400 for an empty list (and Spring's default body for JSON it cannot read), 413 above 1000;
the per-order result key is ``order`` (the current spec says ``orderDetails``); null fields are
left out; a missing ``orderTimestamp`` or ``version`` fails that order with "unknown error".
Every created order is kept for ``GET /sandbox/orders``.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from order_generation.sandbox.services import StateDep
from order_generation.sandbox.state import SandboxState
from order_generation.sandbox.wire import json_response, spring_error

router = APIRouter(tags=["order"])

MAX_BATCH = 1000
# The order service's seeded lookups (id → abbreviation, name). The ids, blotter names and order
# type abbreviations are documented (contracts digest); statuses after SENT, blotter abbreviations
# and order type descriptions are stand-ins (this project only sends blotter 1, status 1, BUY/SELL).
BLOTTERS = {
    1: ("Default", "Default"),
    2: ("EQ", "Equity"),
    3: ("FI", "Fixed Income"),
    4: ("HOLD", "Hold"),
    5: ("CRYPTO", "Crypto"),
}
STATUSES = {
    1: ("NEW", "New"),
    2: ("SENT", "Sent"),
    3: ("WORK", "In progress"),
    4: ("FULL", "Filled"),
    5: ("PART", "Partial fill"),
    6: ("CNCL", "Cancelled"),
}
ORDER_TYPES = {
    1: ("BUY", "Buy"),
    2: ("SELL", "Sell"),
    3: ("SHORT", "Sell to Open"),
    4: ("COVER", "Buy to Close"),
    5: ("EXRC", "Exercise"),
}
_REQUIRED = ("blotterId", "statusId", "portfolioId", "orderTypeId", "securityId")
_UNKNOWN_ERROR = "Failed to create order: unknown error"


@router.post("/api/v1/orders")
async def create_orders(state: StateDep, request: Request) -> Response:
    try:
        body = json.loads(await request.body(), parse_float=Decimal)
    except ValueError:
        return spring_error(400, "Bad Request", request.url.path)
    if not isinstance(body, list):  # Jackson cannot read an object as List<OrderPostDTO>
        return spring_error(400, "Bad Request", request.url.path)
    if not body:
        return _batch(400, "Request validation failed: Order list cannot be empty", [])
    if len(body) > MAX_BATCH:
        return _batch(
            413, f"Batch size {len(body)} exceeds maximum allowed size of {MAX_BATCH}", []
        )
    results = [_process(state, index, item) for index, item in enumerate(body)]
    succeeded = sum(r["status"] == "SUCCESS" for r in results)
    if succeeded == len(results):
        return _batch(200, f"All {succeeded} orders processed successfully", results)
    return _batch(207, f"{succeeded} of {len(results)} orders processed successfully", results)


def _batch(status_code: int, message: str, results: list[dict[str, Any]]) -> Response:
    succeeded = sum(r["status"] == "SUCCESS" for r in results)
    if results and succeeded == len(results):
        status = "SUCCESS"
    elif succeeded:
        status = "PARTIAL"
    else:
        status = "FAILURE"
    return json_response(
        {
            "status": status,
            "message": message,
            "totalReceived": len(results),
            "successful": succeeded,
            "failed": len(results) - succeeded,
            "orders": results,
        },
        status_code,
    )


def _process(state: SandboxState, index: int, item: object) -> dict[str, Any]:
    error = _invalid(item) if isinstance(item, dict) else "Invalid order data"
    if error is not None or not isinstance(item, dict):
        return {"status": "FAILURE", "message": error, "requestIndex": index}
    order_id = state.next_order_id
    state.next_order_id += 1
    stored = {"id": order_id, **{k: item.get(k) for k in _STORED_FIELDS}}
    state.orders.append(stored)
    return {
        "status": "SUCCESS",
        "message": "Order created successfully",
        "order": _details(state, order_id, item),
        "orderId": order_id,
        "requestIndex": index,
    }


_STORED_FIELDS = (
    "blotterId",
    "statusId",
    "portfolioId",
    "orderTypeId",
    "securityId",
    "quantity",
    "limitPrice",
    "tradeOrderId",
    "orderTimestamp",
    "version",
)


def _invalid(item: dict[str, Any]) -> str | None:
    """Why the order service would reject this order, or ``None``."""
    for field in _REQUIRED:
        if item.get(field) is None:
            return f"Validation failed: {field} is required"
    for field, table, label in (
        ("blotterId", BLOTTERS, "Blotter"),
        ("statusId", STATUSES, "Status"),
        ("orderTypeId", ORDER_TYPES, "Order type"),
    ):
        if not _is_int(item[field]) or item[field] not in table:
            return f"{label} with ID {item[field]} not found"
    if not _is_number(item.get("quantity")) or item["quantity"] <= 0:
        return "Validation failed: quantity must be positive"
    limit_price = item.get("limitPrice")
    if limit_price is not None and (not _is_number(limit_price) or limit_price <= 0):
        return "Validation failed: limitPrice must be positive"
    for field in ("portfolioId", "securityId"):
        if not isinstance(item[field], str) or len(item[field]) > 24:  # char(24) columns
            return _UNKNOWN_ERROR
    # Not validated, but NOT NULL in the database: the insert fails without them.
    if not _is_int(item.get("version")) or not _is_timestamp(item.get("orderTimestamp")):
        return _UNKNOWN_ERROR
    return None


def _details(state: SandboxState, order_id: int, item: dict[str, Any]) -> dict[str, Any]:
    portfolio = state.portfolios.get(item["portfolioId"])
    security = state.securities_by_id.get(item["securityId"])
    blotter, status, order_type = (
        BLOTTERS[item["blotterId"]],
        STATUSES[item["statusId"]],
        ORDER_TYPES[item["orderTypeId"]],
    )
    details: dict[str, Any] = {
        "id": order_id,
        "blotter": {
            "id": item["blotterId"],
            "abbreviation": blotter[0],
            "name": blotter[1],
            "version": 1,
        },
        "status": {
            "id": item["statusId"],
            "abbreviation": status[0],
            "description": status[1],
            "version": 1,
        },
        # Name and ticker come from the other services; null (so left out) when unknown.
        "portfolio": _without_nulls(
            {"portfolioId": item["portfolioId"], "name": portfolio and portfolio.name}
        ),
        "orderType": {
            "id": item["orderTypeId"],
            "abbreviation": order_type[0],
            "description": order_type[1],
            "version": 1,
        },
        "security": _without_nulls(
            {"securityId": item["securityId"], "ticker": security and security.ticker}
        ),
        "quantity": item["quantity"],
        "limitPrice": item.get("limitPrice"),
        "tradeOrderId": item.get("tradeOrderId"),
        "orderTimestamp": item["orderTimestamp"],
        "version": item["version"],
    }
    return _without_nulls(details)


def _without_nulls(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_number(value: object) -> bool:
    return type(value) in (int, Decimal)


def _is_timestamp(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
