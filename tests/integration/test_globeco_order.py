"""Order client: array POSTs of at most 1000, per-order results, no retry that could duplicate."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from order_generation.adapters.globeco import GlobecoClients
from order_generation.domain.errors import InvalidServiceResponse, ServiceUnavailable
from order_generation.domain.orders import OrderRequest
from tests.fixtures.sandbox import Sandbox

ORDERS = "POST /api/v1/orders"


def _orders(sandbox: Sandbox, count: int) -> list[OrderRequest]:
    portfolio = sandbox.data.portfolios[0].portfolio_id
    securities = [s.security_id for s in sandbox.data.securities]
    return [
        OrderRequest(portfolio, securities[n % len(securities)], ("BUY", "SELL")[n % 2], n + 1)
        for n in range(count)
    ]


async def test_orders_are_created_as_the_portal_sends_them(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    orders = _orders(sandbox, 3)
    stamp = dt.datetime(2025, 6, 2, 14, 40, 54, 658000, tzinfo=dt.UTC)
    orders[0] = OrderRequest(orders[0].portfolio_id, orders[0].security_id, "BUY", 7, stamp)

    result = await globeco.order.submit_orders(orders)

    assert result.status == "SUCCESS"
    assert [r.index for r in result.results] == [0, 1, 2]
    assert all(r.succeeded and r.order_id for r in result.results)
    received = sandbox.orders()
    assert [(o["securityId"], o["orderTypeId"], o["quantity"]) for o in received] == [
        (orders[0].security_id, 1, 7),
        (orders[1].security_id, 2, 2),
        (orders[2].security_id, 1, 3),
    ]
    assert received[0]["orderTimestamp"] == "2025-06-02T14:40:54.658Z"
    assert all(
        o["blotterId"] == 1 and o["statusId"] == 1 and o["version"] == 1 and o["limitPrice"] is None
        for o in received
    )


async def test_more_than_1000_orders_go_in_batches(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    result = await globeco.order.submit_orders(_orders(sandbox, 2500))

    assert result.successful == 2500
    assert [r.index for r in result.results] == list(range(2500))
    assert sandbox.requests() == {ORDERS: 3}
    assert len(sandbox.orders()) == 2500


async def test_nothing_to_submit_sends_nothing(sandbox: Sandbox, globeco: GlobecoClients) -> None:
    result = await globeco.order.submit_orders([])

    assert result.results == ()
    assert result.status == "SUCCESS"
    assert sandbox.requests() == {}


async def test_rejected_orders_are_reported_per_order(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    orders = _orders(sandbox, 2)
    orders.append(OrderRequest("x" * 30, orders[0].security_id, "BUY", 1))  # too long for char(24)

    result = await globeco.order.submit_orders(orders)

    assert result.status == "PARTIAL"
    assert (result.successful, result.failed) == (2, 1)
    assert not result.results[2].succeeded
    assert "unknown error" in result.results[2].message


async def test_a_down_service_is_retried_because_nothing_was_processed(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("order", "down", times=2)

    result = await globeco.order.submit_orders(_orders(sandbox, 2))

    assert result.status == "SUCCESS"
    assert sandbox.requests() == {ORDERS: 3}
    assert len(sandbox.orders()) == 2  # created once


async def test_a_500_is_not_retried_as_orders_may_have_been_created(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("order", "error")

    with pytest.raises(ServiceUnavailable, match=r"order service unavailable.*not retried"):
        await globeco.order.submit_orders(_orders(sandbox, 2))
    assert sandbox.requests() == {ORDERS: 1}
    assert sandbox.orders() == []


async def test_a_timeout_is_not_retried_as_the_outcome_is_unknown(sandbox: Sandbox) -> None:
    sandbox.fault("order", "slow", delay_ms=600)
    async with GlobecoClients.from_settings(sandbox.settings(http_timeout_seconds=0.2)) as clients:
        with pytest.raises(ServiceUnavailable, match=r"timed out after 0.2 s.*not retried"):
            await clients.order.submit_orders(_orders(sandbox, 1))
    assert sandbox.requests() == {ORDERS: 1}
    # The service went on and created the order, so a retry would have duplicated it. (Waiting
    # for it also keeps this late order out of the next test's sandbox.)
    for _ in range(200):  # the fault's 0.6 s, with ample room for a loaded machine
        if sandbox.orders():
            break
        await asyncio.sleep(0.05)
    assert len(sandbox.orders()) == 1


async def test_a_closed_port_is_retried_as_nothing_was_sent(
    sandbox: Sandbox, closed_port_url: str
) -> None:
    async with GlobecoClients.from_settings(sandbox.settings(order_url=closed_port_url)) as clients:
        with pytest.raises(ServiceUnavailable, match=r"failed after 3 attempt\(s\): connection"):
            await clients.order.submit_orders(_orders(sandbox, 1))


async def test_a_malformed_answer_is_rejected_clearly(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("order", "malformed")

    with pytest.raises(InvalidServiceResponse, match=r"order.*not valid JSON"):
        await globeco.order.submit_orders(_orders(sandbox, 1))
