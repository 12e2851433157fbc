"""OpenTelemetry over the wire: one model rebalance, exported over OTLP/HTTP to a test receiver,
arrives as one trace — the request, its phases, and the GlobeCo calls as its descendants,
tagged with the request's correlation id."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from order_generation.api.app import create_app
from tests.fixtures.otlp import OtlpReceiver, ReceivedSpan
from tests.fixtures.sandbox import Sandbox
from tests.support import V1, create_model, generated, spread_model

SERVER = 2  # SpanKind.SERVER in OTLP
CLIENT = 3


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    running = OtlpReceiver().start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "ogs-under-test")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.namespace=globeco")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")
    try:
        yield running
    finally:
        running.close()


def ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[str]:
    names = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        names.append(span.name)
    return names


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_model_rebalance_is_one_trace_with_its_globeco_calls(
    receiver: OtlpReceiver, database_url: str, sandbox: Sandbox
) -> None:
    app = create_app(sandbox.settings(database_url=database_url, log_format="console"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ogs.test") as api:
            portfolios = [p.portfolio_id for p in generated(sandbox)[:2]]
            model = await create_model(api, spread_model(sandbox), portfolios)
            response = await api.post(
                f"{V1}/model/{model['model_id']}/rebalance",
                headers={"X-Correlation-ID": "trace-me"},
            )
            assert response.status_code == 200
    # Leaving the lifespan shut telemetry down, which flushed every span and metric, and undid
    # the instrumentation's process-wide wrapping (the next app must not inherit it).
    from sqlalchemy.engine import Engine

    assert not hasattr(Engine.connect, "__wrapped__")

    (server,) = [
        s
        for s in receiver.spans
        if s.kind == SERVER and s.attributes.get("globeco.correlation_id") == "trace-me"
    ]
    assert server.name == "POST /api/v1/model/{model_id}/rebalance"
    assert server.resource["service.name"] == "ogs-under-test"
    assert server.resource["service.namespace"] == "globeco"
    trace = [s for s in receiver.spans if s.trace_id == server.trace_id]
    by_id = {s.span_id: s for s in trace}
    names = [s.name for s in trace]
    for phase in ("rebalance.model", "rebalance.fetch_prices", "rebalance.store"):
        assert names.count(phase) == 1, names
    for phase in ("rebalance.fetch_holdings", "rebalance.solve"):
        assert names.count(phase) == len(portfolios), names
    calls = [s for s in trace if s.kind == CLIENT]
    urls = {str(s.attributes.get("url.full") or s.attributes.get("http.url")) for s in calls}
    assert any(u.endswith("/api/v1/prices") for u in urls), urls
    assert any(u.endswith("/api/v1/securities") for u in urls), urls
    assert sum(u.endswith("/summary") for u in urls) == len(portfolios), urls
    for call in calls:  # every GlobeCo call descends from the request
        assert server.name in ancestors(call, by_id)
    holdings = [s for s in calls if str(s.attributes.get("url.full", "")).endswith("/summary")]
    assert all("rebalance.fetch_holdings" in ancestors(s, by_id) for s in holdings)
    assert any(s.attributes.get("db.system") or "db.statement" in s.attributes for s in trace)
    assert receiver.metric_names, "no OpenTelemetry metric arrived"
