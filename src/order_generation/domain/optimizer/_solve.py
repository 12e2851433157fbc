"""``optimize_rebalance``: exact bounds, the separable optimum, and the MILP only when cash binds.

The objective Σ|MV·tᵢ − uᵢ·pᵢ| is separable and the cash row is the only coupling, so:
1. each band gives exact whole-unit bounds [firstᵢ, lastᵢ]; an empty one, or a sum of band
   minima above the market value, proves infeasibility (and names the reason);
2. each security's nearest admissible unit minimises its own term, so if together they fit in
   the cash they are the optimum — no solver needed (nearly every real portfolio);
3. otherwise cash binds and ``_milp.cheapest_cuts`` decides which units to give up.
Every answer, whichever way it was found, is re-verified exactly before it is returned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from order_generation.domain.optimizer import _constrained, _reasons
from order_generation.domain.optimizer._exact import (
    UnitBounds,
    ceil_div,
    exact,
    tie_break,
    unit_bounds,
)
from order_generation.domain.optimizer._highs import OptimizerFailure
from order_generation.domain.optimizer._milp import Cuttable, cheapest_cuts
from order_generation.domain.optimizer._problem import (
    Infeasibility,
    RebalanceProblem,
    RebalanceSolution,
)
from order_generation.domain.optimizer._validate import validate
from order_generation.domain.optimizer._verify import VerificationFailed, verify

_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class _Prepared:
    problem: RebalanceProblem
    market_value: Decimal
    bounds: list[UnitBounds]
    excess: Decimal  # spend of the nearest units beyond the market value (> 0)


# The MILP's time limit unless the caller says otherwise (OGS_OPTIMIZER_TIMEOUT_SECONDS).
DEFAULT_TIME_LIMIT_SECONDS = 30.0


def optimize_rebalance(
    problem: RebalanceProblem, *, time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS
) -> RebalanceSolution:
    """The whole-unit holdings that minimise drift, proven optimal, or why there are none.

    Minimises Σ|MV·tᵢ − uᵢ·pᵢ| over whole uᵢ ≥ 0 subject to MV·(tᵢ − lᵢ) ≤ uᵢ·pᵢ ≤ MV·(tᵢ + hᵢ)
    and Σ uᵢ·pᵢ ≤ MV (SPEC §4 step 6), in exact arithmetic. Where a security's two nearest units
    are equally good, the one nearer its current holding is kept. Deterministic. Synchronous and
    CPU-bound: when cash binds it runs a MILP for up to ``time_limit_seconds`` (status
    ``"timeout"`` after that), so call it from a worker thread, or try
    ``optimize_rebalance_inline`` first.

    Raises ``ValueError`` for a duplicated security id or a non-finite number (NaN, Infinity),
    ``TypeError`` for a number that is not a ``Decimal``; every other input gets an answer.
    """
    started = time.monotonic()
    prepared = _prepare(problem)
    if isinstance(prepared, RebalanceSolution):
        return prepared
    remaining = time_limit_seconds - (time.monotonic() - started)
    if isinstance(prepared, _constrained.Ready):
        return _constrained.cash_binding(prepared, remaining, time_limit_seconds)
    return _cash_binding(prepared, remaining, time_limit_seconds)


def optimize_rebalance_inline(problem: RebalanceProblem) -> RebalanceSolution | None:
    """The answer when it needs no solver (infeasible, or cash does not bind), else ``None``.

    Costs microseconds per security and never blocks for long: safe to call on an event loop
    before handing the rare cash-binding problem to ``optimize_rebalance`` in a worker.
    """
    prepared = _prepare(problem)
    if isinstance(prepared, RebalanceSolution):
        return prepared
    return None


def _prepare(problem: RebalanceProblem) -> _Prepared | _constrained.Ready | RebalanceSolution:
    """The answer when no solver is needed (infeasible, or the nearest units fit the cash),
    else what the cash-binding solve needs."""
    validate(problem)
    securities = problem.securities
    market_value = problem.market_value
    for security in securities:
        if security.price <= 0:
            return _infeasible(market_value, _reasons.non_positive_price(security))
    if problem.options is not None:
        return _constrained.prepare(problem, market_value)
    if market_value < 0:
        return _infeasible(market_value, _reasons.negative_market_value(market_value))
    units = _separable_units(problem, market_value)
    if units is not None:
        return _answer(problem, market_value, units, "separable")
    with exact():
        bounds = [
            unit_bounds(market_value, s.price, s.quantity, s.target, s.low_drift, s.high_drift)
            for s in securities
        ]
        minimum = spend = Decimal(0)
        empty: list[int] = []
        for i, b in enumerate(bounds):
            if b.last < b.first:
                empty.append(i)
            minimum += b.first * b.price
            spend += b.nearest * b.price
    if empty:
        reason = _reasons.empty_band(securities[empty[0]], bounds[empty[0]], len(empty))
        return _infeasible(market_value, reason)
    if minimum > market_value:
        return _infeasible(market_value, _reasons.minimum_spend(minimum, market_value))
    if spend <= market_value:  # some nearest units were clamped into their bands, and fit
        return _answer(problem, market_value, [b.nearest for b in bounds], "separable")
    with exact():
        return _Prepared(problem, market_value, bounds, spend - market_value)


def _separable_units(problem: RebalanceProblem, market_value: Decimal) -> list[Decimal] | None:
    """Each security's nearest whole unit, when every one lies inside its band and together they
    fit the cash: then it is the answer, found without the full bounds (the common case, so it
    costs one division per security instead of three). Otherwise None.

    A nearest unit inside its band is exactly what ``unit_bounds`` would clamp it to, so both
    paths give the same answer.
    """
    units: list[Decimal] = []
    spend = _ZERO
    with exact():
        for s in problem.securities:
            # ``nearest_unit`` written out: this loop is the whole cost of a typical rebalance.
            price = s.price
            unit, rest = divmod(market_value * s.target, price)
            if rest < _ZERO:
                unit -= _ONE
                rest += price
            twice_rest = rest + rest
            if twice_rest > price:
                unit += _ONE
            elif twice_rest == price:
                unit = tie_break(unit, s.quantity)
            value = unit * price
            if (
                unit < _ZERO
                or value < market_value * (s.target - s.low_drift)
                or value > market_value * (s.target + s.high_drift)
            ):
                return None
            units.append(unit)
            spend += value
        return units if spend <= market_value else None


def _cash_binding(prepared: _Prepared, remaining: float, time_limit: float) -> RebalanceSolution:
    with exact():
        items = [
            Cuttable(i, b.price, b.nearest * b.price - b.ideal, most)
            for i, b in enumerate(prepared.bounds)
            if (most := int(min(b.nearest - b.first, ceil_div(prepared.excess, b.price)))) > 0
        ]
    cuts = cheapest_cuts(items, prepared.excess, remaining)
    if cuts.by_index is None:
        return RebalanceSolution(
            "timeout", prepared.market_value, {}, None, _reasons.timeout(time_limit), "milp"
        )
    with exact():
        units = [b.nearest - cuts.by_index.get(i, 0) for i, b in enumerate(prepared.bounds)]
        _prefer_holdings(prepared, units)
    method = "milp" if cuts.proven else "milp-rounded"
    return _answer(prepared.problem, prepared.market_value, units, method)


def _prefer_holdings(prepared: _Prepared, units: list[Decimal]) -> None:
    """Where the solver's unit and its neighbour are equally good (the ideal lies half-way) and
    both are admissible, apply the tie rule (``tie_break``): the solver may return either.

    Moves that sell run first: they only free cash, so every purchase considered afterwards
    sees all the cash it could ever have. Neither kind changes the objective.
    """
    securities = prepared.problem.securities
    spend = sum((u * b.price for u, b in zip(units, prepared.bounds, strict=True)), Decimal(0))
    for step in (-1, 1):
        for i, (security, b) in enumerate(zip(securities, prepared.bounds, strict=True)):
            unit, other = units[i], units[i] + step
            if not b.first <= other <= b.last or spend + step * b.price > prepared.market_value:
                continue
            if 2 * (b.ideal - unit * b.price) * step != b.price:
                continue  # not a tie
            chosen = tie_break(min(unit, other), security.quantity)
            if chosen == other:
                units[i] = other
                spend += step * b.price


def _answer(
    problem: RebalanceProblem, market_value: Decimal, units: list[Decimal], method: str
) -> RebalanceSolution:
    try:
        objective = verify(problem, units)
    except VerificationFailed as failure:
        raise OptimizerFailure(f"an answer failed exact verification: {failure}") from failure
    ids = (s.security_id for s in problem.securities)
    quantities: dict[str, int | Decimal] = dict(zip(ids, map(int, units), strict=True))
    return RebalanceSolution("optimal", market_value, quantities, objective, None, method)


def _infeasible(market_value: Decimal, reason: Infeasibility) -> RebalanceSolution:
    return RebalanceSolution("infeasible", market_value, {}, None, reason, "bounds")
