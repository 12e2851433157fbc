"""An independent exact oracle for the trading options of SPEC §8 (issue 12), and tests of it.

Like ``test_optimizer_oracle``, it shares no code with ``order_generation.domain.optimizer``: it
works in ``Fraction`` arithmetic and decides each whole unit of each security by testing every
rule of SPEC §8 literally against it (no bounds, no floor or ceiling of a quotient), then
enumerates every combination. The optimizer does not take options yet; this oracle is the
specification its tests will hold it to (docs/adr/0011). Where SPEC §8 is silent, the oracle
follows ADR 0011: a forbidden direction keeps the whole part of a fractional holding, a
``locked`` fractional holding stays as it is, and lots count from the holding's whole part (so
the fraction of a fractional holding trades along, and a lot of 1 changes nothing).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from order_generation.domain.optimizer import RebalanceProblem, SecurityTarget
from tests.unit.test_optimizer_oracle import make_problem

Units = Fraction  # whole, except a locked fractional holding
DEFAULT_LIMIT = 40_000
GRID = Fraction(1, 10_000)  # relax widens bands in steps of 0.0001


@dataclass(frozen=True)
class Options:
    """SPEC §8's options that shape the solve (``trigger`` and ``dry_run`` do not)."""

    cash_flow: Fraction = Fraction(0)
    cash_reserve: Fraction = Fraction(0)
    mode: str = "full"  # full | buy_only | sell_only
    restrictions: Mapping[str, str] = field(default_factory=dict)  # no_buy | no_sell | locked
    min_trade_value: Fraction = Fraction(0)
    min_trade_quantity: int = 0
    lot_sizes: Mapping[str, int] = field(default_factory=dict)
    default_lot_size: int = 1
    bands: str = "hard"  # hard | soft
    widen: Fraction = Fraction(0)  # relax: every band wider by this on both sides


@dataclass(frozen=True)
class Answer:
    feasible: bool
    objective: Fraction | None
    optimal_solutions: tuple[tuple[Units, ...], ...]


def adjusted_market_value(problem: RebalanceProblem, options: Options) -> Fraction:
    """MV′ = cash + Σ holding·price + cash_flow."""
    held = sum((Fraction(s.quantity) * Fraction(s.price) for s in problem.securities), Fraction(0))
    return Fraction(problem.cash) + held + options.cash_flow


def budget(problem: RebalanceProblem, options: Options) -> Fraction:
    """The cash row's right-hand side: Σ units·price may not exceed it."""
    return adjusted_market_value(problem, options) * (1 - options.cash_reserve)


def _forbids(options: Options, security_id: str) -> tuple[bool, bool]:
    """(buying forbidden, selling forbidden) for one security."""
    restriction = options.restrictions.get(security_id)
    no_buy = options.mode == "sell_only" or restriction in ("no_buy", "locked")
    no_sell = options.mode == "buy_only" or restriction in ("no_sell", "locked")
    return no_buy, no_sell


def allowed(
    problem: RebalanceProblem, security: SecurityTarget, units: Units, options: Options
) -> bool:
    """Whether holding ``units`` of ``security`` after the rebalance breaks no rule of SPEC §8."""
    price, holding = Fraction(security.price), Fraction(security.quantity)
    if price <= 0 or units < 0:
        return False
    no_buy, no_sell = _forbids(options, security.security_id)
    if (no_buy and units > holding) or (no_sell and units < holding):
        return False
    if units != math.floor(units) and not (no_buy and no_sell and units == holding):
        return False  # whole units only, but a locked holding stays as it is
    trade = units - holding
    sells_out = units == 0 and holding > 0
    if trade != 0 and not sells_out:
        lot = options.lot_sizes.get(security.security_id, options.default_lot_size)
        if abs(trade) * price < options.min_trade_value:
            return False
        if abs(trade) < options.min_trade_quantity:
            return False
        if (units - math.floor(holding)) % lot != 0:
            return False  # a trade in lots, from the holding's whole part (ADR 0011)
    if options.bands == "soft":
        return True
    mv = adjusted_market_value(problem, options)
    target = Fraction(security.target)
    low = mv * (target - Fraction(security.low_drift) - options.widen)
    high = mv * (target + Fraction(security.high_drift) + options.widen)
    # A forbidden direction waives that side of the band, down (up) to the holding's whole part.
    if no_buy:
        low = min(low, math.floor(holding) * price)
    if no_sell:
        high = max(high, math.ceil(holding) * price)
    return low <= units * price <= high


def candidates(
    problem: RebalanceProblem, security: SecurityTarget, options: Options
) -> list[Units]:
    """Every admissible holding of ``security``, found by trying each whole unit up to the whole
    market value (and the holding itself, for a locked fraction)."""
    price, holding = Fraction(security.price), Fraction(security.quantity)
    if price <= 0:
        return []
    mv = max(adjusted_market_value(problem, options), Fraction(0))
    top = max(math.ceil(mv / price), math.ceil(holding), 0)
    tried: list[Units] = [Fraction(u) for u in range(top + 1)]
    if holding != math.floor(holding) and holding > 0:
        tried.append(holding)
    return sorted(u for u in tried if allowed(problem, security, u, options))


def objective_of(problem: RebalanceProblem, units: Sequence[Units], options: Options) -> Fraction:
    mv = adjusted_market_value(problem, options)
    return sum(
        (
            abs(mv * Fraction(s.target) - u * Fraction(s.price))
            for s, u in zip(problem.securities, units, strict=True)
        ),
        Fraction(0),
    )


def brute_force(
    problem: RebalanceProblem, options: Options, limit: int = DEFAULT_LIMIT
) -> Answer | None:
    """Every combination of admissible holdings; None when there are more than ``limit``."""
    if adjusted_market_value(problem, options) < 0:
        return Answer(False, None, ())
    sets = [candidates(problem, s, options) for s in problem.securities]
    if math.prod(len(c) for c in sets) > limit:
        return None
    room = budget(problem, options)
    best: Fraction | None = None
    winners: list[tuple[Units, ...]] = []
    for pick in itertools.product(*sets):
        spend = sum(
            (u * Fraction(s.price) for s, u in zip(problem.securities, pick, strict=True)),
            Fraction(0),
        )
        if spend > room:
            continue
        cost = objective_of(problem, pick, options)
        if best is None or cost < best:
            best, winners = cost, [pick]
        elif cost == best:
            winners.append(pick)
    if best is None:
        return Answer(False, None, ())
    return Answer(True, best, tuple(winners))


def feasible(problem: RebalanceProblem, options: Options) -> bool:
    """Feasibility without enumerating combinations: every security has an admissible holding
    and the cheapest of each together fit the cash row (costs play no part in feasibility)."""
    if adjusted_market_value(problem, options) < 0:
        return False
    cheapest = Fraction(0)
    for security in problem.securities:
        admissible = candidates(problem, security, options)
        if not admissible:
            return False
        cheapest += admissible[0] * Fraction(security.price)
    return cheapest <= budget(problem, options)


def smallest_widening(problem: RebalanceProblem, options: Options) -> Fraction | None:
    """``relax``: the least w on the 0.0001 grid (up to 1) at which the problem is feasible, or
    None. Widening only adds admissible holdings, so feasibility is monotone in w and bisection
    finds the boundary; both sides of it are checked."""

    def at(k: int) -> bool:
        return feasible(problem, _widened(options, k * GRID))

    if at(0):
        return Fraction(0)
    if not at(10_000):
        return None
    low, high = 0, 10_000  # infeasible at low, feasible at high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if at(middle) else (middle, high)
    assert at(high)
    assert not at(high - 1)
    return high * GRID


def _widened(options: Options, w: Fraction) -> Options:
    return Options(**{**options.__dict__, "widen": w})


# --- tests of the oracle itself: SPEC §8 by hand ------------------------------------------------

# MV = 10,000: A holds 40 units at 100 (40 %, target 30 % ± 5 %), B nothing (target 50 % ± 5 %).
BASE = make_problem(
    "6000", ("A", "100", "40", "0.3", "0.05", "0.05"), ("B", "50", "0", "0.5", "0.05", "0.05")
)


def test_no_options_is_the_plain_problem() -> None:
    answer = brute_force(BASE, Options())
    assert answer == Answer(True, Fraction(0), ((Fraction(30), Fraction(100)),))


def test_a_deposit_is_invested_by_the_targets_of_the_new_value() -> None:
    # MV′ = 12,000: A 3,600 = 36 units, B 6,000 = 120 units.
    answer = brute_force(BASE, Options(cash_flow=Fraction(2000)))
    assert answer is not None
    assert answer.optimal_solutions == ((Fraction(36), Fraction(120)),)


def test_a_withdrawal_larger_than_the_portfolio_is_infeasible() -> None:
    assert brute_force(BASE, Options(cash_flow=Fraction(-10001))) == Answer(False, None, ())
    assert not feasible(BASE, Options(cash_flow=Fraction(-10001)))


def test_a_cash_reserve_caps_the_spend() -> None:
    # The bands' cheapest holdings (25 A, 90 B) cost 7,000: a 30 % reserve leaves exactly that,
    # 31 % leaves 6,900.
    assert feasible(BASE, Options(cash_reserve=Fraction(30, 100)))
    assert not feasible(BASE, Options(cash_reserve=Fraction(31, 100)))
    # 20 %: 8,000 to spend, the targets need exactly 8,000.
    answer = brute_force(BASE, Options(cash_reserve=Fraction(1, 5)))
    assert answer is not None
    assert answer.optimal_solutions == ((Fraction(30), Fraction(100)),)


def test_no_sell_above_the_band_keeps_the_holding() -> None:
    # A is 40 % against a band of 25-35 %: no_sell waives the top of the band down to 40 units.
    problem, options = BASE, Options(restrictions={"A": "no_sell"})
    assert candidates(problem, problem.securities[0], options) == [Fraction(u) for u in (40,)]
    answer = brute_force(problem, options)
    assert answer is not None
    assert answer.optimal_solutions == ((Fraction(40), Fraction(100)),)


def test_no_buy_below_the_band_stays_and_is_not_infeasible() -> None:
    problem = make_problem("9000", ("A", "100", "10", "0.3", "0.05", "0.05"))
    options = Options(restrictions={"A": "no_buy"})
    assert candidates(problem, problem.securities[0], options) == [Fraction(10)]


def test_selling_out_is_allowed_under_a_lot_and_a_minimum_trade() -> None:
    # A outside the model (target 0, band [0, 0]) holding 150: lots of 100 cannot sell 150,
    # a minimum trade of 1,000,000 cannot be met, but selling out always can.
    problem = make_problem("0", ("A", "10", "150", "0", "0", "0"))
    options = Options(default_lot_size=100, min_trade_value=Fraction(1_000_000))
    assert candidates(problem, problem.securities[0], options) == [Fraction(0)]


def test_lots_anchor_trades_at_the_holding() -> None:
    # MV = 10,000, A holds 25 at 100; band 5-50 units; trades in lots of 10: 5, 15, …, 45. (Selling
    # out is exempt from the lot, not from the band, which starts at 5.)
    problem = make_problem("7500", ("A", "100", "25", "0.275", "0.225", "0.225"))
    options = Options(lot_sizes={"A": 10})
    expected = [5, 15, 25, 35, 45]
    assert candidates(problem, problem.securities[0], options) == [Fraction(u) for u in expected]


def test_a_minimum_trade_cuts_a_hole_around_the_holding() -> None:
    problem = make_problem("7500", ("A", "100", "25", "0.275", "0.225", "0.225"))
    options = Options(min_trade_quantity=8)
    units = candidates(problem, problem.securities[0], options)
    assert Fraction(25) in units
    assert not any(18 <= u <= 32 and u != 25 for u in units)
    assert Fraction(17) in units
    assert Fraction(33) in units


def test_soft_bands_admit_anything_the_cash_allows() -> None:
    problem = make_problem("100", ("A", "25", "0", "0.15", "0.05", "0.05"))
    assert not feasible(problem, Options())
    answer = brute_force(problem, Options(bands="soft"))
    assert answer is not None
    assert answer.optimal_solutions == ((Fraction(1),),)


def test_a_fractional_holding_trades_whole_units_and_lots_from_its_whole_part() -> None:
    # MV = 1,000 + 45 = 1,045; A's band 0-100 % holds 0-104 units at 10.
    problem = make_problem("1000", ("A", "10", "4.5", "0.5", "0.5", "0.5"))
    assert candidates(problem, problem.securities[0], Options()) == [
        Fraction(u) for u in range(105)
    ]
    lots = candidates(problem, problem.securities[0], Options(default_lot_size=50))
    assert lots == [Fraction(u) for u in (0, 4, 54, 104)]


def test_locked_fractional_holding_stays_as_it_is() -> None:
    problem = make_problem("1000", ("A", "10", "2.5", "0.5", "0.01", "0.01"))
    options = Options(restrictions={"A": "locked"})
    assert candidates(problem, problem.securities[0], options) == [Fraction(5, 2)]


def test_relax_finds_the_smallest_grid_widening() -> None:
    # MV = 100; A's band [10, 20] holds no unit at 25; widened by w it holds 25 once 20 + 100w ≥ 25.
    problem = make_problem("100", ("A", "25", "0", "0.15", "0.05", "0.05"))
    assert smallest_widening(problem, Options()) == Fraction(5, 100)
    assert smallest_widening(problem, Options(restrictions={"A": "no_buy"})) == Fraction(0)


def test_relax_cannot_fix_a_withdrawal_beyond_the_value() -> None:
    assert smallest_widening(BASE, Options(cash_flow=Fraction(-20000))) is None


# --- the oracle's two readings of feasibility agree ----------------------------------------------


@st.composite
def small_problems_with_options(draw: st.DrawFn) -> tuple[RebalanceProblem, Options]:
    """Two or three securities, holdings and prices small enough to enumerate, any options."""
    ids = ["A", "B", "C"][: draw(st.integers(1, 3))]
    rows = []
    for sid in ids:
        price = draw(st.sampled_from(["7", "12.5", "20", "33"]))
        quantity = draw(st.sampled_from(["0", "1", "3", "4.5", "8", "-2"]))
        target = draw(st.sampled_from(["0", "0.1", "0.25", "0.3"]))
        drift = draw(st.sampled_from(["0", "0.02", "0.05", "0.2"]))
        rows.append((sid, price, quantity, target, drift, drift))
    cash = draw(st.sampled_from(["0", "40", "100", "250"]))
    options = Options(
        cash_flow=Fraction(draw(st.sampled_from([0, 0, 60, -30, -400]))),
        cash_reserve=draw(st.sampled_from([Fraction(0), Fraction(0), Fraction(1, 10)])),
        mode=draw(st.sampled_from(["full", "full", "buy_only", "sell_only"])),
        restrictions=draw(
            st.dictionaries(st.sampled_from(ids), st.sampled_from(["no_buy", "no_sell", "locked"]))
        ),
        min_trade_value=Fraction(draw(st.sampled_from([0, 0, 25]))),
        min_trade_quantity=draw(st.sampled_from([0, 0, 2])),
        lot_sizes=draw(st.dictionaries(st.sampled_from(ids), st.sampled_from([1, 2, 3]))),
        default_lot_size=draw(st.sampled_from([1, 1, 2])),
        bands=draw(st.sampled_from(["hard", "hard", "soft"])),
    )
    return make_problem(cash, *rows), options


@settings(max_examples=150, deadline=None)
@given(small_problems_with_options())
def test_enumeration_and_the_cheapest_holdings_agree_on_feasibility(
    case: tuple[RebalanceProblem, Options],
) -> None:
    problem, options = case
    answer = brute_force(problem, options, limit=200_000)
    assume(answer is not None)
    assert answer is not None
    assert answer.feasible == feasible(problem, options)
    for solution in answer.optimal_solutions:
        assert objective_of(problem, solution, options) == answer.objective
        for security, units in zip(problem.securities, solution, strict=True):
            assert allowed(problem, security, units, options)
