"""Admissible units under SPEC §8's options (domain/optimizer/_admissible.py), held to the
independent oracle of test_optimizer_options_oracle (which tries every unit against each rule)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from order_generation.domain.optimizer import RebalanceProblem
from order_generation.domain.optimizer._admissible import (
    Segment,
    admissible_segments,
    nearest_admissible,
)
from order_generation.domain.optimizer._exact import exact, unit_bounds
from order_generation.domain.trading_options import SecurityRules, TradingOptions, security_rules
from tests.unit.test_optimizer_options_oracle import (
    Options,
    adjusted_market_value,
    candidates,
    small_problems_with_options,
)
from tests.unit.test_optimizer_oracle import make_problem


def rules_for(options: Options, security_id: str) -> SecurityRules:
    """The oracle's options as the domain's, then what they say about one security."""
    domain_options = TradingOptions(
        mode=options.mode,
        restrictions=options.restrictions,
        min_trade_value=Decimal(int(options.min_trade_value)),
        min_trade_quantity=options.min_trade_quantity,
        lot_sizes=options.lot_sizes,
        default_lot_size=options.default_lot_size,
        bands=options.bands,
    )
    return security_rules(domain_options, security_id)


def segments_of(problem: RebalanceProblem, options: Options) -> list[list[Segment]]:
    with exact():
        market_value = problem.market_value + Decimal(int(options.cash_flow))
        return [
            admissible_segments(
                s.price,
                s.quantity,
                market_value * (s.target - s.low_drift),
                market_value * (s.target + s.high_drift),
                market_value,
                rules_for(options, s.security_id),
            )
            for s in problem.securities
        ]


def oracle_nearest(
    units: list[Fraction], ideal: Fraction, price: Fraction, holding: Fraction
) -> Fraction:
    """SPEC §4.6's choice among admissible units by trying each: nearest value to the ideal,
    then nearest the holding (least trading), then the smaller."""
    return min(units, key=lambda u: (abs(ideal - u * price), abs(u - holding), u))


@pytest.mark.slow  # ~5 s; small and derandomized under mutation (test_optimizer_options_mutants)
@settings(max_examples=400, deadline=None)
@given(small_problems_with_options())
def test_segments_and_the_nearest_unit_are_what_trying_every_unit_gives(
    case: tuple[RebalanceProblem, Options],
) -> None:
    problem, options = case
    market_value = adjusted_market_value(problem, options)
    assume(market_value >= 0)
    for security, segments in zip(problem.securities, segments_of(problem, options), strict=True):
        price, holding = Fraction(security.price), Fraction(security.quantity)
        expected = [u for u in candidates(problem, security, options) if u * price <= market_value]
        assert [Fraction(u) for segment in segments for u in segment.units()] == expected
        assert all(s.first <= s.last for s in segments)
        if expected:
            ideal = market_value * Fraction(security.target)
            with exact():
                exact_ideal = (problem.market_value + Decimal(int(options.cash_flow))) * (
                    security.target
                )
                nearest = nearest_admissible(
                    segments, exact_ideal, security.price, security.quantity
                )
            assert Fraction(nearest) == oracle_nearest(expected, ideal, price, holding)


@given(
    st.sampled_from(["0", "100", "2500"]),
    st.lists(
        st.tuples(
            st.sampled_from(["7", "12.5", "0.33"]),
            st.sampled_from(["0", "3", "4.5", "250"]),
            st.sampled_from(["0", "0.1", "0.45"]),
            st.sampled_from(["0", "0.01", "0.3"]),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_without_options_the_segments_are_the_band_interval(
    cash: str, rows: list[tuple[str, str, str, str]]
) -> None:
    problem = make_problem(cash, *((f"S{i}", p, q, t, d, d) for i, (p, q, t, d) in enumerate(rows)))
    market_value = problem.market_value
    for security, segments in zip(problem.securities, segments_of(problem, Options()), strict=True):
        with exact():
            bounds = unit_bounds(
                market_value, security.price, security.quantity, security.target,
                security.low_drift, security.high_drift,
            )  # fmt: skip
        last = min(bounds.last, market_value // security.price)
        expected = [Segment(bounds.first, last, Decimal(1))] if bounds.first <= last else []
        assert segments == expected


def test_a_segment_holds_its_progression_only() -> None:
    segment = Segment(Decimal(5), Decimal(45), Decimal(10))
    assert list(segment.units()) == [Decimal(u) for u in (5, 15, 25, 35, 45)]
    assert Decimal(25) in segment
    assert Decimal(20) not in segment
    assert Decimal(55) not in segment
    assert 25 not in segment  # units are decimals


def test_membership_counts_steps_from_the_first_unit() -> None:
    segment = Segment(Decimal(1), Decimal(7), Decimal(3))
    assert [u for u in map(Decimal, range(9)) if u in segment] == [1, 4, 7]


LOCKED = SecurityRules(no_buy=True, no_sell=True)


def test_a_locked_fraction_stays_only_if_it_is_a_holding_the_cash_row_can_carry() -> None:
    price, wide = Decimal(10), (Decimal(-1000), Decimal(1000))
    with exact():
        assert admissible_segments(price, Decimal("4.5"), *wide, Decimal(100), LOCKED) == [
            Segment(Decimal("4.5"), Decimal("4.5"), Decimal(1))
        ]
        assert admissible_segments(price, Decimal("4.5"), *wide, Decimal(45), LOCKED) != []
        assert admissible_segments(price, Decimal("4.5"), *wide, Decimal(44), LOCKED) == []
        assert admissible_segments(price, Decimal("-1.5"), *wide, Decimal(100), LOCKED) == []


# --- the nearest admissible unit ------------------------------------------------------------------


def test_no_segments_have_no_nearest_unit() -> None:
    with pytest.raises(ValueError, match=r"^no admissible unit$"):
        nearest_admissible([], Decimal(1), Decimal(1), Decimal(0))


def test_the_nearest_unit_of_a_lattice_ties_to_the_holding() -> None:
    lots = [Segment(Decimal(5), Decimal(45), Decimal(10))]
    price = Decimal(1)
    # Ideal 30 lies half-way between 25 and 35: the one nearer the holding wins.
    assert nearest_admissible(lots, Decimal(30), price, Decimal(33)) == 35
    assert nearest_admissible(lots, Decimal(30), price, Decimal(26)) == 25
    assert nearest_admissible(lots, Decimal(30), price, Decimal(30)) == 25  # then the smaller
    assert nearest_admissible(lots, Decimal(31), price, Decimal(0)) == 35
    assert nearest_admissible(lots, Decimal(100), price, Decimal(0)) == 45
    assert nearest_admissible(lots, Decimal(-3), price, Decimal(0)) == 5
    split = [
        Segment(Decimal(0), Decimal(0), Decimal(1)),
        Segment(Decimal(17), Decimal(20), Decimal(1)),
    ]
    assert nearest_admissible(split, Decimal(8), price, Decimal(25)) == 0
    assert nearest_admissible(split, Decimal(9), price, Decimal(25)) == 17
