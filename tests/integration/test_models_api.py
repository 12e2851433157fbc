"""SPEC §3 "Models" over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

SEC = [f"{i:024x}" for i in range(1, 200)]
PF = [f"{i:024x}" for i in range(1000, 1100)]
V1 = "/api/v1"


def position(
    i: int, target: float | str, high: float | str = 0.02, low: float | str = 0.01
) -> dict[str, Any]:
    return {"security_id": SEC[i], "target": target, "high_drift": high, "low_drift": low}


async def create(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Growth")
    response = await api.post(f"{V1}/models", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"detail", "code", "errors"}
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if code:
        assert body["code"] == code
    return body


async def test_create_and_read_a_model(api: httpx.AsyncClient) -> None:
    created = await create(
        api,
        name="Growth",
        positions=[position(0, "0.30", "0.0125", 0.01), position(1, 0.6), position(2, 0)],
        portfolios=[PF[0], PF[1], PF[0]],
    )
    assert created["version"] == 1
    assert len(created["model_id"]) == 24
    assert created["last_rebalance_date"] is None
    assert created["portfolios"] == [PF[0], PF[1]]
    # Decimals leave as JSON numbers; the zero-target position was dropped.
    assert created["positions"] == [
        {"security_id": SEC[0], "target": 0.3, "high_drift": 0.0125, "low_drift": 0.01},
        {"security_id": SEC[1], "target": 0.6, "high_drift": 0.02, "low_drift": 0.01},
    ]
    read = await api.get(f"{V1}/model/{created['model_id']}")
    assert read.status_code == 200
    assert read.json() == created


async def test_create_needs_only_a_name(api: httpx.AsyncClient) -> None:
    created = await create(api, name="Empty")
    assert (created["positions"], created["portfolios"]) == ([], [])


async def test_unknown_and_malformed_ids(api: httpx.AsyncClient) -> None:
    assert_error(await api.get(f"{V1}/model/{'a' * 24}"), 404, "NOT_FOUND")
    assert_error(await api.get(f"{V1}/model/xyz"), 400, "INVALID_ID")
    assert_error(
        await api.put(
            f"{V1}/model/{'b' * 24}",
            json={"name": "n", "positions": [], "portfolios": [], "version": 1},
        ),
        404,
    )
    assert_error(await api.delete(f"{V1}/model/{'c' * 24}?version=1"), 404)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "positions": [position(0, "0.96")]}, "TARGET_OUT_OF_RANGE"),
        ({"name": "x", "positions": [position(0, "0.013")]}, "TARGET_NOT_MULTIPLE_OF_0_005"),
        ({"name": "x", "positions": [position(0, "0.5", high="1.5")]}, "DRIFT_OUT_OF_RANGE"),
        (
            {"name": "x", "positions": [position(0, "0.5"), position(1, "0.455")]},
            "TARGET_SUM_EXCEEDS_0_95",
        ),
        (
            {"name": "x", "positions": [position(0, "0.1"), position(0, "0.2")]},
            "DUPLICATE_SECURITY",
        ),
        (
            {"name": "x", "positions": [position(i, "0.005") for i in range(101)]},
            "TOO_MANY_POSITIONS",
        ),
        ({"name": ""}, "INVALID_NAME"),
        ({"name": "x", "portfolios": ["nope"]}, "INVALID_REQUEST"),
        ({"positions": []}, "INVALID_REQUEST"),
    ],
)
async def test_rule_violations_are_400_and_store_nothing(
    api: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    assert_error(await api.post(f"{V1}/models", json=body), 400, code)
    assert (await api.get(f"{V1}/models")).json() == []


async def test_paging_follows_the_spec(api: httpx.AsyncClient) -> None:
    ids = [(await create(api, name=f"m{i}"))["model_id"] for i in range(5)]

    async def page(query: str) -> list[str]:
        response = await api.get(f"{V1}/models{query}")
        assert response.status_code == 200, response.text
        return [m["model_id"] for m in response.json()]

    assert await page("") == ids
    assert await page("?limit=2") == ids[:2]
    assert await page("?offset=3") == ids[3:]
    assert await page("?offset=1&limit=2") == ids[1:3]
    assert await page("?offset=5") == []
    for bad in (
        "?offset=-1",
        "?limit=-2",
        "?offset=6",
        "?offset=1.5",
        "?limit=abc",
        "?offset=99999999999999999999",
    ):
        assert_error(await api.get(f"{V1}/models{bad}"), 400)


async def test_sorting_with_plus_and_minus(api: httpx.AsyncClient) -> None:
    for name in ["b", "c", "a"]:
        await create(api, name=name)

    async def names(sort: str) -> list[str]:
        response = await api.get(f"{V1}/models", params={"sort_by": sort})
        assert response.status_code == 200, response.text
        return [m["name"] for m in response.json()]

    assert await names("name") == ["a", "b", "c"]
    assert await names("+name") == ["a", "b", "c"]
    assert await names("-name") == ["c", "b", "a"]
    raw = await api.get(f"{V1}/models?sort_by=+name")  # '+' unescaped arrives as a space
    assert [m["name"] for m in raw.json()] == ["a", "b", "c"]
    assert await names("-last_rebalance_date,name") == ["a", "b", "c"]
    assert (await api.get(f"{V1}/models?sort_by=-name&limit=1")).json()[0]["name"] == "c"
    body = assert_error(await api.get(f"{V1}/models?sort_by=price"), 400, "INVALID_SORT")
    assert "model_id, name, last_rebalance_date" in body["detail"]


async def test_put_replaces_the_model_and_checks_the_version(api: httpx.AsyncClient) -> None:
    created = await create(api, positions=[position(0, "0.5")], portfolios=[PF[0]])
    url = f"{V1}/model/{created['model_id']}"
    update = {
        "name": "Renamed",
        "positions": [position(1, "0.25")],
        "portfolios": [PF[2]],
        "last_rebalance_date": "2026-03-04T05:06:07Z",
        "version": 1,
    }
    response = await api.put(url, json=update)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["version"] == 2
    assert updated["name"] == "Renamed"
    assert [p["security_id"] for p in updated["positions"]] == [SEC[1]]
    assert updated["portfolios"] == [PF[2]]
    assert updated["last_rebalance_date"].startswith("2026-03-04T05:06:07")

    stale = assert_error(
        await api.put(url, json={**update, "name": "Lost"}), 409, "VERSION_CONFLICT"
    )
    assert "version 2" in stale["detail"]
    assert (await api.get(url)).json() == updated

    # Leaving last_rebalance_date out keeps it; null clears it.
    kept = (
        await api.put(
            url,
            json={**{k: v for k, v in update.items() if k != "last_rebalance_date"}, "version": 2},
        )
    ).json()
    assert kept["last_rebalance_date"] == updated["last_rebalance_date"]
    cleared = (
        await api.put(url, json={**update, "last_rebalance_date": None, "version": 3})
    ).json()
    assert cleared["last_rebalance_date"] is None


async def test_invalid_put_changes_nothing(api: httpx.AsyncClient) -> None:
    created = await create(api, positions=[position(0, "0.5")])
    url = f"{V1}/model/{created['model_id']}"
    bad = {
        "name": "x",
        "positions": [position(0, "0.9"), position(1, "0.1")],
        "portfolios": [],
        "version": 1,
    }
    assert_error(await api.put(url, json=bad), 400, "TARGET_SUM_EXCEEDS_0_95")
    assert (await api.get(url)).json() == created


async def test_delete_needs_the_current_version_and_no_portfolios(api: httpx.AsyncClient) -> None:
    created = await create(api, portfolios=[PF[0]])
    url = f"{V1}/model/{created['model_id']}"
    assert_error(await api.delete(f"{url}?version=1"), 422, "MODEL_HAS_PORTFOLIOS")
    removed = await api.request("DELETE", f"{url}/portfolio", json={"portfolios": [PF[0]]})
    assert removed.json()["version"] == 2
    assert_error(await api.delete(f"{url}?version=1"), 409, "VERSION_CONFLICT")
    assert_error(await api.delete(url), 400)
    assert_error(await api.delete(f"{url}?version=abc"), 400)
    response = await api.delete(f"{url}?version=2")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(await api.get(url), 404)


async def test_position_endpoints(api: httpx.AsyncClient) -> None:
    created = await create(api, positions=[position(0, "0.5")])
    url = f"{V1}/model/{created['model_id']}/position"
    added = await api.post(url, json=position(1, "0.4"))
    assert added.status_code == 200, added.text
    assert [p["security_id"] for p in added.json()["positions"]] == [SEC[0], SEC[1]]
    assert added.json()["version"] == 2

    assert_error(await api.post(url, json=position(1, "0.01")), 400, "DUPLICATE_SECURITY")
    assert_error(await api.post(url, json=position(2, "0.1")), 400, "TARGET_SUM_EXCEEDS_0_95")

    changed = await api.put(url, json=position(1, "0.45", high="0.03"))
    assert changed.json()["positions"][1] == {**position(1, 0.45, high=0.03, low=0.01)}
    assert_error(await api.put(url, json=position(5, "0.01")), 400, "SECURITY_NOT_IN_MODEL")

    assert_error(
        await api.request("DELETE", url, json=position(1, "0.45")), 400, "POSITION_MISMATCH"
    )
    gone = await api.request("DELETE", url, json=position(1, "0.450", high="0.030", low="0.010"))
    assert gone.status_code == 200, gone.text
    assert [p["security_id"] for p in gone.json()["positions"]] == [SEC[0]]
    assert gone.json()["version"] == 4

    assert_error(
        await api.post(url, json={**position(3, "0.1"), "version": 1}), 409, "VERSION_CONFLICT"
    )
    assert (await api.post(url, json={**position(3, "0.1"), "version": 4})).json()["version"] == 5


async def test_portfolio_endpoints(api: httpx.AsyncClient) -> None:
    created = await create(api, portfolios=[PF[0]])
    url = f"{V1}/model/{created['model_id']}/portfolio"
    added = await api.post(url, json={"portfolios": [PF[1], PF[0], PF[1]]})
    assert added.json()["portfolios"] == [PF[0], PF[1]]
    removed = await api.request("DELETE", url, json={"portfolios": [PF[0], PF[9]]})
    assert removed.json()["portfolios"] == [PF[1]]
    assert_error(await api.post(url, json={"portfolios": ["123"]}), 400)


async def test_a_portfolio_cannot_join_a_second_model(api: httpx.AsyncClient) -> None:
    first = await create(api, portfolios=[PF[0]])
    second = await create(api, name="Other")
    body = assert_error(
        await api.post(f"{V1}/model/{second['model_id']}/portfolio", json={"portfolios": [PF[0]]}),
        400,
        "PORTFOLIO_IN_OTHER_MODEL",
    )
    assert first["model_id"] in body["detail"]
    assert_error(await api.post(f"{V1}/models", json={"name": "x", "portfolios": [PF[0]]}), 400)
    assert (await api.get(f"{V1}/model/{second['model_id']}")).json() == second


async def test_operations_endpoints(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health/live")).json() == {"status": "ok"}
    ready = await api.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
    spec = (await api.get("/openapi.json")).json()
    assert f"{V1}/model/{{model_id}}/position" in spec["paths"]
    assert "swagger" in (await api.get("/docs")).text.lower()
    await api.get(f"{V1}/models")
    metrics = (await api.get("/metrics")).text
    assert 'http_requests_total{method="GET",path="/api/v1/models",status="200"}' in metrics


async def test_cors_allows_any_origin_by_default(api: httpx.AsyncClient) -> None:
    preflight = await api.options(
        f"{V1}/models",
        headers={"Origin": "http://portal.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in {"*", "http://portal.example"}


async def test_unknown_routes_and_methods_use_the_error_shape(api: httpx.AsyncClient) -> None:
    assert_error(await api.get(f"{V1}/nothing"), 404)
    assert_error(await api.patch(f"{V1}/models"), 405)


async def test_a_method_the_path_lacks_gets_405_listing_every_method_it_has(
    api: httpx.AsyncClient,
) -> None:
    # Starlette named only the first matching route's method (OPTIONS /model/{id} → Allow: GET).
    for path, allowed in (
        (f"{V1}/models", "GET, POST"),
        (f"{V1}/model/{SEC[0]}", "DELETE, GET, PUT"),
        (f"{V1}/model/{SEC[0]}/position", "DELETE, POST, PUT"),
        (f"{V1}/rebalance/{SEC[0]}", "DELETE, GET"),
    ):
        for method in ("OPTIONS", "PATCH", "HEAD"):
            response = await api.request(method, path)  # no Origin: not a CORS preflight
            assert response.status_code == 405
            if method != "HEAD":  # a HEAD answer has no body
                assert_error(response, 405)
            assert response.headers["allow"] == allowed
