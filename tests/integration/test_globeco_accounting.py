"""Portfolio Accounting client against the sandbox over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from order_generation.adapters.globeco import GlobecoClients
from order_generation.adapters.globeco._parse import Payload
from order_generation.domain.errors import InvalidServiceResponse, ServiceUnavailable
from order_generation.domain.holdings import PortfolioHoldings
from tests.fixtures.sandbox import (
    EDGE_PORTFOLIO_ID,
    LARGE_PORTFOLIO_HOLDINGS,
    LARGE_PORTFOLIO_ID,
    UNFUNDED_PORTFOLIO_ID,
    UNKNOWN_PORTFOLIO_ID,
    Sandbox,
)

SUMMARY = "GET /api/v1/portfolios/{portfolioId}/summary"
BALANCES = "GET /api/v1/balances"


async def test_holdings_are_the_portfolios_cash_and_quantities(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    portfolio = sandbox.data.portfolios[0]

    holdings = await globeco.accounting.portfolio_holdings(portfolio.portfolio_id)

    assert holdings.cash == portfolio.cash
    assert dict(holdings.quantities) == dict(portfolio.holdings)
    assert sandbox.requests() == {SUMMARY: 1}


async def test_decimal_strings_are_read_exactly_with_zero_and_short_rows_kept(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    a, b, c = (s.security_id for s in sandbox.data.securities[:3])

    holdings = await globeco.accounting.portfolio_holdings(EDGE_PORTFOLIO_ID)

    assert holdings.cash == Decimal("1234.5")
    assert dict(holdings.quantities) == {a: Decimal(0), b: Decimal("10.25"), c: Decimal(-5)}


@pytest.mark.parametrize("portfolio_id", [UNFUNDED_PORTFOLIO_ID, UNKNOWN_PORTFOLIO_ID, "not-an-id"])
async def test_a_portfolio_without_balance_rows_is_empty_not_an_outage(
    sandbox: Sandbox, globeco: GlobecoClients, portfolio_id: str
) -> None:
    # The summary answers 500 for it (the real service's quirk); one balances call confirms.
    holdings = await globeco.accounting.portfolio_holdings(portfolio_id)

    assert holdings == PortfolioHoldings.empty(portfolio_id)
    assert sandbox.requests() == {SUMMARY: 1, BALANCES: 1}


async def test_a_summary_cut_at_its_row_cap_is_completed_from_the_balances(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    holdings = await globeco.accounting.portfolio_holdings(LARGE_PORTFOLIO_ID)

    assert holdings.cash == Decimal(1_000_000)
    assert len(holdings.quantities) == LARGE_PORTFOLIO_HOLDINGS
    assert holdings.quantities[f"{LARGE_PORTFOLIO_HOLDINGS - 1:024x}"] == LARGE_PORTFOLIO_HOLDINGS
    # 1201 rows: two pages of 1000.
    assert sandbox.requests() == {SUMMARY: 1, BALANCES: 2}


async def test_a_failing_service_is_unavailable_not_an_empty_portfolio(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("accounting", "error")  # 500 on both paths, as a broken service gives

    with pytest.raises(ServiceUnavailable, match="portfolio accounting") as raised:
        await globeco.accounting.portfolio_holdings(sandbox.data.portfolios[0].portfolio_id)

    assert "HTTP 500" in str(raised.value)
    assert sandbox.requests() == {SUMMARY: 1, BALANCES: 3}


async def test_a_transient_summary_500_is_retried_when_balances_exist(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    portfolio = sandbox.data.portfolios[1]
    sandbox.fault("accounting", "error", times=1)

    holdings = await globeco.accounting.portfolio_holdings(portfolio.portfolio_id)

    assert holdings.cash == portfolio.cash
    assert sandbox.requests() == {SUMMARY: 2, BALANCES: 1}


async def test_a_down_service_is_retried_then_unavailable(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("accounting", "down")

    with pytest.raises(ServiceUnavailable, match=r"failed after 3 attempt\(s\): HTTP 503"):
        await globeco.accounting.portfolio_holdings(sandbox.data.portfolios[0].portfolio_id)

    assert sandbox.requests() == {SUMMARY: 3}


async def test_a_malformed_summary_is_rejected_clearly(
    sandbox: Sandbox, globeco: GlobecoClients
) -> None:
    sandbox.fault("accounting", "malformed")

    with pytest.raises(InvalidServiceResponse, match="portfolio accounting") as raised:
        await globeco.accounting.portfolio_holdings(sandbox.data.portfolios[0].portfolio_id)

    assert "body." in str(raised.value)
    assert sandbox.requests() == {SUMMARY: 1}  # a contract break is not retried


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("100", Decimal(100)),
        ("1234.5", Decimal("1234.5")),
        ("-5", Decimal(-5)),
        (" 0.10 ", Decimal("0.10")),
        ("1E+3", Decimal("1E+3")),
        ("999999999999999999.99", Decimal("999999999999999999.99")),
        (7, Decimal(7)),
        (Decimal("58.1"), Decimal("58.1")),  # a JSON number, decoded exactly
    ],
)
def test_decimals_are_read_exactly_from_strings_and_numbers(raw: object, expected: Decimal) -> None:
    value = Payload("portfolio accounting", "GET /x").decimal({"cash": raw}, "cash", "body")

    assert value == expected
    assert str(value) == str(expected)


@pytest.mark.parametrize(
    "raw",
    [
        "NaN",
        "-Infinity",
        "sNaN",
        "1_000",  # Decimal() would read these three
        "\u0661\u0662",  # Arabic-Indic digits
        "12,345.00",
        "",
        "1e18",
        Decimal("1E+999999999"),  # a JSON number too large for exact arithmetic
        True,
        None,
        [1],
    ],
)
def test_anything_but_a_plain_finite_decimal_is_a_contract_break(raw: object) -> None:
    payload = Payload("portfolio accounting", "GET /x")

    with pytest.raises(InvalidServiceResponse, match=r"^portfolio accounting .*body\.cash "):
        payload.decimal({"cash": raw}, "cash", "body")
