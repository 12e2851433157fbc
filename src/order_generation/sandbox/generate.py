"""Realistic sandbox data from the vendored GlobeCo seed data (see sandbox/data/README.md).

Securities are the security service's seed list (only those with a price unless asked otherwise),
prices are one date of the pricing service's seed file, and portfolios are funded the way the
GlobeCo load generators fund them: $100k–$1M (60 %) or $1M–$4M (40 %), most of it invested in K
securities. Everything is integer cents while generating, so cash is exact.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

from order_generation.sandbox.datafile import write_data
from order_generation.sandbox.model import (
    SandboxData,
    SandboxHolding,
    SandboxPortfolio,
    SandboxPrice,
    SandboxSecurity,
)

_SECURITIES_FILE = "securities.json"
_PRICES_FILE = "prices-2018-01-22.csv"
# Unpriced securities still need a notional price to size a holding of them.
_NOTIONAL_PRICE_CENTS = 100_00


def security_id_for(ticker: str) -> str:
    """The sandbox's security id for a ticker: 24 hex digits, the same in every data set."""
    return hashlib.sha256(f"globeco-sandbox-security:{ticker}".encode()).hexdigest()[:24]


def portfolio_id_for(seed: int, index: int) -> str:
    """The id of the ``index``-th generated portfolio for ``seed``: 24 hex digits."""
    return hashlib.sha256(f"globeco-sandbox-portfolio:{seed}:{index}".encode()).hexdigest()[:24]


def generate_data(
    portfolios: int, positions: int, seed: int, include_unpriced: bool = False
) -> SandboxData:
    """A deterministic data set: ``portfolios`` portfolios of ``positions`` holdings each.

    The same arguments give the same data. ``include_unpriced`` also lists (and lets portfolios
    hold) the 195 seeded securities that the pricing service has no price for.
    """
    prices = seed_prices()
    priced = {p.ticker for p in prices}
    securities = tuple(s for s in seed_securities() if include_unpriced or s.ticker in priced)
    if portfolios < 0:
        raise ValueError(f"portfolios must be >= 0, got {portfolios}")
    if not 0 <= positions <= len(securities):
        raise ValueError(
            f"positions must be between 0 and {len(securities)} (the securities available"
            f"{'' if include_unpriced else ' with a price'}), got {positions}"
        )
    cents = {p.ticker: int(p.close * 100) for p in prices}
    universe = [(s.security_id, cents.get(s.ticker, _NOTIONAL_PRICE_CENTS)) for s in securities]
    rng = random.Random(seed)
    generated = tuple(
        _portfolio(rng, portfolio_id_for(seed, i), f"Portfolio {i + 1}", universe, positions)
        for i in range(portfolios)
    )
    return SandboxData(securities=securities, prices=prices, portfolios=generated)


def write_data_file(
    out: str | Path, portfolios: int, positions: int, seed: int, include_unpriced: bool = False
) -> None:
    """Generate a data set (see ``generate_data``) and write it to ``out`` as a data file."""
    write_data(generate_data(portfolios, positions, seed, include_unpriced), out)


def _portfolio(
    rng: random.Random,
    portfolio_id: str,
    name: str,
    universe: list[tuple[str, int]],
    positions: int,
) -> SandboxPortfolio:
    # The load generators' funding: one deposit of $100k–$1M (60 %) or $1M–$4M (40 %).
    if rng.random() < 0.6:
        funding = rng.randint(100_000, 1_000_000) * 100
    else:
        funding = rng.randint(1_000_000, 4_000_000) * 100
    chosen = sorted(rng.sample(universe, positions))
    weights = [rng.random() + 0.5 for _ in chosen]
    budget = funding * rng.uniform(0.80, 0.97) / sum(weights) if chosen else 0.0
    holdings = []
    invested = 0
    for (security_id, price), weight in zip(chosen, weights, strict=True):
        quantity = int(budget * weight // price)
        invested += quantity * price
        holdings.append(SandboxHolding(security_id, Decimal(quantity)))
    cash = Decimal(funding - invested).scaleb(-2)
    return SandboxPortfolio(portfolio_id, name, cash, tuple(holdings))


@cache
def seed_securities() -> tuple[SandboxSecurity, ...]:
    """The security service's 505 seeded securities, with the sandbox's stable ids."""
    text = (resources.files("order_generation.sandbox") / "data" / _SECURITIES_FILE).read_text(
        "utf-8"
    )
    return tuple(
        SandboxSecurity(security_id_for(r["ticker"]), r["ticker"], r["description"])
        for r in json.loads(text)
    )


@cache
def seed_prices() -> tuple[SandboxPrice, ...]:
    """The pricing service's 471 tickers with close and std on the vendored date."""
    text = (resources.files("order_generation.sandbox") / "data" / _PRICES_FILE).read_text("utf-8")
    return tuple(
        SandboxPrice(row["ticker"], Decimal(row["close"]), Decimal(row["std"]))
        for row in csv.DictReader(text.splitlines())
    )
