"""Order Service: create orders, in batches of at most 1000 (one array POST per batch).

Creating orders is not idempotent, so a batch is retried only when it certainly was not
processed (connection refused, 503); after a timeout or a 500 the outcome is unknown and the
call fails instead of risking duplicate orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from order_generation.adapters.globeco._http import Reply, ServiceHttp
from order_generation.adapters.globeco._parse import Payload
from order_generation.domain.errors import InvalidServiceResponse
from order_generation.domain.orders import OrderBatchResult, OrderRequest, OrderResult
from order_generation.domain.trade import BUY, SELL

SERVICE = "order"
MAX_BATCH = 1000
# The Order Service's seeded ids: the portal sends rebalance trades this way.
BLOTTER_DEFAULT = 1
STATUS_NEW = 1
ORDER_TYPE_IDS = {BUY: 1, SELL: 2}


def order_payload(order: OrderRequest, now: dt.datetime) -> dict[str, Any]:
    """One ``OrderPostDTO``. ``orderTimestamp`` and ``version`` are sent although the service
    does not validate them: its database needs them, and the order fails without."""
    timestamp = (order.order_timestamp or now).astimezone(dt.UTC)
    return {
        "blotterId": BLOTTER_DEFAULT,
        "statusId": STATUS_NEW,
        "portfolioId": order.portfolio_id,
        "orderTypeId": ORDER_TYPE_IDS[order.side],
        "securityId": order.security_id,
        "quantity": order.quantity,
        "limitPrice": None,
        "tradeOrderId": None,
        "orderTimestamp": timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "version": 1,
    }


class OrderClient:
    def __init__(
        self,
        http: ServiceHttp,
        *,
        batch_size: int = MAX_BATCH,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        self._http = http
        self._batch_size = batch_size
        self._now = now

    async def submit_orders(self, orders: Sequence[OrderRequest]) -> OrderBatchResult:
        """Create ``orders``; one result per order, in order. Orders the service rejected are
        results with ``succeeded=False``; a batch that could not be sent raises
        ``ServiceUnavailable`` (batches sent before it stay created)."""
        results: list[OrderResult] = []
        for start in range(0, len(orders), self._batch_size):
            batch = orders[start : start + self._batch_size]
            results.extend(await self._submit_batch(batch, start))
        return OrderBatchResult(tuple(results))

    async def _submit_batch(self, batch: Sequence[OrderRequest], start: int) -> list[OrderResult]:
        now = self._now()
        reply = await self._http.post(
            "/api/v1/orders",
            [order_payload(order, now) for order in batch],
            accept=(200, 207, 400, 413),
            idempotent=False,
        )
        if reply.status in (400, 413):
            message = _batch_message(reply)
            return [OrderResult(start + i, False, None, message) for i in range(len(batch))]
        return _parse_results(reply, len(batch), start)


def _batch_message(reply: Reply) -> str:
    # The whole batch was refused before processing; the body says why (if it is the DTO).
    try:
        body = reply.json()
    except InvalidServiceResponse:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    return f"batch rejected (HTTP {reply.status}): {message or 'no reason given'}"


def _parse_results(reply: Reply, size: int, start: int) -> list[OrderResult]:
    p = Payload(SERVICE, reply.what)
    body = p.mapping(reply.json(), "body")
    results: dict[int, OrderResult] = {}
    for n, raw in enumerate(p.array(body.get("orders"), "body.orders")):
        where = f"body.orders[{n}]"
        item = p.mapping(raw, where)
        index = p.integer(item, "requestIndex", where)
        if not 0 <= index < size or index in results:
            p.fail(f"{where}.requestIndex", f"{index} is out of range or repeated")
        status = p.text(item, "status", where)
        if status not in ("SUCCESS", "FAILURE"):
            p.fail(f"{where}.status", f"should be SUCCESS or FAILURE, got {status!r}")
        succeeded = status == "SUCCESS"
        order_id = p.integer(item, "orderId", where) if succeeded else None
        message = item.get("message") if isinstance(item.get("message"), str) else ""
        results[index] = OrderResult(start + index, succeeded, order_id, message or status)
    if len(results) != size:
        p.fail("body.orders", f"has {len(results)} results for {size} orders")
    return [results[i] for i in range(size)]
