#!/usr/bin/env python3
"""README "A rebalance in one minute" against a running stack (docker compose up): readiness,
create the README's model, rebalance it against the sandbox, read the stored run back.

    python3 scripts/ci/smoke_walkthrough.py [API_URL] [SANDBOX_URL]

Standard library only (runs on any CI host). Exits non-zero with the reason on any mismatch.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

API = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8088"
SANDBOX = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8099"

# The README's model: AAPL 30 %, MSFT 25 %, AMZN 20 %, JPM 15 %, each ±2 %, two portfolios.
MODEL = {
    "name": "Blue chips",
    "positions": [
        {"security_id": sid, "target": target, "high_drift": 0.02, "low_drift": 0.02}
        for sid, target in [
            ("b74b51895dcaf618f555580b", 0.30),
            ("456ece832982c7513aeadbe6", 0.25),
            ("292d413cd48bfcea605c0cf7", 0.20),
            ("9527dd47b66e05a75092dd4e", 0.15),
        ]
    ],
    "portfolios": ["3021d18c1b81958f1539e81f", "00aa90cf75b00b213e40375a"],
}
AAPL = "b74b51895dcaf618f555580b"


def call(method: str, url: str, body: Any = None, expect: int = 200) -> Any:
    parsed = urlsplit(url)
    if parsed.scheme != "http" or not parsed.hostname:
        raise SystemExit(f"FAIL not an http:// URL: {url}")
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=60)
    target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    headers = {"content-type": "application/json", "x-correlation-id": "ci-smoke-walkthrough"}
    data = None if body is None else json.dumps(body).encode()
    try:
        connection.request(method, target, body=data, headers=headers)
        response = connection.getresponse()
        status, text = response.status, response.read().decode()
    finally:
        connection.close()
    if status != expect:
        raise SystemExit(f"FAIL {method} {url}: {status} (expected {expect}): {text[:500]}")
    print(f"  {method} {parsed.netloc}{target} -> {status}")
    return json.loads(text) if text and text.lstrip()[:1] in "[{" else text


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"FAIL {message}")


def main() -> None:
    started = time.monotonic()
    ready = call("GET", f"{API}/health/ready")
    check(ready.get("status") == "ok", f"readiness: {ready}")
    call("GET", f"{API}/health/live")
    portfolios = call("GET", f"{SANDBOX}/api/v1/portfolios")
    ids = {p["portfolioId"] for p in portfolios}
    check(len(portfolios) == 30, f"sandbox serves 30 portfolios, not {len(portfolios)}")
    check(set(MODEL["portfolios"]) <= ids, "the README's portfolio ids are in the sandbox")

    model = call("POST", f"{API}/api/v1/models", MODEL, expect=201)
    model_id = model["model_id"]
    check(model["version"] == 1, f"new model version: {model}")

    results = call("POST", f"{API}/api/v1/model/{model_id}/rebalance")
    check(len(results) == 2, f"two portfolio results: {results}")
    by_id = {r["portfolio_id"]: r for r in results}
    first = by_id["3021d18c1b81958f1539e81f"]
    check(all(r["status"] == "rebalanced" for r in results), f"statuses: {results}")
    check(first["portfolio_name"] == "Portfolio 1", f"name: {first['portfolio_name']}")
    check(len(first["transactions"]) == 23, f"23 trades (README): {len(first['transactions'])}")
    buy = [t for t in first["transactions"] if t["security_id"] == AAPL]
    check(
        buy == [{**buy[0], "transaction_type": "BUY", "quantity": 1676}],
        f"README: BUY 1676 AAPL, got {buy}",
    )
    rebalance_id = first["rebalance_id"]

    runs = call("GET", f"{API}/api/v1/rebalances?sort_by=-rebalance_date")
    check(runs[0]["rebalance_id"] == rebalance_id, f"newest run is ours: {runs[0]}")
    check(runs[0]["model_id"] == model_id, "the run names the model")
    check(runs[0]["number_of_portfolios"] == 2, "two portfolios stored")
    stored = call("GET", f"{API}/api/v1/rebalance/{rebalance_id}/portfolios")
    check({p["portfolio_id"] for p in stored} == set(MODEL["portfolios"]), "stored portfolios")
    positions = call(
        "GET",
        f"{API}/api/v1/rebalance/{rebalance_id}/portfolio/3021d18c1b81958f1539e81f/positions",
    )
    aapl = [p for p in positions if p["security_id"] == AAPL]
    check(bool(aapl) and aapl[0]["adjusted_quantity"] == 1676, f"stored AAPL position: {aapl}")

    metrics = call("GET", f"{API}/metrics")
    check("http_requests_total" in metrics, "GET /metrics exports http_requests_total")
    elapsed = time.monotonic() - started
    print(f"walkthrough OK in {elapsed:.1f} s (model {model_id}, run {rebalance_id})")


if __name__ == "__main__":
    main()
