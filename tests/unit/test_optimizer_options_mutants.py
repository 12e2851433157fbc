"""The trading-options properties (test_optimizer_options.py, test_optimizer_admissible.py),
small and derandomized, for mutation runs only (docs/mutation-testing.md): every mutant of the
constrained solve is checked against the brute-force oracle on the same fixed examples each run.
Like test_optimizer_properties_mutants, they run only under mutmut (``MUTANT_UNDER_TEST``) or
with ``OGS_MUTATION_PROPERTIES=1``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings

from tests.unit import test_optimizer_admissible as admissible
from tests.unit import test_optimizer_constrained_parts as parts
from tests.unit import test_optimizer_options as options
from tests.unit.test_optimizer_options_oracle import small_problems_with_options
from tests.unit.test_optimizer_properties_mutants import FIXED

if "MUTANT_UNDER_TEST" not in os.environ and not os.environ.get("OGS_MUTATION_PROPERTIES"):
    pytest.skip(
        "mutation runs only (the full property tests cover ordinary runs)",
        allow_module_level=True,
    )

Case = tuple[options.RebalanceProblem, options.Options]


@settings(FIXED, max_examples=120)
@given(options.oracle_problems())
def test_same_optimum_as_brute_force_fixed(case: Case) -> None:
    options.test_same_optimum_as_brute_force_and_infeasible_exactly_when_it_finds_nothing.hypothesis.inner_test(
        case
    )  # type: ignore[attr-defined]


@settings(FIXED, max_examples=40)
@given(options.oracle_problems())
def test_relax_answers_the_optimum_at_the_smallest_grid_widening_fixed(case: Case) -> None:
    options.test_relax_answers_the_optimum_at_the_smallest_grid_widening.hypothesis.inner_test(case)  # type: ignore[attr-defined]


@settings(FIXED, max_examples=40)
@given(options.oracle_problems())
def test_the_inline_answer_is_the_full_answer_or_none_fixed(case: Case) -> None:
    options.test_the_inline_answer_is_the_full_answer_or_none.hypothesis.inner_test(case)  # type: ignore[attr-defined]


@settings(FIXED, max_examples=40)
@given(options.TODAYS_CASH, options.TODAYS_ROWS)
def test_default_options_give_todays_answer_fixed(cash: str, rows: list[tuple[str, ...]]) -> None:
    options.test_default_options_give_todays_answer.hypothesis.inner_test(cash, rows)  # type: ignore[attr-defined]


@settings(FIXED, max_examples=120)
@given(small_problems_with_options())
def test_segments_and_the_nearest_unit_fixed(case: Case) -> None:
    admissible.test_segments_and_the_nearest_unit_are_what_trying_every_unit_gives.hypothesis.inner_test(
        case
    )  # type: ignore[attr-defined]


@settings(FIXED, max_examples=80)
@given(options.oracle_problems())
def test_ties_keep_the_unit_nearer_the_holding_fixed(case: Case) -> None:
    parts.test_ties_keep_the_unit_nearer_the_holding_when_it_is_affordable.hypothesis.inner_test(
        case
    )  # type: ignore[attr-defined]
