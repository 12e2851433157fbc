"""Racing writers on both databases: one winner per version, one owner per portfolio, no lost
update, and no run that marks a model it did not read."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.fixtures.sandbox import Sandbox
from tests.integration.test_models_api import PF, SEC, create, position
from tests.reliability.conftest import Figures
from tests.support import V1, create_model, generated, spread_model, stored_runs

# Slow (hypothesis, processes, faults under load): `./test.sh -m "not slow"` skips it.
pytestmark = pytest.mark.slow


async def test_concurrent_puts_with_one_version_have_exactly_one_winner(
    api: httpx.AsyncClient, figures: Figures
) -> None:
    created = await create(api, positions=[position(0, "0.1")])
    url = f"{V1}/model/{created['model_id']}"

    async def put(i: int) -> httpx.Response:
        body = {
            "name": f"writer {i}",
            "positions": [position(0, "0.1")],
            "portfolios": [],
            "version": 1,
        }
        return await api.put(url, json=body)

    responses = await asyncio.gather(*(put(i) for i in range(20)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert (await api.get(url)).json() == winner
    assert winner["version"] == 2
    figures.cases["races"] += 1


async def test_concurrent_unversioned_changes_are_never_lost(
    api: httpx.AsyncClient, figures: Figures
) -> None:
    created = await create(api)
    url = f"{V1}/model/{created['model_id']}"

    responses = await asyncio.gather(
        *(api.post(f"{url}/portfolio", json={"portfolios": [PF[i]]}) for i in range(8)),
        *(api.post(f"{url}/position", json=position(i, "0.05")) for i in range(8)),
    )

    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    final = (await api.get(url)).json()
    assert sorted(final["portfolios"]) == PF[:8]
    assert sorted(p["security_id"] for p in final["positions"]) == SEC[:8]
    assert final["version"] == 17
    figures.acknowledged_writes += len(responses)
    figures.cases["races"] += 1


async def test_one_portfolio_raced_into_twenty_new_models_has_one_owner(
    api: httpx.AsyncClient, figures: Figures
) -> None:
    responses = await asyncio.gather(
        *(
            api.post(f"{V1}/models", json={"name": f"m{i}", "portfolios": [PF[0]]})
            for i in range(20)
        )
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [400] * 19, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 400} == {
        "PORTFOLIO_IN_OTHER_MODEL"
    }
    models = (await api.get(f"{V1}/models")).json()
    assert [m["portfolios"] for m in models] == [[PF[0]]]
    figures.cases["races"] += 1


async def test_one_portfolio_raced_into_twenty_existing_models_has_one_owner(
    api: httpx.AsyncClient, figures: Figures
) -> None:
    models = [await create(api, name=f"m{i}") for i in range(20)]

    responses = await asyncio.gather(
        *(
            api.post(f"{V1}/model/{m['model_id']}/portfolio", json={"portfolios": [PF[1]]})
            for m in models
        )
    )

    assert sorted(r.status_code for r in responses) == [200] + [400] * 19
    owners = [m for m in (await api.get(f"{V1}/models")).json() if m["portfolios"]]
    assert [m["portfolios"] for m in owners] == [[PF[1]]]
    figures.cases["races"] += 1


async def test_a_change_during_a_model_run_is_not_marked_rebalanced(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox, figures: Figures
) -> None:
    # The run reads version 1; a PUT lands while it waits for holdings. The run is stored as a
    # record of version 1, and the model, now at version 2, must not be marked rebalanced
    # against positions no run used.
    portfolios = [p.portfolio_id for p in generated(sandbox)[:4]]
    model = await create_model(sandbox_api, spread_model(sandbox), portfolios)
    sandbox.fault("accounting", "slow", delay_ms=600)
    run = asyncio.create_task(sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance"))
    await asyncio.sleep(0.2)
    positions = [
        {"security_id": s, "target": t, "low_drift": lo, "high_drift": hi}
        for s, t, lo, hi in spread_model(sandbox, 3)
    ]
    changed = {**model, "name": "Changed meanwhile", "positions": positions}
    put = await sandbox_api.put(f"{V1}/model/{model['model_id']}", json=changed)
    assert put.status_code == 200, put.text

    response = await run

    assert response.status_code == 200, response.text
    after = (await sandbox_api.get(f"{V1}/model/{model['model_id']}")).json()
    assert after == put.json()
    assert after["version"] == 2
    assert after["last_rebalance_date"] is None
    (stored,) = await stored_runs(sandbox_api)
    assert stored["model_version"] == 1
    assert stored["model_name"] == model["name"]
    figures.cases["races"] += 1


async def test_concurrent_deletes_of_one_run_delete_it_once(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox, figures: Figures
) -> None:
    portfolios = [p.portfolio_id for p in generated(sandbox)[:3]]
    model = await create_model(sandbox_api, spread_model(sandbox), portfolios)
    results = (await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")).json()
    rebalance_id = results[0]["rebalance_id"]

    responses = await asyncio.gather(
        *(
            sandbox_api.delete(f"{V1}/rebalance/{rebalance_id}", params={"version": 1})
            for _ in range(10)
        )
    )

    assert sorted(r.status_code for r in responses) == [204] + [404] * 9
    assert await stored_runs(sandbox_api) == []
    gone = await sandbox_api.get(f"{V1}/rebalance/{rebalance_id}/portfolios")
    assert gone.status_code == 404
    figures.cases["races"] += 1
