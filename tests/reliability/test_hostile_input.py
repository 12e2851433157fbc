"""Hostile input against a real uvicorn server, on both databases: every refusal is a 4xx in the
one error shape, identical on SQLite and PostgreSQL, and leaves stored data unchanged.

Real HTTP matters here: chunked bodies and malformed framing never reach an in-process client.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.reliability.conftest import Figures

# Slow (hypothesis, processes, faults under load): `./test.sh -m "not slow"` skips it.
pytestmark = pytest.mark.slow

V1 = "/api/v1"
SEC = [f"{i:024x}" for i in range(1, 10)]


@pytest.fixture
def client(live_api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_api_url, trust_env=False, timeout=30) as http_client:
        yield http_client


def assert_refused(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}, body
    if code is not None:
        assert body["code"] == code, body


def raw_exchange(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as raw bytes; the status, headers and body of the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        return _read_response(sock)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    headers = {k.lower(): v for k, v in response.getheaders()}
    return response.status, headers, response.read()


def model_body(name: Any = "Growth", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "positions": [
            {"security_id": SEC[0], "target": "0.1", "high_drift": "0.02", "low_drift": "0.02"}
        ],
        **fields,
    }


def stored_models(client: httpx.Client) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = client.get(f"{V1}/models").json()
    return models


# --- text that is not valid Unicode or holds control characters -------------------------------


@pytest.mark.parametrize(
    "raw_name", [r'"a\ud800b"', r'"\udfff"', r'"a\u0000b"', r'"bell\u0007"', r'"x\u009f"']
)
def test_names_that_no_database_can_store_the_same_way_are_refused(
    client: httpx.Client, figures: Figures, raw_name: str
) -> None:
    body = (
        '{"name": ' + raw_name + ', "positions": [], "portfolios": []}'
    ).encode()  # written by hand: no JSON library emits a lone surrogate

    response = client.post(
        f"{V1}/models", content=body, headers={"content-type": "application/json"}
    )

    assert_refused(response, 400, "INVALID_NAME")
    assert stored_models(client) == []
    figures.cases["hostile input"] += 1


# --- numbers are read from their text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("0.0050000000000000000001", "TOO_PRECISE"),
        ("1e-400", "TOO_PRECISE"),
        ("0.1000000000000000055511151231257827", "TOO_PRECISE"),
        ("1e999999999", "TARGET_OUT_OF_RANGE"),
        ("-0.0", None),  # a valid zero target: dropped, not refused
    ],
)
def test_json_numbers_are_exact_like_the_same_strings(
    client: httpx.Client, figures: Figures, number: str, code: str | None
) -> None:
    template = (
        '{"name": "n", "positions": [{"security_id": "%s", "target": %s, '
        '"high_drift": 0.01, "low_drift": 0.01}]}'
    )
    as_number = client.post(
        f"{V1}/models",
        content=(template % (SEC[0], number)).encode(),
        headers={"content-type": "application/json"},
    )
    as_string = client.post(
        f"{V1}/models",
        content=(template % (SEC[0], json.dumps(number))).encode(),
        headers={"content-type": "application/json"},
    )

    if code is None:
        assert as_number.status_code == as_string.status_code == 201
        assert as_number.json()["positions"] == as_string.json()["positions"] == []
    else:
        assert_refused(as_number, 400, code)
        assert_refused(as_string, 400, code)
        assert stored_models(client) == []
    figures.cases["hostile input"] += 1


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1" * 5000])
def test_numbers_json_cannot_hold_are_refused(
    client: httpx.Client, figures: Figures, literal: str
) -> None:
    body = '{"name": "n", "positions": [{"security_id": "%s", "target": %s, "high_drift": 0, '
    body += '"low_drift": 0}]}'
    response = client.post(
        f"{V1}/models",
        content=(body % (SEC[0], literal)).encode(),
        headers={"content-type": "application/json"},
    )
    assert_refused(response, 400)
    assert stored_models(client) == []
    figures.cases["hostile input"] += 1


# --- dates, versions and paging parameters ----------------------------------------------------


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "10000-01-01T00:00:00Z"]
)
def test_dates_beyond_the_representable_range_are_refused(
    client: httpx.Client, figures: Figures, when: str
) -> None:
    created = client.post(f"{V1}/models", json=model_body()).json()
    url = f"{V1}/model/{created['model_id']}"

    response = client.put(url, json={**created, "last_rebalance_date": when})

    assert_refused(response, 400, "INVALID_REQUEST")
    assert client.get(url).json() == created
    figures.cases["hostile input"] += 1


@pytest.mark.parametrize("version", ["1.0", "1e0", "+1", " 1", "١", "0x1", "true", "1" * 30])
def test_a_version_is_a_plain_whole_number(
    client: httpx.Client, figures: Figures, version: str
) -> None:
    created = client.post(f"{V1}/models", json=model_body()).json()
    url = f"{V1}/model/{created['model_id']}"

    deleted = client.delete(url, params={"version": version})
    replaced = client.put(url, json={**created, "version": json.loads(json.dumps(version))})

    assert_refused(deleted, 400, "INVALID_REQUEST")
    assert_refused(replaced, 400, "INVALID_REQUEST")
    assert client.get(url).json() == created
    figures.cases["hostile input"] += 1


def test_a_version_in_a_body_is_a_json_integer(client: httpx.Client, figures: Figures) -> None:
    # 1.0 is the integer 1 in JSON (and in JSON Schema); 1.5, true and "1" are not integers.
    created = client.post(f"{V1}/models", json=model_body()).json()
    url = f"{V1}/model/{created['model_id']}"
    for version in ("1.5", "true", '"1"', "1e400"):
        body = json.dumps({**created, "version": 0})
        body = body.replace('"version": 0', f'"version": {version}')
        response = client.put(url, content=body, headers={"content-type": "application/json"})
        assert_refused(response, 400, "INVALID_REQUEST")
    assert client.get(url).json() == created
    body = json.dumps({**created, "version": 0}).replace('"version": 0', '"version": 1.0')
    accepted = client.put(url, content=body, headers={"content-type": "application/json"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["version"] == 2
    figures.cases["hostile input"] += 1


@pytest.mark.parametrize("value", ["1.5", "2.0", "1e1", "-1", "9" * 40])
def test_paging_parameters_are_plain_whole_numbers(
    client: httpx.Client, figures: Figures, value: str
) -> None:
    for path in (f"{V1}/models", f"{V1}/rebalances"):
        for name in ("offset", "limit"):
            assert_refused(client.get(path, params={name: value}), 400)
    figures.cases["hostile input"] += 1


# --- bodies: size counted as received, framing --------------------------------------------------


def test_a_chunked_body_is_cut_off_at_the_limit(
    live_api_url: str, client: httpx.Client, figures: Figures
) -> None:
    # 100 MB announced by nothing (chunked): the server must stop reading after 5 MB and answer
    # 413, and keep answering other requests meanwhile.
    parts = urlsplit(live_api_url)
    chunk = b"x" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/models HTTP/1.1\r\nHost: ogs\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        deadline = time.monotonic() + 60
        while sent < 100 * 2**20 and time.monotonic() < deadline:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is there: stop sending
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            if sent % (2**20) == 0:
                assert client.get("/health/live").status_code == 200
        status, _, body = _read_response(sock)

    assert status == 413
    assert json.loads(body)["code"] == "BODY_TOO_LARGE"
    assert sent < 40 * 2**20, f"{sent} bytes were taken in before the refusal"
    assert stored_models(client) == []
    figures.cases["hostile input"] += 1


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1, 2", b"99999999999999999999999"])
def test_a_malformed_content_length_gets_the_error_shape(
    live_api_url: str, client: httpx.Client, figures: Figures, length: bytes
) -> None:
    request = (
        b"POST /api/v1/models HTTP/1.1\r\nHost: ogs\r\ncontent-type: application/json\r\n"
        b"content-length: " + length + b"\r\n\r\n{}"
    )

    status, headers, body = raw_exchange(live_api_url, request)

    assert status in (400, 413)
    assert headers["content-type"].startswith("application/json")
    assert set(json.loads(body)) == {"detail", "code", "errors"}
    assert "server" not in headers
    assert stored_models(client) == []
    figures.cases["hostile input"] += 1


def test_a_declared_oversized_body_is_refused_before_it_is_read(
    live_api_url: str, figures: Figures
) -> None:
    request = (
        b"POST /api/v1/models HTTP/1.1\r\nHost: ogs\r\ncontent-type: application/json\r\n"
        b"content-length: 999999999\r\n\r\n{"
    )

    status, _, body = raw_exchange(live_api_url, request)

    assert status == 413
    assert json.loads(body)["code"] == "BODY_TOO_LARGE"
    figures.cases["hostile input"] += 1


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b"null", b'{"name": 5}', b"\xff\xfe", b'{"name": "n", "positions": "x"}'],
)
def test_malformed_json_bodies(client: httpx.Client, figures: Figures, body: bytes) -> None:
    response = client.post(
        f"{V1}/models", content=body, headers={"content-type": "application/json"}
    )
    assert_refused(response, 400)
    assert stored_models(client) == []
    figures.cases["hostile input"] += 1


def test_deeply_nested_json_is_refused(client: httpx.Client, figures: Figures) -> None:
    body = b'{"name": "n", "positions": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post(
        f"{V1}/models", content=body, headers={"content-type": "application/json"}
    )
    assert_refused(response, 400)
    figures.cases["hostile input"] += 1
