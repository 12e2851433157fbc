"""Portfolio Accounting (Go/chi): the portfolio summary and the balances listing.

Quirks kept from the real service: every decimal is a JSON string; a portfolio with no balance
rows (including an unknown or malformed id) makes the summary answer 500, not 404; the summary
lists at most 1000 rows, cash first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from itertools import islice
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from order_generation.sandbox.services import StateDep
from order_generation.sandbox.state import BalanceRow
from order_generation.sandbox.wire import go_decimal, go_error, go_timestamp, json_response

router = APIRouter(tags=["accounting"])

SUMMARY_ROW_CAP = 1000

_Filter = Callable[[BalanceRow], bool]


@router.get("/api/v1/portfolios/{portfolioId}/summary")
async def portfolio_summary(
    state: StateDep, portfolio_id: Annotated[str, Path(alias="portfolioId")]
) -> Response:
    rows = state.rows_of(portfolio_id)[:SUMMARY_ROW_CAP]
    if not rows:
        # The real handler maps "no balances found" to 500 (it only maps "not found" to 404).
        return go_error(500, "INTERNAL_ERROR", "Failed to retrieve portfolio summary")
    stamp = go_timestamp(state.loaded_ns)
    cash = next((r.quantity_long for r in rows if r.security_id is None), Decimal(0))
    securities = [
        {
            "securityId": r.security_id,
            "quantityLong": go_decimal(r.quantity_long),
            "quantityShort": go_decimal(r.quantity_short),
            "netQuantity": go_decimal(r.quantity_long - r.quantity_short),
            "lastUpdated": stamp,
        }
        for r in rows
        if r.security_id is not None
    ]
    return json_response(
        {
            "portfolioId": portfolio_id,
            "cashBalance": go_decimal(cash),
            "securityCount": len(securities),
            "lastUpdated": go_timestamp(),
            "securities": securities,
        }
    )


@router.get("/api/v1/balances")
async def balances(state: StateDep, request: Request) -> Response:
    """Filters: portfolio_id, security_id ("null" = cash), cash_only, zero_balances_only,
    non_zero_balances_only; paging: offset, limit (1..1000, default 50). ``sortby`` and the date
    filters are accepted and ignored: rows come in portfolio order, cash first."""
    query = request.query_params
    try:
        limit = _int_param(query.get("limit"), "limit", default=50, low=1, high=1000)
        offset = _int_param(query.get("offset"), "offset", default=0, low=0, high=None)
    except ValueError as exc:
        return go_error(400, "VALIDATION_ERROR", str(exc))
    keep = _row_filter(
        security_id=query.get("security_id"),
        cash_only=query.get("cash_only") == "true",
        zero_only=query.get("zero_balances_only") == "true",
        non_zero_only=query.get("non_zero_balances_only") == "true",
    )
    portfolio_id = query.get("portfolio_id")
    if portfolio_id is not None:
        matching = [r for r in state.rows_of(portfolio_id) if keep is None or keep(r)]
        total, page = len(matching), matching[offset : offset + limit]
    elif keep is None:
        # Unfiltered listing of every portfolio: page without materialising a million rows.
        total, page = state.total_rows, list(islice(state.all_rows(offset), limit))
    else:
        matching = [r for r in state.all_rows() if keep(r)]
        total, page = len(matching), matching[offset : offset + limit]
    stamp = go_timestamp(state.loaded_ns)
    return json_response(
        {
            "balances": [_balance_json(r, stamp) for r in page],
            "pagination": {
                "limit": limit,
                "offset": offset,
                "total": total,
                "hasMore": offset + len(page) < total,
                "page": offset // limit + 1,
                "totalPages": math.ceil(total / limit),
            },
        }
    )


def _balance_json(row: BalanceRow, stamp: str) -> dict[str, object]:
    body: dict[str, object] = {"id": row.id, "portfolioId": row.portfolio_id}
    if row.security_id is not None:  # Go omits the empty pointer for cash rows
        body["securityId"] = row.security_id
    body.update(
        quantityLong=go_decimal(row.quantity_long),
        quantityShort=go_decimal(row.quantity_short),
        lastUpdated=stamp,
        version=1,
    )
    return body


def _row_filter(
    *, security_id: str | None, cash_only: bool, zero_only: bool, non_zero_only: bool
) -> _Filter | None:
    tests: list[_Filter] = []
    if cash_only or security_id == "null":
        tests.append(lambda r: r.security_id is None)
    elif security_id is not None:
        tests.append(lambda r: r.security_id == security_id)
    if zero_only:
        tests.append(lambda r: r.quantity_long == r.quantity_short == 0)
    if non_zero_only:
        tests.append(lambda r: not r.quantity_long == r.quantity_short == 0)
    if not tests:
        return None
    return lambda r: all(test(r) for test in tests)


def _int_param(raw: str | None, name: str, *, default: int, low: int, high: int | None) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bounds}")
    return value
