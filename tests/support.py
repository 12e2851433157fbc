"""Helpers shared by the end-to-end and reliability tests: independent expectations computed
with fractions from the sandbox's own data, and small API shortcuts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx

from order_generation.sandbox import SandboxData, SandboxPortfolio
from tests.fixtures.sandbox import (
    EDGE_PORTFOLIO_ID,
    LARGE_PORTFOLIO_ID,
    UNFUNDED_PORTFOLIO_ID,
    Sandbox,
)

V1 = "/api/v1"
ModelSpec = Sequence[tuple[str, str, str, str]]  # security_id, target, low, high


# --- an independent rebalance, for small cash-slack models ----------------------------------


def security_prices(data: SandboxData) -> dict[str, Fraction]:
    close = {p.ticker: Fraction(p.close) for p in data.prices}
    return {s.security_id: close[s.ticker] for s in data.securities if s.ticker in close}


def expected_units(
    portfolio: SandboxPortfolio, model: ModelSpec, prices: Mapping[str, Fraction]
) -> dict[str, int]:
    """Nearest admissible whole units per security (ties → nearer the current holding); valid
    as the optimum only when they fit in the cash, which the test asserts."""
    held = {h.security_id: Fraction(h.quantity) for h in portfolio.holdings}
    cash = Fraction(portfolio.cash or 0)
    mv = cash + sum(q * prices[s] for s, q in held.items())
    rows = [(s, Fraction(t), Fraction(lo), Fraction(hi)) for s, t, lo, hi in model]
    in_model = {s for s, *_ in model}
    rows += [
        (s, Fraction(0), Fraction(0), Fraction(0))
        for s in sorted(held)
        if held[s] and s not in in_model
    ]
    units: dict[str, int] = {}
    for s, t, lo, hi in rows:
        p = prices[s]
        first = max(0, math.ceil(mv * (t - lo) / p))
        last = math.floor(mv * (t + hi) / p)
        assert first <= last, f"test model must be feasible for {s}"
        ideal = mv * t / p
        candidates = {min(max(u, first), last) for u in (math.floor(ideal), math.ceil(ideal))}
        current = held.get(s, Fraction(0))
        units[s] = min(candidates, key=lambda u: (abs(mv * t - u * p), abs(u - current)))
    assert sum(u * prices[s] for s, u in units.items()) <= mv, "cash must not bind here"
    return units


def check_result_against(
    result: Mapping[str, Any],
    portfolio: SandboxPortfolio,
    model: ModelSpec,
    prices: Mapping[str, Fraction],
) -> None:
    units = expected_units(portfolio, model, prices)
    held = {h.security_id: Fraction(h.quantity) for h in portfolio.holdings}
    assert result["status"] == "rebalanced"
    assert result["reason"] is None
    assert [d["security_id"] for d in result["drifts"]] == list(units)
    mv = Fraction(portfolio.cash or 0) + sum(q * prices[s] for s, q in held.items())
    for drift in result["drifts"]:
        s = drift["security_id"]
        assert drift["adjusted_quantity"] == units[s]
        assert Fraction(str(drift["original_quantity"])) == held.get(s, 0)
        weight = Fraction(units[s]) * prices[s] / mv if mv else Fraction(0)
        assert abs(Fraction(str(drift["actual"])) - weight) <= Fraction(1, 20000)
    expected_trades = sorted(
        ("BUY" if u > held.get(s, 0) else "SELL", s, abs(u - held.get(s, 0)))
        for s, u in units.items()
        if u != held.get(s, 0)
    )
    trades = sorted(
        (t["transaction_type"], t["security_id"], t["quantity"]) for t in result["transactions"]
    )
    assert trades == expected_trades
    assert all(
        t["trade_date"] == datetime.now(UTC).date().isoformat() for t in result["transactions"]
    )


# --- helpers ----------------------------------------------------------------------------------


def generated(sandbox: Sandbox) -> list[SandboxPortfolio]:
    special = {EDGE_PORTFOLIO_ID, LARGE_PORTFOLIO_ID, UNFUNDED_PORTFOLIO_ID}
    return [p for p in sandbox.data.portfolios if p.portfolio_id not in special]


def priced_ids(sandbox: Sandbox) -> list[str]:
    return sorted(security_prices(sandbox.data))


def spread_model(
    sandbox: Sandbox, count: int = 5, offset: int = 0
) -> list[tuple[str, str, str, str]]:
    """Equal targets summing to at most 0.75 with ±0.02 bands over priced securities: feasible
    for every generated portfolio and far from binding cash."""
    ids = priced_ids(sandbox)[offset : offset + count]
    target = Decimal("0.75") / count // Decimal("0.005") * Decimal("0.005")
    return [(s, str(target), "0.02", "0.02") for s in ids]


async def create_model(
    api: httpx.AsyncClient, spec: ModelSpec, portfolios: Sequence[str], name: str = "Model"
) -> dict[str, Any]:
    body = {
        "name": name,
        "positions": [
            {"security_id": s, "target": t, "low_drift": lo, "high_drift": hi}
            for s, t, lo, hi in spec
        ],
        "portfolios": list(portfolios),
    }
    response = await api.post(f"{V1}/models", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def stored_runs(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await api.get(f"{V1}/rebalances", params={"limit": 100})
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()
    return runs
