"""Sandbox data files: exact round trips and clear errors for bad files."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from order_generation.sandbox import (
    SandboxData,
    SandboxDataError,
    SandboxHolding,
    SandboxPortfolio,
    SandboxPrice,
    SandboxSecurity,
    dumps_data,
    load_data,
    parse_data,
    serve_sandbox,
    write_data,
)

SEC = "a" * 24
PID = "b" * 24


def _valid() -> dict[str, Any]:
    return {
        "securities": [{"security_id": SEC, "ticker": "AAPL", "description": "Apple Inc."}],
        "prices": [{"ticker": "AAPL", "close": Decimal("177.0")}],
        "portfolios": [
            {
                "portfolio_id": PID,
                "name": "P",
                "cash": 1000,
                "holdings": [{"security_id": SEC, "quantity": 10}],
            }
        ],
    }


def test_a_write_and_load_round_trip_is_exact(tmp_path: Path) -> None:
    data = SandboxData(
        securities=(SandboxSecurity(SEC, "BRK.B", 'Berkshire "B" — Class B'),),
        prices=(SandboxPrice("BRK.B", Decimal("199.95"), Decimal("2.1234")),),
        portfolios=(
            SandboxPortfolio(
                PID,
                "Edge",
                Decimal("0.123456789012345678901"),
                (SandboxHolding(SEC, Decimal("-5.5")),),
            ),
            SandboxPortfolio("c" * 24, "Unfunded", None, ()),
        ),
    )
    path = tmp_path / "data.json"

    write_data(data, path)

    assert load_data(path) == data
    assert parse_data(json.loads(dumps_data(data), parse_float=Decimal)) == data


def test_numbers_may_be_numeric_strings_and_optional_fields_may_be_left_out() -> None:
    raw = _valid()
    raw["prices"][0]["close"] = "177.00"
    del raw["securities"][0]["description"]
    raw["portfolios"][0]["cash"] = None
    del raw["portfolios"][0]["holdings"]

    data = parse_data(raw)

    assert data.prices[0].close == Decimal("177.00")
    assert data.securities[0].description == "AAPL"
    assert data.portfolios[0].cash is None
    assert data.portfolios[0].holdings == ()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["securities"], {}, "securities: expected a list"),
        (["securities", 0, "security_id"], "xyz", r"securities\[0\]\.security_id: expected a 24"),
        (["prices", 0, "close"], 0, r"prices\[0\]\.close: must be > 0"),
        (["prices", 0, "close"], "abc", r"prices\[0\]\.close: expected a number"),
        (["prices", 0, "close"], True, r"prices\[0\]\.close: expected a number"),
        (["prices", 0, "close"], 177.5, r"prices\[0\]\.close: expected a number"),  # a float
        (["prices", 0, "std"], -1, r"prices\[0\]\.std: must be >= 0"),
        (["portfolios", 0, "name"], "", r"portfolios\[0\]\.name: expected a non-empty string"),
        (
            ["portfolios", 0, "holdings", 0, "quantity"],
            "ten",
            r"portfolios\[0\]\.holdings\[0\]\.quantity: expected a number",
        ),
        (
            ["portfolios", 0, "holdings", 0, "weight"],
            1,
            r"portfolios\[0\]\.holdings\[0\]: unknown field\(s\) weight",
        ),
        (["price_date"], "22/01/2018", "price_date: expected a date"),
    ],
)
def test_errors_name_the_place(path: list[Any], value: object, message: str) -> None:
    raw = _valid()
    node: Any = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value

    with pytest.raises(SandboxDataError, match=message):
        parse_data(raw)


def test_missing_fields_and_duplicates_are_refused() -> None:
    raw = _valid()
    del raw["portfolios"][0]["portfolio_id"]
    with pytest.raises(SandboxDataError, match=r"portfolios\[0\]: missing field\(s\) portfolio_id"):
        parse_data(raw)

    raw = _valid()
    raw["prices"].append({"ticker": "AAPL", "close": 1})
    with pytest.raises(SandboxDataError, match="prices: ticker 'AAPL' appears more than once"):
        parse_data(raw)

    raw = _valid()
    raw["portfolios"][0]["holdings"].append({"security_id": SEC, "quantity": 1})
    with pytest.raises(SandboxDataError, match=r"portfolios\[0\]\.holdings: security_id"):
        parse_data(raw)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"prices": [NaN]}', "not valid JSON"),
        ("[]", "expected an object"),
    ],
)
def test_a_file_that_is_not_a_data_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)

    with pytest.raises(SandboxDataError, match=message) as raised:
        load_data(path)
    assert str(path) in str(raised.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SandboxDataError, match="cannot read sandbox data file"):
        load_data(tmp_path / "absent.json")


def test_serve_refuses_a_bad_file_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"securities": []}')

    assert serve_sandbox(data_path=path, port=0) == 2
    assert "missing field(s) portfolios, prices" in capsys.readouterr().err
