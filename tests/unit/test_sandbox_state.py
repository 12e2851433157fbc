"""The sandbox's accounting rows: ids, order and global paging."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from order_generation.sandbox import SandboxHolding, SandboxPortfolio, generate_data
from order_generation.sandbox.state import SandboxState


def _state() -> SandboxState:
    data = generate_data(4, 3, seed=2)
    unfunded = SandboxPortfolio("f" * 24, "Unfunded", None, ())
    short = SandboxPortfolio("e" * 24, "Short", None, (SandboxHolding("a" * 24, Decimal(-3)),))
    portfolios = (data.portfolios[0], unfunded, *data.portfolios[1:3], short, data.portfolios[3])
    return SandboxState(replace(data, portfolios=portfolios), random_prices=False, seed=None)


def test_rows_are_cash_first_then_by_security_with_consecutive_ids() -> None:
    state = _state()
    portfolio = state.data.portfolios[0]

    rows = state.rows_of(portfolio.portfolio_id)

    assert rows[0].security_id is None
    assert rows[0].quantity_long == portfolio.cash
    assert [r.security_id for r in rows[1:]] == sorted(h.security_id for h in portfolio.holdings)
    assert [r.id for r in rows] == [1, 2, 3, 4]
    assert state.rows_of("0" * 24) == []


def test_a_negative_quantity_is_a_short_position() -> None:
    (row,) = _state().rows_of("e" * 24)

    assert (row.quantity_long, row.quantity_short) == (Decimal(0), Decimal(3))


def test_paging_from_any_offset_matches_the_full_listing() -> None:
    state = _state()
    everything = [r for p in state.data.portfolios for r in state.rows_of(p.portfolio_id)]

    assert state.total_rows == len(everything) == 4 * 4 + 1
    assert [r.id for r in everything] == list(range(1, len(everything) + 1))
    for start in range(len(everything) + 2):
        assert list(state.all_rows(start)) == everything[start:]


def test_prices_are_the_close_unless_drawn_at_random() -> None:
    data = generate_data(1, 1, seed=1)
    fixed = SandboxState(data, random_prices=False, seed=None)
    drawn = SandboxState(data, random_prices=True, seed=7)
    ticker = data.prices[0].ticker

    assert fixed.close_price(ticker) == data.prices[0].close
    draws = {drawn.close_price(ticker) for _ in range(50)}
    assert len(draws) > 1
    assert all(d >= Decimal("0.01") and d.as_tuple().exponent == -2 for d in draws)
