"""No options, no change (issue 12): the rebalance endpoints without a body answer exactly what
they answered before trading options existed, byte for byte.

``expected/no_options.json`` was recorded by this test against the code before options (commit
8b133dd, ``OGS_RECORD_EXPECTATIONS=1``) on SQLite, with ids and dates normalised; the test only
uses what both versions have. A model run over every kind of portfolio (rebalanced, infeasible,
failed), a run where cash binds (the MILP), a single rebalance, and the stored run read back.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.sandbox import EDGE_PORTFOLIO_ID, UNFUNDED_PORTFOLIO_ID, Sandbox
from tests.support import V1, create_model, generated, priced_ids, spread_model

EXPECTED = Path(__file__).parent / "expected" / "no_options.json"
_ID = re.compile(rb'"(rebalance_id|model_id)":"[0-9a-f]{24}"')
_DATE = re.compile(rb'"(trade_date|rebalance_date|created_at)":"[^"]*"')


def normalised(body: bytes) -> str:
    """The answer's bytes with what differs from run to run (ids, dates) replaced."""
    body = _ID.sub(rb'"\1":"<id>"', body)
    return _DATE.sub(rb'"\1":"<date>"', body).decode()


async def answers(api: httpx.AsyncClient, sandbox: Sandbox) -> dict[str, str]:
    portfolios = [p.portfolio_id for p in generated(sandbox)]
    spread = await create_model(
        api, spread_model(sandbox), [*portfolios[:4], EDGE_PORTFOLIO_ID, UNFUNDED_PORTFOLIO_ID]
    )
    # Targets adding up to 0.95 with bands down to 0: the nearest units overspend, cash binds.
    crowded = [(s, "0.19", "0.19", "0.05") for s in priced_ids(sandbox)[5:10]]
    binding = await create_model(api, crowded, portfolios[4:6], name="Crowded")
    recorded: dict[str, str] = {}
    model_run = await api.post(f"{V1}/model/{spread['model_id']}/rebalance")
    recorded["model_run"] = normalised(model_run.content)
    cash_binding = await api.post(f"{V1}/model/{binding['model_id']}/rebalance")
    recorded["cash_binding_run"] = normalised(cash_binding.content)
    single = await api.post(f"{V1}/portfolio/{portfolios[6]}/rebalance")
    recorded["single_unmodelled"] = f"{single.status_code} {normalised(single.content)}"
    single = await api.post(f"{V1}/portfolio/{portfolios[0]}/rebalance")
    recorded["single"] = normalised(single.content)
    stored = await api.get(f"{V1}/rebalance/{model_run.json()[0]['rebalance_id']}")
    recorded["stored_run"] = normalised(stored.content)
    return recorded


async def test_no_body_answers_what_it_answered_before_options(
    sandbox_api: httpx.AsyncClient, sandbox: Sandbox, backend: str
) -> None:
    recorded = await answers(sandbox_api, sandbox)
    if os.environ.get("OGS_RECORD_EXPECTATIONS") == "1" and backend == "sqlite":
        EXPECTED.write_text(json.dumps(recorded, indent=1) + "\n", encoding="utf-8")
    expected: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert recorded.keys() == expected.keys()
    for name, text in expected.items():
        assert recorded[name] == text, name
