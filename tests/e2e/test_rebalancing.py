"""Rebalancing end to end: the API on a real database, talking HTTP to the sandbox services.

Expected trades are computed here independently, with fractions, from the sandbox's own data.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import (
    EDGE_PORTFOLIO_ID,
    LARGE_PORTFOLIO_ID,
    UNFUNDED_PORTFOLIO_ID,
    UNKNOWN_PORTFOLIO_ID,
    Sandbox,
)
from tests.support import (
    V1,
    check_result_against,
    create_model,
    generated,
    priced_ids,
    security_prices,
    spread_model,
    stored_runs,
)

# --- tests --------------------------------------------------------------------------------------


async def test_model_rebalance_matches_an_independent_computation(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolios = generated(sandbox)
    spec = spread_model(sandbox)
    model = await create_model(sandbox_api, spec, [p.portfolio_id for p in portfolios])
    response = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")
    assert response.status_code == 200, response.text
    results = response.json()
    assert [r["portfolio_id"] for r in results] == [p.portfolio_id for p in portfolios]
    assert len({r["rebalance_id"] for r in results}) == 1
    prices = security_prices(sandbox.data)
    for result, portfolio in zip(results, portfolios, strict=True):
        check_result_against(result, portfolio, spec, prices)
        assert result["portfolio_name"] == portfolio.name

    after = (await sandbox_api.get(f"{V1}/model/{model['model_id']}")).json()
    assert after["last_rebalance_date"] is not None
    assert after["version"] == model["version"] + 1
    (run,) = await stored_runs(sandbox_api)
    assert run["rebalance_id"] == results[0]["rebalance_id"]
    assert run["number_of_portfolios"] == len(portfolios)
    for stored in run["portfolios"]:
        assert stored["cash_after_rebalance"] >= 0
        assert stored["market_value"] == pytest.approx(
            stored["cash_after_rebalance"]
            + sum(p["adjusted_position_market_value"] for p in stored["positions"])
        )


async def test_single_portfolio_rebalance_is_stored_as_a_run_of_one(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolio = generated(sandbox)[0]
    spec = spread_model(sandbox, count=4, offset=10)
    model = await create_model(sandbox_api, spec, [portfolio.portfolio_id])
    response = await sandbox_api.post(f"{V1}/portfolio/{portfolio.portfolio_id}/rebalance")
    assert response.status_code == 200, response.text
    result = response.json()
    check_result_against(result, portfolio, spec, security_prices(sandbox.data))
    stored = (await sandbox_api.get(f"{V1}/rebalance/{result['rebalance_id']}")).json()
    assert stored["model_id"] == model["model_id"]
    assert stored["number_of_portfolios"] == 1
    # Only a whole-model rebalance moves the model's last_rebalance_date.
    assert (await sandbox_api.get(f"{V1}/model/{model['model_id']}")).json() == model


async def test_held_securities_outside_the_model_are_sold(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolio = generated(sandbox)[1]
    held = {h.security_id for h in portfolio.holdings}
    spec = [(s, "0.2", "0.05", "0.05") for s in priced_ids(sandbox) if s not in held][:3]
    await create_model(sandbox_api, spec, [portfolio.portfolio_id])
    result = (await sandbox_api.post(f"{V1}/portfolio/{portfolio.portfolio_id}/rebalance")).json()
    sells = {
        t["security_id"]: t["quantity"]
        for t in result["transactions"]
        if t["transaction_type"] == "SELL"
    }
    assert sells == {h.security_id: int(h.quantity) for h in portfolio.holdings if h.quantity}
    for drift in result["drifts"]:
        if drift["security_id"] in held:
            assert (drift["target"], drift["adjusted_quantity"], drift["actual"]) == (0, 0, 0)
    check_result_against(result, portfolio, spec, security_prices(sandbox.data))


async def test_unusual_portfolios_in_one_model_run(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """An empty portfolio, one short more than it is worth, and one holding securities no
    service can price: the run completes and says what happened to each."""
    # Bands from 0 to twice the target: feasible whatever the market value.
    spec = [(s, t, t, t) for s, t, _, _ in spread_model(sandbox, count=3)]
    members = [UNFUNDED_PORTFOLIO_ID, EDGE_PORTFOLIO_ID, LARGE_PORTFOLIO_ID]
    model = await create_model(sandbox_api, spec, members)
    response = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")
    assert response.status_code == 200, response.text
    unfunded, edge, large = response.json()
    assert unfunded["status"] == "rebalanced"
    assert unfunded["transactions"] == []
    assert all(d["actual"] == 0 for d in unfunded["drifts"])
    # The edge portfolio is short more than its cash and fractional holdings are worth.
    assert edge["status"] == "infeasible"
    assert "negative" in edge["reason"]
    assert edge["transactions"] == []
    assert [d["adjusted_quantity"] for d in edge["drifts"]] == [
        d["original_quantity"] for d in edge["drifts"]
    ]
    assert large["status"] == "infeasible"
    assert "no price" in large["reason"]
    assert large["transactions"] == []


async def test_an_infeasible_portfolio_does_not_sink_the_model_run(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    # A zero-width band at an awkward price holds no whole unit for a funded portfolio; the
    # empty portfolio (market value 0) is still trivially feasible.
    prices = security_prices(sandbox.data)
    awkward = max(priced_ids(sandbox), key=lambda s: prices[s])
    spec = [(awkward, "0.335", "0", "0")]
    funded = generated(sandbox)[:3]
    model = await create_model(
        sandbox_api, spec, [*(p.portfolio_id for p in funded), UNFUNDED_PORTFOLIO_ID]
    )
    results = (await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")).json()
    statuses = [r["status"] for r in results]
    assert statuses[-1] == "rebalanced"
    infeasible = [r for r in results if r["status"] == "infeasible"]
    assert infeasible, "the awkward band should defeat at least one funded portfolio"
    for r in infeasible:
        assert awkward in r["reason"]
        assert r["transactions"] == []
    (run,) = await stored_runs(sandbox_api)
    assert [p["status"] for p in run["portfolios"]] == statuses
    assert all(p["reason"] for p in run["portfolios"] if p["status"] == "infeasible")

    single = infeasible[0]["portfolio_id"]
    response = await sandbox_api.post(f"{V1}/portfolio/{single}/rebalance")
    assert response.status_code == 422
    assert "no feasible solution exists" in response.json()["detail"]
    assert len(await stored_runs(sandbox_api)) == 1, "a refused rebalance stores nothing"


@pytest.mark.parametrize(
    ("service", "named"),
    [("accounting", "portfolio accounting"), ("security", "security"), ("pricing", "pricing")],
)
async def test_a_required_service_down_fails_the_run_and_stores_nothing(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox, service: str, named: str
) -> None:
    portfolios = [p.portfolio_id for p in generated(sandbox)]
    model = await create_model(sandbox_api, spread_model(sandbox), portfolios)
    sandbox.fault(service, "down")
    for url in (
        f"{V1}/model/{model['model_id']}/rebalance",
        f"{V1}/portfolio/{portfolios[0]}/rebalance",
    ):
        response = await sandbox_api.post(url)
        assert response.status_code == 503, response.text
        assert named in response.json()["detail"]
    assert await stored_runs(sandbox_api) == []
    assert (await sandbox_api.get(f"{V1}/model/{model['model_id']}")).json() == model

    sandbox.clear_faults()
    recovered = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")
    assert recovered.status_code == 200, recovered.text
    assert len(await stored_runs(sandbox_api)) == 1


async def test_portfolio_service_down_leaves_names_null(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolios = [p.portfolio_id for p in generated(sandbox)[:3]]
    model = await create_model(sandbox_api, spread_model(sandbox), portfolios)
    sandbox.fault("portfolio", "down")
    results = (await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")).json()
    assert [r["portfolio_name"] for r in results] == [None, None, None]
    assert all(r["status"] == "rebalanced" for r in results)
    single = (await sandbox_api.post(f"{V1}/portfolio/{portfolios[0]}/rebalance")).json()
    assert single["portfolio_name"] is None


async def test_a_model_run_makes_constant_security_and_pricing_calls(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolios = [p.portfolio_id for p in generated(sandbox)]
    model = await create_model(sandbox_api, spread_model(sandbox, count=8), portfolios)
    before = sandbox.requests()
    assert (await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")).status_code == 200
    calls = {k: v - before.get(k, 0) for k, v in sandbox.requests().items()}
    assert calls.get("GET /api/v1/prices") == 1
    assert calls.get("GET /api/v1/securities") == 1
    assert calls.get("GET /api/v1/portfolios") == 1
    assert "GET /api/v1/price/{ticker}" not in calls
    assert "GET /api/v1/security/{securityId}" not in calls
    assert calls.get("GET /api/v1/portfolios/{portfolioId}/summary") == len(portfolios)
    # A second run reuses the cached tickers but fetches fresh prices.
    assert (await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")).status_code == 200
    again = {k: v - before.get(k, 0) for k, v in sandbox.requests().items()}
    assert (again["GET /api/v1/prices"], again["GET /api/v1/securities"]) == (2, 1)


async def test_stored_runs_read_back_identically(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolios = generated(sandbox)[:4]
    ids = [p.portfolio_id for p in portfolios]
    model = await create_model(sandbox_api, spread_model(sandbox), ids, name="Readback")
    results = (await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")).json()
    run_id = results[0]["rebalance_id"]

    run = (await sandbox_api.get(f"{V1}/rebalance/{run_id}")).json()
    assert (run["model_id"], run["model_name"], run["version"]) == (
        model["model_id"],
        "Readback",
        1,
    )
    assert [p["portfolio_id"] for p in run["portfolios"]] == ids
    for result, stored in zip(results, run["portfolios"], strict=True):
        assert stored["portfolio_name"] == result["portfolio_name"]
        assert stored["status"] == result["status"]
        drifts = [
            {
                k: p[k]
                for k in (
                    "security_id",
                    "original_quantity",
                    "adjusted_quantity",
                    "target",
                    "high_drift",
                    "low_drift",
                    "actual",
                )
            }
            for p in stored["positions"]
        ]
        assert drifts == result["drifts"]
        trades = [
            {
                "transaction_type": p["transaction_type"],
                "security_id": p["security_id"],
                "quantity": p["trade_quantity"],
                "trade_date": p["trade_date"],
            }
            for p in stored["positions"]
            if p["transaction_type"]
        ]
        assert trades == result["transactions"]
        for p in stored["positions"]:
            assert p["actual_drift"] == pytest.approx(p["actual"] - p["target"])
            assert p["original_position_market_value"] == pytest.approx(
                p["original_quantity"] * p["price"]
            )

    assert (await sandbox_api.get(f"{V1}/rebalance/{run_id}/portfolios")).json() == run[
        "portfolios"
    ]
    for stored in run["portfolios"]:
        positions = await sandbox_api.get(
            f"{V1}/rebalance/{run_id}/portfolio/{stored['portfolio_id']}/positions"
        )
        assert positions.json() == stored["positions"]
    assert (await stored_runs(sandbox_api)) == [run]
    by_portfolio = await sandbox_api.post(
        f"{V1}/rebalances/portfolios", json={"portfolios": [ids[2], "f" * 24]}
    )
    assert by_portfolio.json() == [run]
    none = await sandbox_api.post(f"{V1}/rebalances/portfolios", json={"portfolios": ["f" * 24]})
    assert none.json() == []


async def test_rebalance_lists_page_and_sort(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolios = [p.portfolio_id for p in generated(sandbox)]
    small = await create_model(sandbox_api, spread_model(sandbox), portfolios[:1], name="b small")
    large = await create_model(sandbox_api, spread_model(sandbox), portfolios[1:4], name="A large")
    order = []
    for model in (small, large, small):
        order.append(
            (await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")).json()[0][
                "rebalance_id"
            ]
        )

    async def listed(**params: Any) -> list[str]:
        response = await sandbox_api.get(f"{V1}/rebalances", params=params)
        assert response.status_code == 200, response.text
        return [r["rebalance_id"] for r in response.json()]

    assert await listed() == order[::-1]  # newest first by default
    assert await listed(sort_by="-rebalance_date") == order[::-1]
    assert await listed(sort_by="rebalance_date") == order
    assert await listed(sort_by="rebalance_date", offset=1, limit=1) == order[1:2]
    assert await listed(sort_by="model_name,rebalance_date") == [order[1], order[0], order[2]]
    assert await listed(sort_by="-number_of_portfolios,-rebalance_date") == [
        order[1],
        order[2],
        order[0],
    ]
    assert await listed(sort_by="rebalance_id") == sorted(order)
    for bad in (
        {"limit": 101},
        {"offset": -1},
        {"offset": 4},
        {"sort_by": "created_at"},
        {"limit": "x"},
    ):
        assert (await sandbox_api.get(f"{V1}/rebalances", params=bad)).status_code == 400
    paged = await sandbox_api.post(
        f"{V1}/rebalances/portfolios?offset=1&limit=1", json={"portfolios": [portfolios[0]]}
    )
    assert [r["rebalance_id"] for r in paged.json()] == [order[0]]


async def test_delete_a_run_with_its_version(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolio = generated(sandbox)[0].portfolio_id
    await create_model(sandbox_api, spread_model(sandbox), [portfolio])
    run_id = (await sandbox_api.post(f"{V1}/portfolio/{portfolio}/rebalance")).json()[
        "rebalance_id"
    ]
    stale = await sandbox_api.delete(f"{V1}/rebalance/{run_id}", params={"version": 2})
    assert stale.status_code == 409
    assert stale.json()["code"] == "VERSION_CONFLICT"
    assert (await sandbox_api.get(f"{V1}/rebalance/{run_id}")).status_code == 200
    assert (
        await sandbox_api.delete(f"{V1}/rebalance/{run_id}", params={"version": 1})
    ).status_code == 204
    for url in (
        f"{V1}/rebalance/{run_id}",
        f"{V1}/rebalance/{run_id}/portfolios",
        f"{V1}/rebalance/{run_id}/portfolio/{portfolio}/positions",
    ):
        assert (await sandbox_api.get(url)).status_code == 404
    assert (
        await sandbox_api.delete(f"{V1}/rebalance/{run_id}", params={"version": 1})
    ).status_code == 404


async def test_a_model_without_portfolios_has_nothing_to_rebalance(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    model = await create_model(sandbox_api, spread_model(sandbox), [])
    response = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")
    assert response.status_code == 200
    assert response.json() == []
    assert await stored_runs(sandbox_api) == []
    assert (await sandbox_api.get(f"{V1}/model/{model['model_id']}")).json() == model
    assert sandbox.requests().get("GET /api/v1/prices") is None


async def test_unknown_and_malformed_ids(sandbox_api: httpx.AsyncClient, sandbox: Sandbox) -> None:
    response = await sandbox_api.post(f"{V1}/portfolio/{UNKNOWN_PORTFOLIO_ID}/rebalance")
    assert response.status_code == 404
    assert "not in any model" in response.json()["detail"]
    assert (await sandbox_api.post(f"{V1}/model/{'a' * 24}/rebalance")).status_code == 404
    for url in (f"{V1}/portfolio/xyz/rebalance", f"{V1}/model/xyz/rebalance"):
        assert (await sandbox_api.post(url)).status_code == 400
    for url in (f"{V1}/rebalance/xyz", f"{V1}/rebalance/{'a' * 24}/portfolio/xyz/positions"):
        assert (await sandbox_api.get(url)).status_code == 400
    assert (
        await sandbox_api.post(f"{V1}/rebalances/portfolios", json={"portfolios": ["xyz"]})
    ).status_code == 400
    assert (
        await sandbox_api.post(f"{V1}/rebalances/portfolios", json={"portfolios": []})
    ).status_code == 400


async def test_fifty_concurrent_single_portfolio_rebalances(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolios = [p.portfolio_id for p in generated(sandbox)]
    await create_model(sandbox_api, spread_model(sandbox), portfolios)
    targets = [portfolios[i % len(portfolios)] for i in range(50)]
    responses = await asyncio.gather(
        *(sandbox_api.post(f"{V1}/portfolio/{p}/rebalance") for p in targets)
    )
    assert [r.status_code for r in responses] == [200] * 50, [
        r.text for r in responses if r.status_code != 200
    ]
    assert len({r.json()["rebalance_id"] for r in responses}) == 50
    runs = await sandbox_api.get(f"{V1}/rebalances", params={"limit": 100})
    assert len(runs.json()) == 50
