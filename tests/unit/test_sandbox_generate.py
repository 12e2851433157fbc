"""The sandbox data generator: deterministic, realistic, from the vendored seed data."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from order_generation.cli import main
from order_generation.sandbox import generate_data, load_data
from order_generation.sandbox.generate import security_id_for, seed_prices, seed_securities

HEX24 = re.compile(r"[0-9a-f]{24}")


def test_the_vendored_seed_data_is_complete() -> None:
    securities, prices = seed_securities(), seed_prices()

    assert len(securities) == 505
    assert len(prices) == 471
    assert len({s.ticker for s in securities} & {p.ticker for p in prices}) == 310


def test_the_same_arguments_give_the_same_data() -> None:
    assert generate_data(20, 10, seed=5) == generate_data(20, 10, seed=5)


def test_another_seed_gives_other_portfolios_but_the_same_securities() -> None:
    a, b = generate_data(5, 10, seed=1), generate_data(5, 10, seed=2)

    assert a.securities == b.securities
    assert a.portfolios != b.portfolios
    assert {p.portfolio_id for p in a.portfolios}.isdisjoint(p.portfolio_id for p in b.portfolios)


def test_security_ids_are_stable_hex_ids() -> None:
    data = generate_data(1, 1, seed=1)

    assert all(HEX24.fullmatch(s.security_id) for s in data.securities)
    aapl = next(s for s in data.securities if s.ticker == "AAPL")
    assert aapl.security_id == security_id_for("AAPL") == "b74b51895dcaf618f555580b"


def test_only_priced_securities_by_default() -> None:
    data = generate_data(30, 50, seed=3)
    priced = {p.ticker for p in data.prices}
    known = {s.security_id for s in data.securities}

    assert len(data.securities) == 310
    assert all(s.ticker in priced for s in data.securities)
    assert len(data.prices) == 471  # the pricing service prices every seeded ticker
    for portfolio in data.portfolios:
        held = [h.security_id for h in portfolio.holdings]
        assert len(held) == len(set(held)) == 50
        assert set(held) <= known
        assert HEX24.fullmatch(portfolio.portfolio_id)


def test_unpriced_securities_on_request() -> None:
    data = generate_data(10, 400, seed=3, include_unpriced=True)
    priced = {p.ticker for p in data.prices}

    assert len(data.securities) == 505
    unpriced = {s.security_id for s in data.securities if s.ticker not in priced}
    assert any(h.security_id in unpriced for p in data.portfolios for h in p.holdings)


def test_portfolios_are_funded_like_the_load_generators_fund_them() -> None:
    data = generate_data(2000, 20, seed=11)
    closes = {security_id_for(p.ticker): p.close for p in data.prices}

    values = []
    for portfolio in data.portfolios:
        assert portfolio.cash is not None
        assert portfolio.cash >= 0
        assert portfolio.cash == portfolio.cash.quantize(Decimal("0.01"))
        invested = sum(h.quantity * closes[h.security_id] for h in portfolio.holdings)
        values.append(portfolio.cash + invested)
        assert invested > Decimal("0.7") * values[-1]  # mostly invested
    assert all(Decimal(100_000) <= v <= Decimal(4_000_000) for v in values)
    small = sum(v <= 1_000_000 for v in values) / len(values)
    assert 0.55 < small < 0.65  # 60 % funded with $100k–$1M


def test_zero_positions_gives_cash_only_portfolios() -> None:
    data = generate_data(3, 0, seed=1)

    assert all(p.holdings == () and p.cash and p.cash >= 100_000 for p in data.portfolios)


@pytest.mark.parametrize(
    ("portfolios", "positions", "message"),
    [(-1, 5, "portfolios must be >= 0"), (1, 311, "between 0 and 310"), (1, -1, "between 0")],
)
def test_impossible_sizes_are_refused(portfolios: int, positions: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_data(portfolios, positions, seed=1)


def test_the_generate_command_writes_a_loadable_file(tmp_path: Path) -> None:
    out = tmp_path / "sandbox.json"

    code = main(
        [
            "sandbox",
            "generate",
            "--portfolios",
            "4",
            "--positions",
            "3",
            "--seed",
            "9",
            "--out",
            str(out),
        ]
    )

    assert code == 0
    assert load_data(out) == generate_data(4, 3, seed=9)
