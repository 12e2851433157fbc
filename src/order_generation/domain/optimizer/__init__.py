"""The exact integer rebalancing optimizer (SPEC §4 step 6); see docs/optimizer.md.

Pure and synchronous: no I/O and no settings. ``optimize_rebalance`` answers any problem;
``optimize_rebalance_inline`` answers the ones that need no solver and returns ``None`` for the
rest, so a caller can keep fast answers on its event loop and send only cash-binding problems to
a worker.
"""

from order_generation.domain.optimizer._exact import exact, plain
from order_generation.domain.optimizer._highs import OptimizerFailure
from order_generation.domain.optimizer._problem import (
    Infeasibility,
    RebalanceProblem,
    RebalanceSolution,
    SecurityTarget,
    Status,
)
from order_generation.domain.optimizer._solve import (
    DEFAULT_TIME_LIMIT_SECONDS,
    optimize_rebalance,
    optimize_rebalance_inline,
)
from order_generation.domain.optimizer._validate import validate as check_problem

__all__ = [
    "DEFAULT_TIME_LIMIT_SECONDS",
    "Infeasibility",
    "OptimizerFailure",
    "RebalanceProblem",
    "RebalanceSolution",
    "SecurityTarget",
    "Status",
    "check_problem",
    "exact",
    "optimize_rebalance",
    "optimize_rebalance_inline",
    "plain",
]
