"""Trading options (SPEC §8, issue 12) through the API, on both databases, against the sandbox.

Every answer is checked against the rules literally by the independent oracle of
``tests/unit/test_optimizer_options_oracle`` (fractions; shares no code with the optimizer),
stored runs carry the options and replay offline with ``ogs solve`` to the same units, and bad
options are refused with 400 naming the field, storing nothing.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from order_generation.domain.optimizer import RebalanceProblem, SecurityTarget
from order_generation.solve_command import run_solve
from tests.fixtures.sandbox import Sandbox
from tests.support import V1, create_model, generated, priced_ids, spread_model, stored_runs
from tests.unit.test_optimizer_options_oracle import Options, allowed, budget, feasible

# --- checking an answer against SPEC §8 literally -----------------------------------------------


def oracle_options(options: dict[str, Any], relaxed_by: float | None = None) -> Options:
    """The applied options of an answer as the oracle's."""
    return Options(
        cash_flow=Fraction(str(options["cash_flow"])),
        cash_reserve=Fraction(str(options["cash_reserve"])),
        mode=options["mode"],
        restrictions=options["restrictions"],
        min_trade_value=Fraction(str(options["min_trade_value"])),
        min_trade_quantity=options["min_trade_quantity"],
        lot_sizes=options["lot_sizes"],
        default_lot_size=options["default_lot_size"],
        bands=options["bands"],
        widen=Fraction(str(relaxed_by or 0)),
    )


def problem_of(
    sandbox: Sandbox, portfolio_id: str, drifts: list[dict[str, Any]]
) -> RebalanceProblem:
    """The portfolio's problem from the sandbox's own data and the answer's universe."""
    (portfolio,) = (p for p in sandbox.data.portfolios if p.portfolio_id == portfolio_id)
    held = {h.security_id: h.quantity for h in portfolio.holdings}
    close = {p.ticker: p.close for p in sandbox.data.prices}
    price = {s.security_id: close[s.ticker] for s in sandbox.data.securities if s.ticker in close}
    return RebalanceProblem(
        cash=portfolio.cash or Decimal(0),
        securities=tuple(
            SecurityTarget(
                d["security_id"],
                price[d["security_id"]],
                held.get(d["security_id"], Decimal(0)),
                Decimal(str(d["target"])),
                Decimal(str(d["low_drift"])),
                Decimal(str(d["high_drift"])),
            )
            for d in drifts
        ),
    )


def check_answer(sandbox: Sandbox, result: dict[str, Any], sent: dict[str, Any]) -> None:
    """A rebalanced answer breaks no rule of its options; every answer echoes them."""
    applied = result["options"]
    for name, value in sent.items():
        assert applied[name] == value, name
    assert all(isinstance(d["in_band"], bool) for d in result["drifts"])
    if result["status"] != "rebalanced":
        assert result["reason"]
        assert result["transactions"] == []
        return
    problem = problem_of(sandbox, result["portfolio_id"], result["drifts"])
    options = oracle_options(applied, result["relaxed_by"])
    spend = Fraction(0)
    for security, drift in zip(problem.securities, result["drifts"], strict=True):
        units = Fraction(str(drift["adjusted_quantity"]))
        assert allowed(problem, security, units, options), (security, units, applied)
        spend += units * Fraction(security.price)
    assert spend <= budget(problem, options)


# --- tests ------------------------------------------------------------------------------------


async def setup_model(api: httpx.AsyncClient, sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    portfolios = [p.portfolio_id for p in generated(sandbox)[:4]]
    return await create_model(api, spread_model(sandbox), portfolios, **extra)


def first_security(sandbox: Sandbox) -> str:
    return spread_model(sandbox)[0][0]


OPTION_CASES: list[dict[str, Any]] = [
    # The portfolios hold only securities outside the model: buying the model's 75 % without
    # selling them needs a deposit of three times the portfolio, so this names what blocks it.
    {"cash_flow": 5000, "mode": "buy_only"},
    {"cash_flow": -2500, "mode": "sell_only"},
    {"cash_reserve": 0.2},
    {"min_trade_value": 2000},
    {"min_trade_quantity": 50},
    {"default_lot_size": 10},
    {"bands": "soft", "cash_flow": 100},
    {"mode": "full"},
]


@pytest.mark.parametrize("sent", OPTION_CASES, ids=lambda o: ",".join(o))
async def test_each_option_through_both_endpoints(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox, sent: dict[str, Any]
) -> None:
    model = await setup_model(sandbox_api, sandbox)
    response = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance", json=sent)
    assert response.status_code == 200, response.text
    results = response.json()
    assert len(results) == 4
    for result in results:
        check_answer(sandbox, result, sent)
    if sent.get("mode") == "buy_only":
        assert all("under mode buy_only" in r["reason"] for r in results)
    else:
        assert all(r["status"] == "rebalanced" for r in results)
    single = await sandbox_api.post(
        f"{V1}/portfolio/{results[0]['portfolio_id']}/rebalance", json=sent
    )
    if results[0]["status"] == "rebalanced":
        assert single.status_code == 200, single.text
        check_answer(sandbox, single.json(), sent)
        assert single.json()["drifts"] == results[0]["drifts"]
    else:
        assert single.status_code == 422, single.text


async def test_restrictions_and_lots_name_securities(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    await setup_model(sandbox_api, sandbox)
    portfolio = generated(sandbox)[0]
    outside = next(h.security_id for h in portfolio.holdings if h.quantity > 0)
    inside = first_security(sandbox)
    sent = {"restrictions": {outside: "locked", inside: "no_buy"}, "lot_sizes": {inside: 7}}
    response = await sandbox_api.post(
        f"{V1}/portfolio/{portfolio.portfolio_id}/rebalance", json=sent
    )
    assert response.status_code == 200, response.text
    result = response.json()
    check_answer(sandbox, result, sent)
    traded = {t["security_id"] for t in result["transactions"]}
    assert outside not in traded  # locked
    assert all(
        t["transaction_type"] == "SELL"
        for t in result["transactions"]
        if t["security_id"] == inside
    )


async def test_model_defaults_are_overridden_per_request_and_per_portfolio(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    model = await setup_model(sandbox_api, sandbox)
    defaults = {"mode": "sell_only", "cash_reserve": 0.01, "min_trade_value": 10}
    body = {**without(model, "model_id"), "rebalance_options": defaults}
    put = await sandbox_api.put(f"{V1}/model/{model['model_id']}", json=body)
    assert put.status_code == 200, put.text
    assert put.json()["rebalance_options"] == defaults
    assert put.json()["version"] == model["version"] + 1
    first, second, *_ = model["portfolios"]
    layers = {second: {"mode": "sell_only", "cash_flow": 0}}
    sent = {"mode": "full", "cash_flow": 1000, "portfolio_options": layers}
    response = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance", json=sent)
    assert response.status_code == 200, response.text
    by_id = {r["portfolio_id"]: r for r in response.json()}
    assert by_id[first]["options"]["mode"] == "full"  # the request over the model
    assert by_id[second]["options"]["mode"] == "sell_only"  # the portfolio over the request
    assert by_id[second]["options"]["cash_flow"] == 0
    for portfolio_id, result in by_id.items():
        assert result["options"]["cash_reserve"] == 0.01  # the model's, not overridden
        assert result["options"]["min_trade_value"] == 10
        if portfolio_id != second:
            assert result["options"]["cash_flow"] == 1000
        check_answer(sandbox, result, {})
    # Without a body the model's defaults apply on their own.
    plain = (await sandbox_api.post(f"{V1}/portfolio/{first}/rebalance")).json()
    assert plain["options"]["mode"] == "sell_only"
    assert all(t["transaction_type"] == "SELL" for t in plain["transactions"])
    # Absent from a PUT: kept; null: cleared.
    current = (await sandbox_api.get(f"{V1}/model/{model['model_id']}")).json()
    kept = await sandbox_api.put(
        f"{V1}/model/{model['model_id']}", json=without(current, "model_id", "rebalance_options")
    )
    assert kept.json()["rebalance_options"] == defaults
    refused = await sandbox_api.put(
        f"{V1}/model/{model['model_id']}",
        json={**without(kept.json(), "model_id"), "rebalance_options": {"dry_run": True}},
    )
    assert refused.status_code == 400, refused.text  # not a model default: not in its schema
    assert refused.json()["errors"][0]["field"] == "rebalance_options.dry_run"
    cleared = await sandbox_api.put(
        f"{V1}/model/{model['model_id']}",
        json={**without(kept.json(), "model_id"), "rebalance_options": None},
    )
    assert cleared.json()["rebalance_options"] is None
    again = (await sandbox_api.post(f"{V1}/portfolio/{first}/rebalance")).json()
    assert "options" not in again  # no options anywhere: today's answer


async def test_stored_runs_carry_the_options_and_replay_offline_to_the_same_units(
    sandbox_api: httpx.AsyncClient,
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = await setup_model(sandbox_api, sandbox)
    sent = {
        "cash_flow": -1500,
        "min_trade_quantity": 5,
        "default_lot_size": 5,
        "cash_reserve": 0.02,
    }
    response = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance", json=sent)
    assert response.status_code == 200, response.text
    run = (await sandbox_api.get(f"{V1}/rebalance/{response.json()[0]['rebalance_id']}")).json()
    problems = []
    for stored in run["portfolios"]:
        assert stored["options"] == response.json()[0]["options"]
        assert "relaxed_by" in stored
        assert all(isinstance(p["in_band"], bool) for p in stored["positions"])
        problems.append(
            {
                "id": stored["portfolio_id"],
                "cash": stored["cash_before_rebalance"],
                "positions": [
                    {k: p[k] for k in ("security_id", "price", "target", "low_drift", "high_drift")}
                    | {"quantity": p["original_quantity"]}
                    for p in stored["positions"]
                ],
                "options": stored["options"],
            }
        )
    path = tmp_path / "replay.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in problems), encoding="utf-8")
    assert run_solve(str(path)) == 0
    out = capsys.readouterr().out.splitlines()  # the app logs on stdout too
    replayed = [json.loads(line) for line in out if line.startswith("{")]
    for stored, answer in zip(run["portfolios"], replayed, strict=True):
        if stored["status"] == "rebalanced":
            assert answer["status"] == "optimal"
            assert answer["quantities"] == {
                p["security_id"]: p["adjusted_quantity"] for p in stored["positions"]
            }
            assert Decimal(answer["market_value"]) == Decimal(str(stored["market_value"]))
        else:
            assert answer["status"] == "infeasible"


async def test_dry_run_answers_and_stores_nothing(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    model = await setup_model(sandbox_api, sandbox)
    response = await sandbox_api.post(
        f"{V1}/model/{model['model_id']}/rebalance", json={"dry_run": True, "cash_flow": 10}
    )
    assert response.status_code == 200, response.text
    assert {r["rebalance_id"] for r in response.json()} == {None}
    single = await sandbox_api.post(
        f"{V1}/portfolio/{model['portfolios'][0]}/rebalance", json={"dry_run": True}
    )
    assert single.status_code == 200, single.text
    assert single.json()["rebalance_id"] is None
    assert await stored_runs(sandbox_api) == []
    after = (await sandbox_api.get(f"{V1}/model/{model['model_id']}")).json()
    assert after == model | {"rebalance_options": None}  # not marked rebalanced


async def test_out_of_band_trigger_leaves_in_band_portfolios_alone(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    # Bands from 0 to 100 % of the value: every holding of a model security is inside its band;
    # securities outside the model (target 0, band [0, 0]) are not.
    wide = [(s, "0.01", "0.01", "0.99") for s in priced_ids(sandbox)]
    held = {h.security_id for p in generated(sandbox) for h in p.holdings}
    portfolios = [p.portfolio_id for p in generated(sandbox)[:4]]
    model = await create_model(sandbox_api, [w for w in wide if w[0] in held][:100], portfolios)
    body = {"trigger": "out_of_band"}
    response = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance", json=body)
    assert response.status_code == 200, response.text
    statuses = {r["status"] for r in response.json()}
    assert "in_band" in statuses
    for result in response.json():
        if result["status"] == "in_band":
            assert result["transactions"] == []
            assert "inside its band" in result["reason"]
            assert all(d["in_band"] for d in result["drifts"])


async def test_relax_widens_the_bands_just_enough(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    # A band of exactly 0 around a target no whole unit meets: infeasible unless widened.
    tight = [(s, "0.105", "0", "0") for s in priced_ids(sandbox)[:3]]
    portfolios = [p.portfolio_id for p in generated(sandbox)[:2]]
    model = await create_model(sandbox_api, tight, portfolios)
    report = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance")
    assert {r["status"] for r in report.json()} == {"infeasible"}
    sent = {"on_infeasible": "relax"}
    response = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance", json=sent)
    assert response.status_code == 200, response.text
    for result in response.json():
        assert result["status"] == "rebalanced"
        assert 0 < result["relaxed_by"] < 0.01
        assert "widened by" in result["reason"]
        check_answer(sandbox, result, sent)
        # One grid step less would not do: the oracle finds no holding at relaxed_by − 0.0001.
        problem = problem_of(sandbox, result["portfolio_id"], result["drifts"])
        narrower = oracle_options(result["options"], result["relaxed_by"] - 0.0001)
        assert not feasible(problem, narrower)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cash_reserve": 1}, "cash_reserve"),
        ({"cash_reserv": 0.1}, "cash_reserv"),
        ({"default_lot_size": -1}, "default_lot_size"),
        ({"lot_sizes": {"x": 0}}, "lot_sizes.x"),
        ({"mode": "sideways"}, "mode"),
        ({"cash_flow": 1.5e300}, "cash_flow"),
        ({"min_trade_value": "-0.5"}, "min_trade_value"),
        ({"dry_run": "yes"}, "dry_run"),
        ({"restrictions": {"0" * 24: "locked"}}, "request.restrictions." + "0" * 24),
        ({"portfolio_options": {"0" * 24: {}}}, "portfolio_options." + "0" * 24),
    ],
)
async def test_bad_options_are_refused_naming_the_field(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox, body: dict[str, Any], field: str
) -> None:
    model = await setup_model(sandbox_api, sandbox)
    response = await sandbox_api.post(f"{V1}/model/{model['model_id']}/rebalance", json=body)
    assert response.status_code == 400, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    assert await stored_runs(sandbox_api) == []
    assert (await sandbox_api.get(f"{V1}/model/{model['model_id']}")).json()["version"] == 1


async def test_a_job_takes_the_options_and_refuses_a_dry_run(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    model = await setup_model(sandbox_api, sandbox)
    url = f"{V1}/model/{model['model_id']}/rebalance"
    refused = await sandbox_api.post(url, params={"mode": "async"}, json={"dry_run": True})
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "INVALID_OPTION"
    sent = {"mode": "buy_only", "cash_flow": 2000}
    started = await sandbox_api.post(url, params={"mode": "async"}, json=sent)
    assert started.status_code == 202, started.text
    job = started.json()
    for _ in range(200):
        job = (await sandbox_api.get(f"{V1}/jobs/{job['job_id']}")).json()
        if job["status"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.05)
    assert job["status"] == "succeeded", job
    run = (await sandbox_api.get(f"{V1}/rebalance/{job['rebalance_id']}")).json()
    for stored in run["portfolios"]:
        assert stored["options"]["mode"] == "buy_only"
        assert stored["options"]["cash_flow"] == 2000
        sells = [p for p in stored["positions"] if p["transaction_type"] == "SELL"]
        assert sells == []


def without(document: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in names}
