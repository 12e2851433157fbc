"""The solve under SPEC §8's trading options (docs/adr/0011).

The same three steps as ``_solve``, over each security's admissible *segments* instead of one
band interval, against the cash row Σ uᵢ·pᵢ ≤ MV′·(1 − r) with MV′ = MV + cash_flow:
1. an empty set, or the cheapest admissible holdings above the cash row, prove infeasibility,
   and ``_reasons`` names the option and security that make it so;
2. the nearest admissible unit of every security, if together they fit, is the optimum;
3. otherwise ``_milp.cheapest_choices`` decides which securities to cut, and how far.
``relax`` bisects the 0.0001 grid of band widenings with step 1 alone (feasibility only grows
as the bands widen), then solves once at the smallest. Every answer is re-checked against the
options literally (``_verify.verify_with_options``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from order_generation.domain.optimizer import _reasons
from order_generation.domain.optimizer._admissible import (
    Segment,
    admissible_segments,
    nearest_admissible,
)
from order_generation.domain.optimizer._exact import ceil_div, exact, nearest_unit
from order_generation.domain.optimizer._highs import OptimizerFailure
from order_generation.domain.optimizer._milp import Choosable, CutRange, cheapest_choices
from order_generation.domain.optimizer._problem import (
    Infeasibility,
    RebalanceProblem,
    RebalanceSolution,
    SecurityTarget,
)
from order_generation.domain.optimizer._verify import VerificationFailed, verify_with_options
from order_generation.domain.trading_options import (
    SecurityRules,
    TradingOptions,
    security_rules,
)

_ZERO = Decimal(0)
_ONE = Decimal(1)
_GRID = 10_000  # relax widens in steps of 1/10,000


@dataclass(frozen=True, slots=True)
class Frame:
    """What a solve under options is measured against."""

    problem: RebalanceProblem
    options: TradingOptions
    market_value: Decimal  # MV′ = MV + cash_flow
    budget: Decimal  # MV′·(1 − cash_reserve): the cash row
    widen: Decimal  # every band wider by this on both sides (relax)
    rules: tuple[SecurityRules, ...]


@dataclass(frozen=True, slots=True)
class Ready:
    """Cash binds: what the MILP needs."""

    frame: Frame
    segments: list[list[Segment]]
    nearest: list[Decimal]
    excess: Decimal  # spend of the nearest units beyond the budget (> 0)


def prepare(problem: RebalanceProblem, market_value: Decimal) -> Ready | RebalanceSolution:
    """Step 1 and 2 (and ``trigger``, and ``relax``'s search); ``Ready`` when cash binds."""
    options = problem.options
    assert options is not None
    with exact():
        adjusted = market_value + options.cash_flow
        budget = adjusted * (_ONE - options.cash_reserve)
    if adjusted < 0:
        reason = (
            _reasons.cash_flow_exceeds(options.cash_flow, market_value)
            if options.cash_flow < 0
            else _reasons.negative_market_value(adjusted)
        )
        return _infeasible(adjusted, reason)
    rules = _rules(options, problem.securities)
    frame = Frame(problem, options, adjusted, budget, _ZERO, rules)
    if options.trigger == "out_of_band" and _in_band(frame):
        return RebalanceSolution("in_band", adjusted, {}, None, None, "trigger")
    attempt = _attempt(frame)
    if not isinstance(attempt, Infeasibility) or options.on_infeasible != "relax":
        return _infeasible(adjusted, attempt) if isinstance(attempt, Infeasibility) else attempt
    widening = _smallest_widening(frame)
    if widening is None:
        blocked = _attempt(replace(frame, widen=_ONE))
        assert isinstance(blocked, Infeasibility)
        return _infeasible(adjusted, _reasons.relax_cannot_help(blocked))
    relaxed = _attempt(replace(frame, widen=widening))
    assert not isinstance(relaxed, Infeasibility)
    return relaxed


def cash_binding(ready: Ready, remaining: float, time_limit: float) -> RebalanceSolution:
    """Step 3: the MILP over each security's cuts below its nearest unit."""
    frame = ready.frame
    items = []
    with exact():
        for i, (security, segments) in enumerate(
            zip(frame.problem.securities, ready.segments, strict=True)
        ):
            nearest = ready.nearest[i]
            ranges = _cut_ranges(segments, nearest, ready.excess, security.price)
            if ranges:
                surplus = nearest * security.price - frame.market_value * security.target
                items.append(Choosable(i, security.price, surplus, ranges))
    cuts = cheapest_choices(items, ready.excess, remaining)
    if cuts.by_index is None:
        return RebalanceSolution(
            "timeout", frame.market_value, {}, None, _reasons.timeout(time_limit), "milp"
        )
    with exact():
        units = [n - cuts.by_index.get(i, 0) for i, n in enumerate(ready.nearest)]
        _prefer_holdings(frame, ready.segments, units)
    return _answer(frame, units, "milp" if cuts.proven else "milp-rounded")


def _attempt(frame: Frame) -> Ready | RebalanceSolution | Infeasibility:
    """Steps 1 and 2 at ``frame.widen``."""
    segments = _segments(frame)
    if isinstance(segments, Infeasibility):
        return segments
    securities = frame.problem.securities
    with exact():
        nearest = [
            _nearest(sets, frame.market_value * s.target, s.price, s.quantity)
            for s, sets in zip(securities, segments, strict=True)
        ]
        spend = sum((u * s.price for u, s in zip(nearest, securities, strict=True)), _ZERO)
    if spend <= frame.budget:
        return _answer(frame, nearest, "separable")
    with exact():
        return Ready(frame, segments, nearest, spend - frame.budget)


def _rules(
    options: TradingOptions, securities: tuple[SecurityTarget, ...]
) -> tuple[SecurityRules, ...]:
    """Each security's rules; those no map names share one value (computed once)."""
    named = options.restrictions.keys() | options.lot_sizes.keys()
    shared: SecurityRules | None = None
    rules = []
    for security in securities:
        if security.security_id in named:
            rules.append(security_rules(options, security.security_id))
        else:
            shared = shared or security_rules(options, security.security_id)
            rules.append(shared)
    return tuple(rules)


def _nearest(segments: list[Segment], ideal: Decimal, price: Decimal, holding: Decimal) -> Decimal:
    """``nearest_admissible``, for one run of whole units (most securities) the plain
    problem's nearest unit clamped to it: the same unit, found with one division."""
    if len(segments) == 1 and segments[0].step == _ONE:
        first, last = segments[0].first, segments[0].last
        return min(max(nearest_unit(ideal, price, holding), first), last)
    return nearest_admissible(segments, ideal, price, holding)


def _segments(frame: Frame) -> list[list[Segment]] | Infeasibility:
    """Every security's admissible segments, or why there is no answer at all (step 1)."""
    found = _admissible_or_culprit(frame)
    if isinstance(found, _Empty):
        return _why_empty(frame, found.security, found.rules)
    all_segments, minimum = found
    if minimum > frame.budget:
        return _why_too_dear(frame, all_segments, minimum)
    return all_segments


def _feasible(frame: Frame) -> bool:
    """Step 1's verdict alone, without the reason (``relax`` asks it a dozen times)."""
    found = _admissible_or_culprit(frame)
    return not isinstance(found, _Empty) and found[1] <= frame.budget


@dataclass(frozen=True, slots=True)
class _Empty:
    """A security with no admissible holding, and its rules."""

    security: SecurityTarget
    rules: SecurityRules


def _admissible_or_culprit(frame: Frame) -> tuple[list[list[Segment]], Decimal] | _Empty:
    """Every security's segments and the cost of the cheapest holdings, or the first security
    with no admissible holding and its rules."""
    all_segments: list[list[Segment]] = []
    minimum = _ZERO
    budget = frame.budget
    with exact():
        for security, rules in zip(frame.problem.securities, frame.rules, strict=True):
            segments = _security_segments(frame, security, rules, budget)
            if not segments:
                return _Empty(security, rules)
            all_segments.append(segments)
            minimum += segments[0].first * security.price
    return all_segments, minimum


def _why_empty(frame: Frame, security: SecurityTarget, rules: SecurityRules) -> Infeasibility:
    """Which option leaves ``security`` no admissible holding: the band itself, the cash row
    (a holding a direction keeps), the lot, the minimum trade, or the direction alone."""
    with exact():
        low, high = _band(frame, security)
        ample = max(frame.budget, high, (abs(security.quantity) + _ONE) * security.price)

        def admits(changed: SecurityRules, most: Decimal = ample) -> bool:
            return bool(_security_segments(frame, security, changed, most))

        if not admits(SecurityRules(soft_band=rules.soft_band)):
            return _reasons.band_without_units(security, low, high)
        options, mv = frame.options, frame.market_value
        if admits(rules):  # only the cash row empties it: a holding kept, or a dear band
            plain_band = SecurityRules(soft_band=rules.soft_band)
            if (rules.no_buy or rules.no_sell) and admits(plain_band, frame.budget):
                return _reasons.restriction(options, security, mv, low, high, frame.budget)
            cheapest = _security_segments(frame, security, rules, ample)[0].first * security.price
            return _reasons.cheapest_holdings_exceed(options, cheapest, frame.budget)
        # Drop the trade rules one by one until a holding is admitted; name those dropped.
        blamed: list[str] = []
        relaxed = rules
        for name, is_set in (
            ("lot_sizes", rules.lot != 1),
            ("min_trade_quantity", rules.min_trade_quantity != 0),
            ("min_trade_value", rules.min_trade_value != 0),
        ):
            if not is_set:
                continue
            blamed.append(name)
            relaxed = _without(relaxed, name)
            if admits(relaxed):
                break
        else:
            return _reasons.restriction(options, security, mv, low, high, frame.budget)
        return _reasons.trade_rules(security, rules, blamed, low, high)


def _without(rules: SecurityRules, option: str) -> SecurityRules:
    if option == "lot_sizes":
        return replace(rules, lot=1)
    if option == "min_trade_quantity":
        return replace(rules, min_trade_quantity=0)
    return replace(rules, min_trade_value=_ZERO)


def _why_too_dear(
    frame: Frame, all_segments: list[list[Segment]], minimum: Decimal
) -> Infeasibility:
    """The cheapest admissible holdings overspend: name the security a direction forces
    furthest above its band's fewest units, if any, else the cash row."""
    worst: tuple[Decimal, SecurityTarget] | None = None
    with exact():
        for security, rules, segments in zip(
            frame.problem.securities, frame.rules, all_segments, strict=True
        ):
            if not rules.no_sell:
                continue
            low, high = _band(frame, security)
            band_first = _ZERO if rules.soft_band else max(_ZERO, ceil_div(low, security.price))
            forced = (segments[0].first - band_first) * security.price
            if forced > 0 and (worst is None or forced > worst[0]):
                worst = (forced, security)
    if worst is None:
        return _reasons.cheapest_holdings_exceed(frame.options, minimum, frame.budget)
    security = worst[1]
    with exact():
        low, high = _band(frame, security)
    return _reasons.restriction(
        frame.options, security, frame.market_value, low, high, frame.budget
    )


def _band(frame: Frame, security: SecurityTarget) -> tuple[Decimal, Decimal]:
    """The band of value, widened by ``frame.widen`` (exact context)."""
    mv, target = frame.market_value, security.target
    return (
        mv * (target - security.low_drift - frame.widen),
        mv * (target + security.high_drift + frame.widen),
    )


def _security_segments(
    frame: Frame, security: SecurityTarget, rules: SecurityRules, most: Decimal
) -> list[Segment]:
    low, high = _band(frame, security)
    return admissible_segments(security.price, security.quantity, low, high, most, rules)


def _smallest_widening(frame: Frame) -> Decimal | None:
    """The least k/10,000 (k ≤ 10,000) at which step 1 finds no obstacle, or None. Doubling k
    from 1 then bisecting: most problems need a small widening, found in ~2·log₂ k checks."""

    def feasible(k: int) -> bool:
        return _feasible(replace(frame, widen=_grid(k)))

    low, high = 0, 1  # infeasible at low (the caller's attempt)
    while not feasible(high):
        if high == _GRID:
            return None
        low, high = high, min(2 * high, _GRID)
    while high - low > 1:  # infeasible at low, feasible at high
        middle = (low + high) // 2
        if feasible(middle):
            high = middle
        else:
            low = middle
    return _grid(high)


def _grid(k: int) -> Decimal:
    """k/10,000 exactly, without trailing zeros (0.05, not 0.0500)."""
    with exact():
        return (Decimal(k) / _GRID).normalize()


def _in_band(frame: Frame) -> bool:
    """``trigger: out_of_band``'s test on today's holdings: every value inside its band of MV′
    and cash after the cash flow ≥ 0 and ≥ the reserve."""
    problem, options = frame.problem, frame.options
    with exact():
        cash = problem.cash + options.cash_flow
        if cash < 0 or cash < frame.market_value * options.cash_reserve:
            return False
        for security in problem.securities:
            low, high = _band(frame, security)
            if not low <= security.quantity * security.price <= high:
                return False
    return True


def _cut_ranges(
    segments: list[Segment], nearest: Decimal, excess: Decimal, price: Decimal
) -> tuple[CutRange, ...]:
    """The admissible cuts below ``nearest`` as ascending progressions, without those an
    optimal answer never takes: a cut whose last step alone still covers the excess could
    put that step back (exact context)."""
    enough = int(ceil_div(excess, price))  # cuts of at least this cover the excess alone
    ranges: list[CutRange] = []
    for segment in reversed(segments):
        if segment.first >= nearest:
            continue
        top = segment.last if segment.last < nearest else nearest - segment.step
        if top < segment.first:
            continue
        first, step = int(nearest - top), int(segment.step)
        count = int((top - segment.first) // segment.step)
        useful = max(0, -(-(enough - first) // step))  # steps until a cut covers the excess
        ranges.append(CutRange(first, step, min(count, useful)))
        if first + step * min(count, useful) >= enough:
            break  # the rest are larger cuts than one that covers the excess alone
    return tuple(ranges)


def _prefer_holdings(frame: Frame, segments: list[list[Segment]], units: list[Decimal]) -> None:
    """The tie rule of §4.6 on the MILP's answer: where an admissible neighbour of a unit is
    exactly as near the ideal, nearer the holding and affordable, take it (sells first, so
    purchases see all the cash). The objective does not change."""
    securities = frame.problem.securities
    spend = sum((u * s.price for u, s in zip(units, securities, strict=True)), _ZERO)
    for direction in (-1, 1):
        for i, security in enumerate(securities):
            unit = units[i]
            other = _neighbour(segments[i], unit, direction)
            if other is None:
                continue
            change = (other - unit) * security.price
            if spend + change > frame.budget:
                continue
            ideal = frame.market_value * security.target
            price, holding = security.price, security.quantity
            if abs(ideal - other * price) != abs(ideal - unit * price):
                continue
            if (abs(other - holding), other) < (abs(unit - holding), unit):
                units[i] = other
                spend += change


def _neighbour(segments: list[Segment], unit: Decimal, direction: int) -> Decimal | None:
    """The admissible unit next to ``unit`` below (direction −1) or above (+1) it."""
    found: Decimal | None = None
    for segment in segments:
        if direction < 0 and segment.first < unit:
            candidate = min(segment.last, _step_below(segment, unit))
            found = candidate if found is None else max(found, candidate)
        elif direction > 0 and segment.last > unit:
            candidate = _step_above(segment, unit)
            found = candidate if found is None else min(found, candidate)
    return found


def _step_below(segment: Segment, unit: Decimal) -> Decimal:
    steps = ceil_div(unit - segment.first, segment.step) - _ONE
    return segment.first + steps * segment.step


def _step_above(segment: Segment, unit: Decimal) -> Decimal:
    if unit < segment.first:
        return segment.first
    steps = (unit - segment.first) // segment.step
    return segment.first + (steps + _ONE) * segment.step


def _answer(frame: Frame, units: list[Decimal], method: str) -> RebalanceSolution:
    problem = frame.problem
    try:
        objective = verify_with_options(problem, frame.options, units, widen=frame.widen)
    except VerificationFailed as failure:
        raise OptimizerFailure(f"an answer failed exact verification: {failure}") from failure
    quantities = {
        s.security_id: int(u) if u == u.to_integral_value() else u
        for s, u in zip(problem.securities, units, strict=True)
    }
    if not frame.widen:
        return RebalanceSolution("optimal", frame.market_value, quantities, objective, None, method)
    reason = _reasons.relaxed(frame.widen)
    return RebalanceSolution(
        "optimal", frame.market_value, quantities, objective, reason, method, frame.widen
    )


def _infeasible(market_value: Decimal, reason: Infeasibility) -> RebalanceSolution:
    return RebalanceSolution("infeasible", market_value, {}, None, reason, "bounds")
