"""HiGHS through its raw binding (``highspy._Highs``, in ``_highs._new_solver`` only): it still
exists, takes the options, solves, and prints nothing (``ogs solve`` writes JSON on stdout)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from order_generation.domain.optimizer._highs import integer_model, run_highs


def test_the_raw_binding_solves_a_covering_knapsack_silently(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Cover 10 with items of 4 (cost 3) and 7 (cost 5), at most 3 each: 7 + 4 = 11 costs 8, the
    # cheapest cover (4 + 4 + 4 costs 9, 7 + 7 costs 10).
    model = integer_model(
        weights=[Decimal(4), Decimal(7)], costs=[Decimal(3), Decimal(5)], upper=[3, 3],
        rhs=Decimal(10), worst=Decimal(100),
    )  # fmt: skip
    outcome = run_highs(model, time_limit=10)
    assert outcome is not None
    assert outcome.columns == [1, 1]
    assert outcome.proven
    out, _ = capfd.readouterr()
    assert out == ""


def test_no_time_left_means_no_answer() -> None:
    model = integer_model(
        weights=[Decimal(1)], costs=[Decimal(1)], upper=[1], rhs=Decimal(1), worst=Decimal(1)
    )
    assert run_highs(model, time_limit=0) is None
