"""The optimizer's input and output: plain, immutable values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, NamedTuple

from order_generation.domain.optimizer._exact import exact
from order_generation.domain.trading_options import TradingOptions

Status = Literal["optimal", "infeasible", "timeout", "in_band"]


class SecurityTarget(NamedTuple):
    """One security of the rebalance universe.

    ``quantity`` is the current holding as accounting reports it (it may be fractional or
    negative). ``target``, ``low_drift`` and ``high_drift`` are fractions of the market value; a
    held security that is not in the model has all three equal to 0.

    A named tuple rather than a frozen dataclass: problems are built by the hundred thousand, and
    a tuple costs a quarter as much to make.
    """

    security_id: str
    price: Decimal
    quantity: Decimal
    target: Decimal
    low_drift: Decimal
    high_drift: Decimal


@dataclass(frozen=True, slots=True)
class RebalanceProblem:
    """A portfolio's cash and holdings against its model: the input of ``optimize_rebalance``.

    Security ids must be unique (the caller builds one union universe per portfolio).
    ``options`` are SPEC §8's trading options; ``None`` is today's problem exactly (the no-body
    rebalance), which an all-defaults ``TradingOptions()`` also gives, by a longer road.
    """

    cash: Decimal
    securities: tuple[SecurityTarget, ...]
    options: TradingOptions | None = None

    @property
    def market_value(self) -> Decimal:
        """``cash + Σ quantity·price``, exact."""
        with exact():
            total = self.cash
            for security in self.securities:
                total += security.quantity * security.price
            return total


@dataclass(frozen=True, slots=True)
class Infeasibility:
    """Why no answer was returned: a stable ``kind``, a sentence, and the numbers behind it.

    Kinds: ``non_positive_price``, ``negative_market_value``, ``empty_band`` (the band of
    ``security_id`` holds no whole unit ≥ 0 at its price), ``minimum_spend_exceeds_market_value``
    (buying the fewest admissible units of every security costs more than the market value),
    ``timeout`` (no proven optimum within the time limit). Under trading options also
    ``cash_flow_exceeds_market_value``, ``lot_size``, ``min_trade`` and ``restriction`` (an
    option leaves ``security_id`` no admissible holding; ``details["option"]`` names it), and
    ``relaxed`` (not a failure: the reason an answer under ``relax`` widened the bands).
    ``details`` holds exact decimals as strings.
    """

    kind: str
    message: str
    security_id: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RebalanceSolution:
    """The optimizer's answer.

    ``quantities`` maps every security of the problem, in problem order, to its new whole units
    when ``status`` is ``"optimal"``, and is empty otherwise (``"in_band"``: trigger
    ``out_of_band`` found nothing to trade). The one unit that may not be a whole ``int`` is a
    ``locked`` fractional holding, kept as its ``Decimal``. ``market_value`` is the value the
    targets applied to (MV′ = MV + ``cash_flow``). ``relaxed_by`` is the band widening ``relax``
    needed, else ``None``. ``objective`` is the exact
    ``Σ|MV·target − units·price|`` of that answer. ``method`` says how the answer was decided:
    ``"bounds"`` (infeasible by exact per-security bounds), ``"separable"`` (the nearest admissible
    unit of every security fits the cash, which proves it optimal), ``"milp"`` (cash binds; HiGHS
    branch and bound on exact integer data, gap 0), ``"milp-rounded"`` (as ``milp``, but the data
    needed more than 53 bits and were rounded for the solver: exactly verified feasible, optimal
    to about 15 significant digits of the costs).
    """

    status: Status
    market_value: Decimal
    quantities: Mapping[str, int | Decimal]
    objective: Decimal | None
    reason: Infeasibility | None
    method: str = ""
    relaxed_by: Decimal | None = None
