"""`ogs serve` as operators run it: several workers behind one port with one set of metrics,
one JSON access line per request carrying the correlation id (with the sandbox too), and a
graceful SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.process import running_service, start_service
from tests.integration.test_observability import metric

# Slow (hypothesis, processes, faults under load): `./test.sh -m "not slow"` skips it.
pytestmark = pytest.mark.slow

V1 = "/api/v1"


def sandbox_model(http: httpx.Client, sandbox_url: str, portfolios: int) -> dict[str, Any]:
    """A body for POST /models: four blue chips, ±2 %, over the sandbox's first portfolios."""
    by_ticker = {
        s["ticker"]: s["securityId"] for s in http.get(f"{sandbox_url}/api/v1/securities").json()
    }
    ids = [p["portfolioId"] for p in http.get(f"{sandbox_url}/api/v1/portfolios").json()]
    positions = [
        {"security_id": by_ticker[t], "target": target, "high_drift": 0.02, "low_drift": 0.02}
        for t, target in (("AAPL", 0.25), ("MSFT", 0.25), ("AMZN", 0.2), ("JPM", 0.15))
    ]
    return {"name": "Blue chips", "positions": positions, "portfolios": ids[:portfolios]}


def test_two_workers_serve_one_port_with_one_set_of_metrics(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'ogs.db'}"
    with (
        running_service(
            tmp_path, database_url=database, args=("serve", "--sandbox", "--workers", "2")
        ) as service,
        httpx.Client(base_url=service.url, trust_env=False, timeout=30) as http,
    ):
        created = http.post(f"{V1}/models", json=sandbox_model(http, service.sandbox_url, 3))
        assert created.status_code == 201, created.text
        model_id = created.json()["model_id"]
        pids = set()
        for _ in range(40):  # new connections: the kernel spreads them over the workers
            with httpx.Client(base_url=service.url, trust_env=False) as fresh:
                pids.add(fresh.get("/health").json()["pid"])
                fresh.get(f"{V1}/models")
        assert http.post(f"{V1}/model/{model_id}/rebalance").status_code == 200

        page = http.get("/metrics").text

    assert len(pids) == 2, "both workers should have answered"
    # Every worker's requests are counted once, whichever worker answers the scrape.
    assert (
        metric(page, "http_requests_total", method="GET", path="/api/v1/models", status="200") == 40
    )
    assert metric(page, "http_requests_total", method="GET", path="/health", status="200") == 40
    assert metric(page, "ogs_rebalance_portfolios_total", status="rebalanced") == 3
    assert metric(page, "ogs_rebalance_duration_seconds_count", kind="model") == 1
    assert metric(page, "ogs_globeco_requests_total", service="pricing", outcome="success") == 1


def test_every_request_has_one_access_line_with_its_correlation_id(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'ogs.db'}"
    with (
        running_service(tmp_path, database_url=database) as service,
        httpx.Client(base_url=service.url, trust_env=False, timeout=30) as http,
    ):
        body = sandbox_model(http, service.sandbox_url, 2)
        created = http.post(f"{V1}/models", json=body, headers={"X-Correlation-ID": "walk-1"})
        model_id = created.json()["model_id"]
        rebalanced = http.post(
            f"{V1}/model/{model_id}/rebalance", headers={"X-Correlation-ID": "walk-2"}
        )
        missing = http.get(f"{V1}/model/{'f' * 24}", headers={"X-Correlation-ID": "walk-3"})
        seen = http.get(f"{service.sandbox_url}/sandbox/correlation-ids").json()
        records = service.log_records()

    assert rebalanced.status_code == 200
    assert missing.status_code == 404
    access = [r for r in records if r.get("event") == "http_request"]
    for cid, route, status in (
        ("walk-1", "/api/v1/models", 201),
        ("walk-2", "/api/v1/model/{model_id}/rebalance", 200),
        ("walk-3", "/api/v1/model/{model_id}", 404),
    ):
        lines = [r for r in access if r.get("correlation_id") == cid]
        assert [(r["route"], r["status"]) for r in lines] == [(route, status)], lines
    assert not [r for r in records if r.get("logger") == "uvicorn.access"]
    assert {item["correlation_id"] for item in seen} == {"walk-2"}
    # Every line written while the rebalance was served carries its id.
    during = [r for r in records if r.get("correlation_id") == "walk-2"]
    assert during


def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'ogs.db'}"
    service = start_service(
        tmp_path, database_url=database, env={"OGS_SHUTDOWN_GRACE_SECONDS": "20"}
    )
    try:
        with httpx.Client(base_url=service.url, trust_env=False, timeout=60) as http:
            created = http.post(f"{V1}/models", json=sandbox_model(http, service.sandbox_url, 4))
            model_id = created.json()["model_id"]
            fault = {"service": "accounting", "mode": "slow", "delay_ms": 1500}
            http.post(f"{service.sandbox_url}/sandbox/faults", json=fault).raise_for_status()
            outcome: dict[str, Any] = {}

            def rebalance() -> None:
                with httpx.Client(base_url=service.url, trust_env=False, timeout=60) as own:
                    outcome["response"] = own.post(f"{V1}/model/{model_id}/rebalance")

            worker = threading.Thread(target=rebalance)
            worker.start()
            time.sleep(0.5)  # the rebalance is waiting for the slow accounting service
            service.process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            refused = False
            try:
                httpx.get(f"{service.url}/health/live", timeout=2)
            except httpx.TransportError:
                refused = True
            worker.join(60)
            code = service.process.wait(timeout=30)
    finally:
        service.stop(signal.SIGKILL)

    assert refused, "a new connection was accepted after SIGTERM"
    assert outcome["response"].status_code == 200, outcome["response"].text
    assert len(outcome["response"].json()) == 4
    assert code in (0, -signal.SIGTERM)  # Uvicorn ends by re-raising the signal it handled
