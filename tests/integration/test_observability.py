"""What an operator sees and relies on (SPEC §10): correlation ids, metrics, health details,
response headers, trusted hosts and back-pressure — the app in-process, against the sandbox."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from order_generation.api.app import create_app
from tests.fixtures.sandbox import Sandbox
from tests.support import V1, create_model, generated, spread_model


async def app_client(
    sandbox: Sandbox, database_url: str, **settings: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sandbox.settings(database_url=database_url, log_format="console", **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ogs.test") as client:
            yield client


@pytest.fixture
async def limited_api(database_url: str, sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async for client in app_client(sandbox, database_url, max_inflight_rebalances=2):
        yield client


@pytest.fixture
async def guarded_api(database_url: str, sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async for client in app_client(
        sandbox, database_url, trusted_hosts=["ogs.test", "*.globeco.example"]
    ):
        yield client


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample on a Prometheus page (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        base, _, rest = sample.partition("{")
        if base == name and ",".join(sorted(rest.rstrip("}").split(","))) == wanted:
            return float(value)
    return 0.0


# --- correlation ------------------------------------------------------------------------------


async def test_the_correlation_id_comes_back_and_reaches_every_globeco_call(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolios = [p.portfolio_id for p in generated(sandbox)[:3]]
    model = await create_model(sandbox_api, spread_model(sandbox), portfolios)

    response = await sandbox_api.post(
        f"{V1}/model/{model['model_id']}/rebalance", headers={"X-Correlation-ID": "portal-42"}
    )

    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == "portal-42"
    seen = sandbox.correlation_ids()
    assert {request for request, _ in seen} >= {
        "GET /api/v1/prices",
        "GET /api/v1/securities",
        "GET /api/v1/portfolios/{portfolioId}/summary",
        "GET /api/v1/portfolios",
    }
    assert {cid for _, cid in seen} == {"portal-42"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"X-Request-ID": "req-7"}, "req-7"),
        ({"X-Correlation-ID": "a b"}, None),  # not a plain token: replaced
        ({"X-Correlation-ID": "x" * 200}, None),
    ],
)
async def test_a_correlation_id_is_taken_or_made(
    api: httpx.AsyncClient, headers: dict[str, str], expected: str | None
) -> None:
    response = await api.get(f"{V1}/models", headers=headers)
    returned = response.headers["x-correlation-id"]
    if expected is None:
        assert re.fullmatch(r"[0-9a-f]{32}", returned)
    else:
        assert returned == expected


# --- metrics --------------------------------------------------------------------------------


async def test_the_spec_metrics_exist_and_move_with_a_rebalance(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolios = [p.portfolio_id for p in generated(sandbox)[:3]]
    model = await create_model(sandbox_api, spread_model(sandbox), portfolios)
    route = "/api/v1/model/{model_id}/rebalance"
    before = (await sandbox_api.get("/metrics")).text

    assert (await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")).status_code == 200
    after = (await sandbox_api.get("/metrics")).text

    def moved(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert moved("http_requests_total", method="POST", path=route, status="200") == 1
    assert moved("http_request_duration_seconds_count", method="POST", path=route) == 1
    assert "http_requests_in_flight" in after
    assert moved("ogs_rebalance_portfolios_total", status="rebalanced") == 3
    assert moved("ogs_rebalance_duration_seconds_count", kind="model") == 1
    assert (
        sum(
            moved("ogs_optimizer_solve_seconds_count", method=m)
            for m in ("separable", "bounds", "milp")
        )
        == 3
    )
    assert moved("ogs_globeco_requests_total", service="pricing", outcome="success") == 1
    assert (
        moved("ogs_globeco_requests_total", service="portfolio accounting", outcome="success") == 3
    )
    assert moved("ogs_globeco_request_duration_seconds_count", service="pricing") == 1
    assert metric(after, "ogs_circuit_state", service="pricing") == 0
    assert "ogs_db_pool_connections_in_use" in after
    assert "ogs_db_pool_connections_open" in after
    # Labels are route templates, never raw ids.
    assert model["model_id"] not in after


async def test_health_details_show_the_database_and_each_circuit(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolios = [p.portfolio_id for p in generated(sandbox)[:1]]
    await create_model(sandbox_api, spread_model(sandbox), portfolios)
    await sandbox_api.post(f"{V1}/portfolio/{portfolios[0]}/rebalance")

    details = (await sandbox_api.get("/health")).json()

    assert details["status"] == "ok"
    assert details["database"]["status"] == "ok"
    assert details["version"]
    pricing = details["globeco_services"]["pricing"]
    assert pricing["circuit"] == "closed"
    assert pricing["last_call"]["outcome"] == "success"
    assert details["globeco_services"]["order"]["last_call"] is None


# --- headers and hosts ------------------------------------------------------------------------


async def test_security_headers_and_no_caching_of_api_answers(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/models")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "server" not in response.headers
    assert "cache-control" not in (await api.get("/health/live")).headers


async def test_no_redirect_echoes_the_host_header(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/models/", headers={"Host": "evil.example"})
    assert response.status_code == 404
    assert "location" not in response.headers


async def test_only_trusted_hosts_are_answered(guarded_api: httpx.AsyncClient) -> None:
    assert (await guarded_api.get(f"{V1}/models")).status_code == 200
    ok = await guarded_api.get(f"{V1}/models", headers={"Host": "ogs.globeco.example:8088"})
    assert ok.status_code == 200
    refused = await guarded_api.get(f"{V1}/models", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "INVALID_HOST"
    # Kubelet probes and Prometheus scrapes name the pod by its IP.
    for path in ("/health/live", "/health/ready", "/metrics"):
        probe = await guarded_api.get(path, headers={"Host": "10.1.2.3:8088"})
        assert probe.status_code == 200, path


# --- back-pressure ----------------------------------------------------------------------------


async def test_a_burst_beyond_the_limit_is_refused_at_once(
    limited_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    portfolios = [p.portfolio_id for p in generated(sandbox)[:6]]
    await create_model(limited_api, spread_model(sandbox), portfolios)
    sandbox.fault("accounting", "slow", delay_ms=800)  # keeps the admitted two busy
    finished: list[int] = []

    async def rebalance(portfolio_id: str) -> httpx.Response:
        response = await limited_api.post(f"{V1}/portfolio/{portfolio_id}/rebalance")
        finished.append(response.status_code)
        return response

    responses = await asyncio.gather(*(rebalance(portfolios[i % 6]) for i in range(20)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 2 + [503] * 18, statuses
    refused = [r for r in responses if r.status_code == 503]
    assert {r.json()["code"] for r in refused} == {"OVERLOADED"}
    assert all(r.headers["retry-after"] == "1" for r in refused)
    # Refused at once: every refusal came back before either admitted request finished.
    assert finished[:18] == [503] * 18
    metrics = (await limited_api.get("/metrics")).text
    assert metric(metrics, "ogs_overloaded_requests_total") >= 18
