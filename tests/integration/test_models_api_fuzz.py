"""Malformed ids, bodies and query strings: only 4xx, never 500, and nothing stored changes.

Hypothesis drives a synchronous TestClient (the app runs on its own event loop thread), so every
generated request goes through the whole stack down to the real database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from order_generation.api.app import create_app
from tests.fixtures.api import settings_for

SEC = [f"{i:024x}" for i in range(1, 10)]
PF = [f"{i:024x}" for i in range(1000, 1010)]
V1 = "/api/v1"

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        ["NaN", "Infinity", "-Infinity", "1e999999", "-0", "0.0050", "1" * 400, "0x10", "", " "]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
odd_ids = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["0" * 23, "g" * 24, "0" * 25, "%00", "..", "null", "-1", "1e5", "a" * 10_000]),
)

# Slow (hypothesis, processes, faults under load): `./test.sh -m "not slow"` skips it.
pytestmark = pytest.mark.slow


def valid_position(i: int = 0) -> dict[str, Any]:
    return {"security_id": SEC[i], "target": "0.05", "high_drift": "0.01", "low_drift": "0.01"}


def valid_bodies() -> dict[str, dict[str, Any]]:
    return {
        "model": {"name": "Fuzzed", "positions": [valid_position()], "portfolios": [PF[5]]},
        "update": {
            "name": "Fuzzed",
            "positions": [valid_position()],
            "portfolios": [],
            "version": 1,
        },
        "position": valid_position(1),
        "portfolios": {"portfolios": [PF[6]]},
    }


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> Any:
    """A valid body with one field removed, replaced by junk, or nested junk inserted."""
    body = valid_bodies()[kind]
    key = draw(st.sampled_from(sorted(body)))
    action = draw(st.sampled_from(["drop", "replace", "nested"]))
    if action == "drop":
        body.pop(key)
    elif action == "replace":
        body[key] = draw(json_values)
    elif isinstance(body[key], list) and body[key] and isinstance(body[key][0], dict):
        inner = dict(body[key][0])
        inner[draw(st.sampled_from(sorted(inner)))] = draw(json_values)
        body[key] = [inner]
    else:
        body[key] = [draw(json_values)]
    return body


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(database_url))) as test_client:
        seeded = test_client.post(
            f"{V1}/models",
            json={"name": "Seed", "positions": [valid_position(2)], "portfolios": [PF[0]]},
        )
        assert seeded.status_code == 201
        yield test_client


def snapshot(client: TestClient) -> Any:
    response = client.get(f"{V1}/models")
    assert response.status_code == 200
    return response.json()


def seeded_id(client: TestClient) -> str:
    model_id: str = snapshot(client)[0]["model_id"]
    return model_id


def check(client: TestClient, method: str, url: str, **kwargs: Any) -> None:
    before = snapshot(client)
    response = client.request(method, url, **kwargs)
    assert response.status_code < 500, (method, url, kwargs, response.text)
    body = response.json() if response.content else None
    if response.status_code >= 400:
        assert body is not None
        assert set(body) == {"detail", "code", "errors"}, body
        assert "Traceback" not in response.text
        assert snapshot(client) == before, "a refused request changed stored models"


@FUZZ
@given(model_id=odd_ids, method=st.sampled_from(["GET", "PUT", "DELETE"]))
def test_malformed_model_ids(client: TestClient, model_id: str, method: str) -> None:
    body = valid_bodies()["update"] if method == "PUT" else None
    check(client, method, f"{V1}/model/{quote(model_id, safe='')}?version=1", json=body)


@FUZZ
@given(
    suffix=st.sampled_from(["position", "portfolio"]),
    method=st.sampled_from(["POST", "PUT", "DELETE"]),
    model_id=odd_ids,
)
def test_malformed_ids_on_sub_resources(
    client: TestClient, suffix: str, method: str, model_id: str
) -> None:
    body = valid_bodies()["position" if suffix == "position" else "portfolios"]
    check(client, method, f"{V1}/model/{quote(model_id, safe='')}/{suffix}", json=body)


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["offset", "limit", "sort_by", "version"]),
        st.one_of(st.text(max_size=20), st.integers().map(str), st.just("9" * 5000)),
        max_size=3,
    )
)
def test_malformed_query_strings(client: TestClient, params: dict[str, str]) -> None:
    check(client, "GET", f"{V1}/models", params=params)
    check(client, "DELETE", f"{V1}/model/{seeded_id(client)}", params=params)


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["model", "update", "position", "portfolios"]))
def test_malformed_bodies(client: TestClient, data: st.DataObject, kind: str) -> None:
    body = data.draw(st.one_of(mutated(kind), json_values))
    model_url = f"{V1}/model/{seeded_id(client)}"
    target = {
        "model": ("POST", f"{V1}/models"),
        "update": ("PUT", model_url),
        "position": (
            data.draw(st.sampled_from(["POST", "PUT", "DELETE"])),
            f"{model_url}/position",
        ),
        "portfolios": (data.draw(st.sampled_from(["POST", "DELETE"])), f"{model_url}/portfolio"),
    }[kind]
    check(client, *target, json=body)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_bytes_that_are_not_json(client: TestClient, raw: bytes) -> None:
    check(
        client,
        "POST",
        f"{V1}/models",
        content=raw,
        headers={"content-type": "application/json"},
    )


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b"null",
        b'"name"',
        json.dumps({"name": "x", "positions": [{"security_id": SEC[0], "target": 1e309}]}).encode(),
        b'{"name": "x", "positions": [{"security_id": "' + SEC[0].encode() + b'", "target": 1e400,'
        b' "high_drift": 0, "low_drift": 0}]}',
        b'{"name": "x", "positions": [{"security_id": "'
        + SEC[0].encode()
        + b'", "target": "1e-999999",'
        b' "high_drift": 0, "low_drift": 0}]}',
        b'{"name": "\xff\xfe"}',
        b'{"name": "x", "portfolios": "' + PF[1].encode() + b'"}',
    ],
)
def test_known_nasty_bodies(client: TestClient, body: bytes) -> None:
    check(
        client, "POST", f"{V1}/models", content=body, headers={"content-type": "application/json"}
    )
    check(
        client,
        "PUT",
        f"{V1}/model/{seeded_id(client)}",
        content=body,
        headers={"content-type": "application/json"},
    )


def test_oversized_bodies_are_refused(client: TestClient) -> None:
    huge = json.dumps({"name": "x" * (6 * 1024 * 1024)})
    before = snapshot(client)
    response = client.post(
        f"{V1}/models", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert snapshot(client) == before
