"""The optimizer's property tests (test_optimizer_properties.py), small and derandomized, for
mutation runs only (docs/mutation-testing.md).

The full property tests draw 750 random examples (about 25 s); mutmut runs the tests of a
function once per mutant, so they would cost hours, and random draws would make a mutant's
verdict change from run to run. Here the same test bodies run on a fixed set of examples
(``derandomize``, no example database) of a few seconds in all, so every mutant of the optimizer
is also checked against the brute-force oracle, and a verdict is the same on every run.

They run only under mutmut (which sets ``MUTANT_UNDER_TEST``), or with
``OGS_MUTATION_PROPERTIES=1``; the full property tests already cover ordinary runs.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.unit import test_optimizer_properties as properties

if "MUTANT_UNDER_TEST" not in os.environ and not os.environ.get("OGS_MUTATION_PROPERTIES"):
    pytest.skip(
        "mutation runs only (the full property tests cover ordinary runs)",
        allow_module_level=True,
    )

FIXED = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    # A verdict is all a mutation run needs: shrinking a failure would only cost time.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)


@settings(FIXED, max_examples=60)
@given(properties.small_problems())
def test_small_problems_match_brute_force_fixed(problem: properties.RebalanceProblem) -> None:
    properties.test_small_problems_match_brute_force.hypothesis.inner_test(problem)  # type: ignore[attr-defined]


@settings(FIXED, max_examples=60)
@given(st.one_of(properties.tied_problems(), properties.small_problems()))
def test_ties_keep_the_unit_closer_to_the_holding_fixed(
    problem: properties.RebalanceProblem,
) -> None:
    properties.test_ties_keep_the_unit_closer_to_the_holding.hypothesis.inner_test(problem)  # type: ignore[attr-defined]


@settings(FIXED, max_examples=25)
@given(properties.wide_problems())
def test_wide_problems_are_exact_and_deterministic_fixed(
    problem: properties.RebalanceProblem,
) -> None:
    properties.test_wide_problems_are_exact_and_deterministic.hypothesis.inner_test(problem)  # type: ignore[attr-defined]


@settings(FIXED, max_examples=40)
@given(properties.exact_edge_problems())
def test_exact_band_edges_are_admissible_fixed(
    case: tuple[properties.RebalanceProblem, dict[str, int]],
) -> None:
    properties.test_exact_band_edges_are_admissible.hypothesis.inner_test(case)  # type: ignore[attr-defined]
