"""Every sandbox endpoint's responses checked against the GlobeCo services' OpenAPI files.

The files (copies in ``openapi/``, see its README) are right about most things and wrong about a
few; the code of the real services wins. Each deliberate deviation is named ``DEVIATION`` below,
with the test that shows it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator, OAS31Validator

from order_generation.adapters.globeco import order_payload
from order_generation.domain.orders import OrderRequest
from tests.fixtures.sandbox import UNFUNDED_PORTFOLIO_ID, UNKNOWN_PORTFOLIO_ID, Sandbox

OPENAPI = Path(__file__).parent / "openapi"
ACCOUNTING = "portfolio-accounting-service-openapi.yaml"
SECURITY = "security-service-openapi.yaml"
SECURITY_CURRENT = "security-service-openapi-current.yaml"
PRICING = "pricing-service-openapi.yaml"
PORTFOLIO = "portfolio-service-openapi.yaml"
PORTFOLIO_CURRENT = "portfolio-service-openapi-current.yaml"
ORDER = "order-service-openapi.yaml"
ORDER_CURRENT = "order-service-openapi-current.yaml"

DECIMAL_STRING = r"^-?[0-9]+(\.[0-9]+)?$"
# DEVIATION (accounting): the Swagger file types every quantity and cash amount as `number`; the
# Go service writes shopspring decimals, which are JSON strings ("100", "1234.5").
ACCOUNTING_DECIMAL_FIELDS = {
    "dto.PortfolioSummaryDTO": ["cashBalance"],
    "dto.SecurityPositionDTO": ["quantityLong", "quantityShort", "netQuantity"],
    "dto.BalanceDTO": ["quantityLong", "quantityShort"],
}


@cache
def spec(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((OPENAPI / name).read_text(encoding="utf-8"))
    return loaded


@cache
def accounting_as_implemented() -> dict[str, Any]:
    """The accounting Swagger file with its decimal fields corrected to strings."""
    fixed = copy.deepcopy(spec(ACCOUNTING))
    for definition, fields in ACCOUNTING_DECIMAL_FIELDS.items():
        for field in fields:
            fixed["definitions"][definition]["properties"][field] = {
                "type": "string",
                "pattern": DECIMAL_STRING,
            }
    return fixed


def response_schema(doc: dict[str, Any], path: str, status: int, method: str = "get") -> Any:
    """The schema of ``path``'s ``status`` response (OpenAPI 3 or Swagger 2)."""
    response = doc["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:  # e.g. #/components/responses/NotFound
        response = _resolve(doc, response["$ref"])
    if "schema" in response:  # Swagger 2
        return response["schema"]
    (content,) = response["content"].values()  # one media type: application/json or */*
    return content["schema"]


def schema_errors(doc: dict[str, Any], schema: Any, instance: Any) -> list[str]:
    """Validation errors of ``instance`` against ``schema`` (whose $refs point into ``doc``)."""
    validator_class = OAS31Validator if doc.get("openapi", "").startswith("3.1") else OAS30Validator
    root = {"allOf": [schema]}
    for container in ("components", "definitions"):
        if container in doc:
            root[container] = doc[container]
    return [
        f"{list(e.absolute_path)}: {e.message}" for e in validator_class(root).iter_errors(instance)
    ]


def assert_valid(doc: dict[str, Any], schema: Any, instance: Any) -> None:
    errors = schema_errors(doc, schema, instance)
    assert not errors, "\n".join(errors[:10])


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _schema_ref(doc: dict[str, Any], name: str) -> dict[str, str]:
    container = "definitions" if "definitions" in doc else "components/schemas"
    return {"$ref": f"#/{container}/{name}"}


# --- Portfolio Accounting (Swagger 2.0; paths relative to basePath /api/v1) ---------------------


def test_accounting_summary(sandbox: Sandbox) -> None:
    portfolio = sandbox.data.portfolios[0]
    response = sandbox.client.get(f"/api/v1/portfolios/{portfolio.portfolio_id}/summary")

    assert response.status_code == 200
    body = response.json()
    doc = accounting_as_implemented()
    assert_valid(doc, response_schema(doc, "/portfolios/{portfolioId}/summary", 200), body)
    # shopspring/decimal's format: no exponent, no trailing zeros after the point.
    assert re.fullmatch(r"-?\d+(\.\d*[1-9])?", body["cashBalance"])
    assert Decimal(body["cashBalance"]) == portfolio.cash
    assert body["securityCount"] == len(portfolio.holdings)
    # Go RFC 3339 timestamps with up to nanoseconds.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", body["lastUpdated"])


def test_the_swagger_file_wrongly_says_accounting_decimals_are_numbers(sandbox: Sandbox) -> None:
    # DEVIATION documented: the unmodified Swagger file rejects what the real service sends.
    portfolio_id = sandbox.data.portfolios[0].portfolio_id
    body = sandbox.client.get(f"/api/v1/portfolios/{portfolio_id}/summary").json()

    doc = spec(ACCOUNTING)
    errors = schema_errors(
        doc, response_schema(doc, "/portfolios/{portfolioId}/summary", 200), body
    )

    assert any("is not of type 'number'" in e for e in errors)


@pytest.mark.parametrize("portfolio_id", [UNFUNDED_PORTFOLIO_ID, UNKNOWN_PORTFOLIO_ID, "bad-id"])
def test_accounting_summary_of_a_portfolio_without_rows_is_500(
    sandbox: Sandbox, portfolio_id: str
) -> None:
    # DEVIATION: the file documents 404 NOT_FOUND for an unknown portfolio; the code answers 500
    # for any portfolio without balance rows (and never 404). The 500 body follows the file.
    response = sandbox.client.get(f"/api/v1/portfolios/{portfolio_id}/summary")

    assert response.status_code == 500
    doc = spec(ACCOUNTING)
    assert_valid(
        doc, response_schema(doc, "/portfolios/{portfolioId}/summary", 500), response.json()
    )
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"


@pytest.mark.parametrize(
    "params",
    [
        {"portfolio_id": "PORTFOLIO", "limit": 1000},
        {"portfolio_id": UNFUNDED_PORTFOLIO_ID},
        {"limit": 7, "offset": 5},
        {"cash_only": "true", "limit": 3},
    ],
)
def test_accounting_balances(sandbox: Sandbox, params: dict[str, Any]) -> None:
    if params.get("portfolio_id") == "PORTFOLIO":
        params = {**params, "portfolio_id": sandbox.data.portfolios[0].portfolio_id}
    response = sandbox.client.get("/api/v1/balances", params=params)

    assert response.status_code == 200
    doc = accounting_as_implemented()
    assert_valid(doc, response_schema(doc, "/balances", 200), response.json())
    for row in response.json()["balances"]:
        # Cash rows have no securityId at all (Go omits the nil pointer).
        assert "securityId" in row or row["quantityShort"] == "0"


def test_accounting_balances_reject_a_bad_limit(sandbox: Sandbox) -> None:
    response = sandbox.client.get("/api/v1/balances", params={"limit": 1001})

    assert response.status_code == 400
    doc = spec(ACCOUNTING)
    assert_valid(doc, response_schema(doc, "/balances", 400), response.json())


# --- Security Service ----------------------------------------------------------------------------
# DEVIATION (file layout): the current file's v1 paths are relative to the server /api/v1
# ("/securities"), so v1 responses are checked against both files under their own path names.


def test_security_by_id(sandbox: Sandbox) -> None:
    security = sandbox.data.securities[0]
    response = sandbox.client.get(f"/api/v1/security/{security.security_id}")

    assert response.status_code == 200
    body = response.json()
    assert_valid(
        spec(SECURITY), response_schema(spec(SECURITY), "/api/v1/security/{securityId}", 200), body
    )
    current = spec(SECURITY_CURRENT)
    assert_valid(current, response_schema(current, "/security/{securityId}", 200), body)
    assert (body["securityId"], body["ticker"]) == (security.security_id, security.ticker)


def test_security_unknown_and_malformed_ids(sandbox: Sandbox) -> None:
    unknown = sandbox.client.get(f"/api/v1/security/{'0' * 24}")
    malformed = sandbox.client.get("/api/v1/security/not-an-object-id")

    # The current file lists a bare 404; the body is FastAPI's {"detail": ...}.
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Security not found"})
    # DEVIATION (undocumented): a malformed id is an unhandled InvalidId, a plain-text 500.
    assert (malformed.status_code, malformed.text) == (500, "Internal Server Error")


def test_all_securities(sandbox: Sandbox) -> None:
    response = sandbox.client.get("/api/v1/securities", params={"type": "ignored"})

    body = response.json()
    assert response.status_code == 200
    assert len(body) == len(sandbox.data.securities)  # unknown query parameters are ignored
    assert_valid(spec(SECURITY), response_schema(spec(SECURITY), "/api/v1/securities", 200), body)
    current = spec(SECURITY_CURRENT)
    assert_valid(current, response_schema(current, "/securities", 200), body)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 1000}, 200),
        ({"ticker": "aapl"}, 200),
        ({"ticker_like": "a", "limit": 5, "offset": 5}, 200),
        ({"ticker": "AAPL", "ticker_like": "A"}, 400),
        ({"ticker": "not valid!"}, 400),
        ({"limit": 0}, 422),
        ({"limit": 1001}, 422),
    ],
)
def test_security_search_v2(sandbox: Sandbox, params: dict[str, Any], status: int) -> None:
    response = sandbox.client.get("/api/v2/securities", params=params)

    assert response.status_code == status
    current = spec(SECURITY_CURRENT)
    assert_valid(current, response_schema(current, "/api/v2/securities", status), response.json())
    if params == {"ticker": "aapl"}:
        assert [s["ticker"] for s in response.json()["securities"]] == ["AAPL"]


# --- Pricing Service -----------------------------------------------------------------------------


def test_price_by_ticker(sandbox: Sandbox) -> None:
    response = sandbox.client.get("/api/v1/price/BRK.B")

    body = json.loads(response.text)
    assert response.status_code == 200
    assert_valid(spec(PRICING), response_schema(spec(PRICING), "/api/v1/price/{ticker}", 200), body)
    # Prices are JSON numbers, all four equal; the date is the seeded date.
    assert isinstance(body["close"], float | int)
    assert body["open"] == body["high"] == body["low"] == body["close"]
    dt.date.fromisoformat(body["date"])


def test_all_prices(sandbox: Sandbox) -> None:
    response = sandbox.client.get("/api/v1/prices")

    assert response.status_code == 200
    assert len(response.json()) == len(sandbox.data.prices)
    assert_valid(
        spec(PRICING), response_schema(spec(PRICING), "/api/v1/prices", 200), response.json()
    )


def test_price_of_an_unknown_or_differently_cased_ticker_is_404(sandbox: Sandbox) -> None:
    # Not in the file (springdoc lists only 200); Spring's default error body.
    for ticker in ("META", "aapl"):
        response = sandbox.client.get(f"/api/v1/price/{ticker}")
        assert response.status_code == 404
        assert response.json().keys() == {"timestamp", "status", "error", "path"}


# --- Portfolio Service ---------------------------------------------------------------------------


def test_portfolio_by_id(sandbox: Sandbox) -> None:
    portfolio = sandbox.data.portfolios[0]
    response = sandbox.client.get(f"/api/v1/portfolio/{portfolio.portfolio_id}")

    body = response.json()
    assert response.status_code == 200
    assert_valid(
        spec(PORTFOLIO),
        response_schema(spec(PORTFOLIO), "/api/v1/portfolio/{portfolioId}", 200),
        body,
    )
    current = spec(PORTFOLIO_CURRENT)
    assert_valid(current, response_schema(current, "/api/v1/portfolio/{portfolioId}", 200), body)
    # DEVIATION: the current file says date-time; Mongo gives a naive datetime (no time zone).
    assert dt.datetime.fromisoformat(body["dateCreated"]).tzinfo is None


@pytest.mark.parametrize("portfolio_id", [UNKNOWN_PORTFOLIO_ID, "not-an-id"])
def test_portfolio_unknown_or_malformed_id_is_404(sandbox: Sandbox, portfolio_id: str) -> None:
    response = sandbox.client.get(f"/api/v1/portfolio/{portfolio_id}")

    assert response.status_code == 404
    current = spec(PORTFOLIO_CURRENT)
    assert_valid(
        current, response_schema(current, "/api/v1/portfolio/{portfolioId}", 404), response.json()
    )


def test_all_portfolios(sandbox: Sandbox) -> None:
    response = sandbox.client.get("/api/v1/portfolios")

    assert response.status_code == 200
    assert len(response.json()) == len(sandbox.data.portfolios)
    for doc in (spec(PORTFOLIO), spec(PORTFOLIO_CURRENT)):
        assert_valid(doc, response_schema(doc, "/api/v1/portfolios", 200), response.json())


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 1000}, 200),
        ({"name": "portfolio 1"}, 200),
        ({"name_like": "Portfolio", "limit": 2, "offset": 2}, 200),
        ({"name": "a", "name_like": "b"}, 400),
        ({"name": "bad/name"}, 400),
        ({"limit": 0}, 422),
    ],
)
def test_portfolio_search_v2(sandbox: Sandbox, params: dict[str, Any], status: int) -> None:
    response = sandbox.client.get("/api/v2/portfolios", params=params)

    assert response.status_code == status
    current = spec(PORTFOLIO_CURRENT)
    assert_valid(current, response_schema(current, "/api/v2/portfolios", status), response.json())
    if params == {"name": "portfolio 1"}:
        assert [p["name"] for p in response.json()["portfolios"]] == ["Portfolio 1"]


# --- Order Service -------------------------------------------------------------------------------
# DEVIATION (file layout): the current file's paths are relative to the server /api/v1 ("/orders").
# DEVIATION: the older file (order-service-openapi.yaml) shows a single order in and out; the code
# takes an array, as the current file does. The tests follow the current file.

NOW = dt.datetime(2025, 6, 2, 14, 40, 54, 658000, tzinfo=dt.UTC)


def _order_body(sandbox: Sandbox, count: int) -> list[dict[str, Any]]:
    portfolio = sandbox.data.portfolios[0].portfolio_id
    securities = sandbox.data.securities
    return [
        order_payload(OrderRequest(portfolio, securities[n].security_id, "BUY", 10 + n), NOW)
        for n in range(count)
    ]


def test_the_client_sends_what_the_order_service_accepts(sandbox: Sandbox) -> None:
    current = spec(ORDER_CURRENT)
    request_schema = current["paths"]["/orders"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]

    assert_valid(current, request_schema, _order_body(sandbox, 3))
    old = spec(ORDER)["paths"]["/api/v1/orders"]["post"]["requestBody"]["content"]
    assert "array" not in json.dumps(old)  # the older file's single-object body, not followed


def test_orders_all_created(sandbox: Sandbox) -> None:
    response = sandbox.client.post("/api/v1/orders", json=_order_body(sandbox, 2))

    assert response.status_code == 200
    body = response.json()
    current = spec(ORDER_CURRENT)
    assert_valid(current, response_schema(current, "/orders", 200, "post"), body)
    for result in body["orders"]:
        # DEVIATION: the current file calls the created order `orderDetails`; the code's key is
        # `order`. Its content is checked against OrderWithDetailsDTO here.
        assert "orderDetails" not in result
        assert_valid(current, _schema_ref(current, "OrderWithDetailsDTO"), result["order"])
    assert body["status"] == "SUCCESS"
    assert body["successful"] == 2


def test_orders_partly_created(sandbox: Sandbox) -> None:
    orders = _order_body(sandbox, 2)
    del orders[1]["orderTimestamp"]  # not validated, but NOT NULL in the database

    response = sandbox.client.post("/api/v1/orders", json=orders)

    assert response.status_code == 207
    body = response.json()
    current = spec(ORDER_CURRENT)
    assert_valid(current, response_schema(current, "/orders", 207, "post"), body)
    assert body["status"] == "PARTIAL"
    failed = body["orders"][1]
    # Null fields are left out, not sent as null.
    assert failed == {
        "status": "FAILURE",
        "message": "Failed to create order: unknown error",
        "requestIndex": 1,
    }


@pytest.mark.parametrize(("count", "status"), [(0, 400), (1001, 413)])
def test_orders_refused_as_a_whole(sandbox: Sandbox, count: int, status: int) -> None:
    response = sandbox.client.post("/api/v1/orders", json=_order_body(sandbox, 1) * count)

    assert response.status_code == status
    current = spec(ORDER_CURRENT)
    assert_valid(current, response_schema(current, "/orders", status, "post"), response.json())
    assert response.json()["totalReceived"] == 0
    assert sandbox.orders() == []


# --- Faults --------------------------------------------------------------------------------------

MALFORMED_CASES = [
    (
        "accounting",
        "get",
        "/api/v1/portfolios/PORTFOLIO/summary",
        ACCOUNTING,
        "/portfolios/{portfolioId}/summary",
    ),
    ("security", "get", "/api/v1/securities", SECURITY, "/api/v1/securities"),
    ("pricing", "get", "/api/v1/prices", PRICING, "/api/v1/prices"),
    ("portfolio", "get", "/api/v1/portfolios", PORTFOLIO, "/api/v1/portfolios"),
    ("order", "post", "/api/v1/orders", ORDER_CURRENT, "/orders"),
]


@pytest.mark.parametrize(
    ("service", "method", "path", "spec_name", "spec_path"),
    MALFORMED_CASES,
    ids=[c[0] for c in MALFORMED_CASES],
)
def test_malformed_fault_bodies_break_the_contract(
    sandbox: Sandbox, service: str, method: str, path: str, spec_name: str, spec_path: str
) -> None:
    sandbox.fault(service, "malformed")
    path = path.replace("PORTFOLIO", sandbox.data.portfolios[0].portfolio_id)
    response = sandbox.client.request(
        method.upper(), path, json=_order_body(sandbox, 1) if method == "post" else None
    )

    assert response.status_code == 200
    try:
        body = response.json()
    except ValueError:
        return  # not even JSON
    doc = accounting_as_implemented() if spec_name == ACCOUNTING else spec(spec_name)
    assert schema_errors(doc, response_schema(doc, spec_path, 200, method), body)
