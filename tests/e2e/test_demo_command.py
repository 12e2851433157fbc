"""The README's run command: `ogs serve --sandbox` in its own process, driven over HTTP the way
the README walkthrough does it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.process import running_service

# Slow (hypothesis, processes, faults under load): `./test.sh -m "not slow"` skips it.
pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    with running_service(tmp_path, database_url=url, env={"OGS_LOG_LEVEL": "WARNING"}) as service:
        yield service.url, service.sandbox_url


def test_the_demo_rebalances_a_sandbox_model(demo: tuple[str, str]) -> None:
    api, sandbox = demo
    with httpx.Client(timeout=30, trust_env=False) as http:
        securities = http.get(f"{sandbox}/api/v1/securities").json()
        by_ticker = {s["ticker"]: s["securityId"] for s in securities}
        portfolios = [p["portfolioId"] for p in http.get(f"{sandbox}/api/v1/portfolios").json()[:3]]
        positions = [
            {"security_id": by_ticker[t], "target": target, "high_drift": 0.02, "low_drift": 0.02}
            for t, target in (("AAPL", 0.25), ("MSFT", 0.25), ("AMZN", 0.2), ("JPM", 0.15))
        ]
        created = http.post(
            f"{api}/api/v1/models",
            json={"name": "Blue chips", "positions": positions, "portfolios": portfolios},
        )
        assert created.status_code == 201, created.text
        model_id = created.json()["model_id"]

        results = http.post(f"{api}/api/v1/model/{model_id}/rebalance")
        assert results.status_code == 200, results.text
        assert [r["portfolio_id"] for r in results.json()] == portfolios
        assert all(r["status"] == "rebalanced" and r["transactions"] for r in results.json())

        run_id = results.json()[0]["rebalance_id"]
        stored = http.get(f"{api}/api/v1/rebalances", params={"sort_by": "-rebalance_date"}).json()
        assert [r["rebalance_id"] for r in stored] == [run_id]
        positions_url = f"{api}/api/v1/rebalance/{run_id}/portfolio/{portfolios[0]}/positions"
        assert http.get(positions_url).status_code == 200
        assert http.get(f"{api}/api/v1/model/{model_id}").json()["last_rebalance_date"]
