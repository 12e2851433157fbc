"""Rules of SPEC §2 for investment models and positions; each test fails if its rule goes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from order_generation.domain.errors import RuleViolation
from order_generation.domain.ids import is_object_id, new_object_id
from order_generation.domain.investment_model import (
    InvestmentModel,
    Position,
    new_model,
)

SEC = [f"{i:024x}" for i in range(1, 300)]
PF = [f"{i:024x}" for i in range(1000, 1300)]


def pos(i: int, target: str, low: str = "0.01", high: str = "0.01") -> Position:
    return Position(SEC[i], Decimal(target), Decimal(high), Decimal(low))


def model(*positions: Position, portfolios: tuple[str, ...] = ()) -> InvestmentModel:
    return new_model("Growth", positions, portfolios)


def rule_of(exc: pytest.ExceptionInfo[RuleViolation]) -> str:
    return exc.value.code


# --- ids ------------------------------------------------------------------------------------


def test_new_object_ids_are_24_hex_and_distinct() -> None:
    ids = {new_object_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_object_id(i) for i in ids)


@pytest.mark.parametrize(
    "value", ["", "123", "g" * 24, "a" * 23, "a" * 25, " " + "a" * 23, "a" * 23 + "\n"]
)
def test_malformed_object_ids_are_rejected(value: str) -> None:
    assert not is_object_id(value)


def test_object_ids_accept_either_case() -> None:
    assert is_object_id("ABCDEF0123456789abcdef01")


# --- target ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["0.005", "0.05", "0.1", "0.95", "0.100", "0.4250"])
def test_targets_that_are_multiples_of_half_a_percent_are_accepted(target: str) -> None:
    assert model(pos(0, target)).positions[0].target == Decimal(target)


@pytest.mark.parametrize("target", ["0.001", "0.0125", "0.333", "0.0051"])
def test_target_must_be_a_multiple_of_0_005(target: str) -> None:
    with pytest.raises(RuleViolation) as exc:
        model(pos(0, target))
    assert rule_of(exc) == "TARGET_NOT_MULTIPLE_OF_0_005"
    assert SEC[0] in exc.value.message


@pytest.mark.parametrize("target", ["0.955", "1", "-0.005", "1E+400"])
def test_target_must_lie_between_0_and_0_95(target: str) -> None:
    with pytest.raises(RuleViolation) as exc:
        model(pos(0, target))
    assert rule_of(exc) == "TARGET_OUT_OF_RANGE"


# --- drift ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("low", "high"), [("0", "0"), ("1", "1"), ("0.5", "0.0001")])
def test_drifts_in_the_closed_unit_interval_are_accepted(low: str, high: str) -> None:
    saved = model(pos(0, "0.1", low, high)).positions[0]
    assert (saved.low_drift, saved.high_drift) == (Decimal(low), Decimal(high))


@pytest.mark.parametrize(("low", "high"), [("-0.01", "0"), ("0", "1.0001"), ("2", "0")])
def test_drift_must_lie_between_0_and_1(low: str, high: str) -> None:
    with pytest.raises(RuleViolation) as exc:
        model(pos(0, "0.1", low, high))
    assert rule_of(exc) == "DRIFT_OUT_OF_RANGE"


def test_values_with_too_many_decimal_places_are_rejected() -> None:
    with pytest.raises(RuleViolation) as exc:
        model(pos(0, "0.1", "0." + "1" * 30, "0.01"))
    assert rule_of(exc) == "TOO_PRECISE"


def test_non_finite_values_are_rejected() -> None:
    with pytest.raises(RuleViolation):
        model(pos(0, "0.1", "NaN", "0.01"))
    with pytest.raises(RuleViolation):
        model(pos(0, "Infinity"))


# --- model-level rules ----------------------------------------------------------------------


def test_sum_of_targets_may_reach_0_95() -> None:
    positions = [pos(i, "0.05") for i in range(19)]  # 19 × 0.05 = 0.95
    assert len(model(*positions).positions) == 19


def test_sum_of_targets_must_not_exceed_0_95() -> None:
    positions = [pos(i, "0.05") for i in range(19)] + [pos(19, "0.005")]
    with pytest.raises(RuleViolation) as exc:
        model(*positions)
    assert rule_of(exc) == "TARGET_SUM_EXCEEDS_0_95"
    assert "0.955" in exc.value.message


def test_positions_with_zero_target_are_dropped() -> None:
    saved = model(pos(0, "0.1"), pos(1, "0"), pos(2, "0.000"), pos(3, "0.2"))
    assert [p.security_id for p in saved.positions] == [SEC[0], SEC[3]]


def test_at_most_100_positions_with_a_target() -> None:
    hundred = [pos(i, "0.005") for i in range(100)]
    assert len(model(*hundred).positions) == 100
    with pytest.raises(RuleViolation) as exc:
        model(*hundred, pos(100, "0.005"))
    assert rule_of(exc) == "TOO_MANY_POSITIONS"


def test_zero_target_positions_do_not_count_towards_the_100() -> None:
    hundred = [pos(i, "0.005") for i in range(100)]
    zeros = [pos(100 + i, "0") for i in range(50)]
    assert len(model(*hundred, *zeros).positions) == 100


def test_a_security_appears_at_most_once() -> None:
    with pytest.raises(RuleViolation) as exc:
        model(pos(0, "0.1"), pos(0, "0.2"))
    assert rule_of(exc) == "DUPLICATE_SECURITY"
    assert SEC[0] in exc.value.message


def test_security_ids_must_be_object_ids() -> None:
    with pytest.raises(RuleViolation) as exc:
        model(Position("AAPL", Decimal("0.1"), Decimal("0"), Decimal("0")))
    assert rule_of(exc) == "INVALID_ID"


def test_portfolio_ids_must_be_object_ids() -> None:
    with pytest.raises(RuleViolation) as exc:
        model(portfolios=("not-a-portfolio",))
    assert rule_of(exc) == "INVALID_ID"


def test_ids_are_stored_in_lower_case() -> None:
    upper = SEC[0].upper().replace("0", "A")
    saved = new_model("x", [Position(upper, Decimal("0.1"), Decimal(0), Decimal(0))], [upper])
    assert saved.positions[0].security_id == upper.lower()
    assert saved.portfolios == (upper.lower(),)


@pytest.mark.parametrize("name", ["", "   ", "x" * 256])
def test_name_is_required_and_at_most_255_characters(name: str) -> None:
    with pytest.raises(RuleViolation) as exc:
        new_model(name, (), ())
    assert rule_of(exc) == "INVALID_NAME"


@pytest.mark.parametrize(
    "name", ["a\ud800b", "\udfff", "a\x00b", "tab\there", "line\nbreak", "del\x7f", "c1\x85"]
)
def test_name_is_valid_unicode_without_control_characters(name: str) -> None:
    # A lone surrogate cannot be stored as UTF-8; NUL is refused by PostgreSQL and kept by
    # SQLite: both databases must give the same answer, before either is reached.
    with pytest.raises(RuleViolation, match=r"control character|not valid Unicode") as exc:
        new_model(name, (), ())
    assert rule_of(exc) == "INVALID_NAME"


@pytest.mark.parametrize("name", ["Growth – 2026", "成长型", "Ünïcödé 🚀", "a b"])
def test_names_in_any_script_are_accepted(name: str) -> None:
    assert new_model(name, (), ()).name == name


def test_name_of_255_characters_is_accepted() -> None:
    assert new_model("x" * 255, (), ()).name == "x" * 255


def test_new_model_starts_at_version_1_with_a_fresh_id() -> None:
    created = model(pos(0, "0.1"), portfolios=(PF[0],))
    assert created.version == 1
    assert is_object_id(created.model_id)
    assert created.last_rebalance_date is None
    assert created.portfolios == (PF[0],)


def test_duplicate_portfolios_collapse_to_one_in_order() -> None:
    assert model(portfolios=(PF[1], PF[0], PF[1])).portfolios == (PF[1], PF[0])


# --- changes --------------------------------------------------------------------------------


def test_adding_a_position_keeps_every_rule() -> None:
    base = model(pos(0, "0.9"))
    assert [p.security_id for p in base.with_position_added(pos(1, "0.05")).positions] == [
        SEC[0],
        SEC[1],
    ]
    with pytest.raises(RuleViolation) as exc:
        base.with_position_added(pos(1, "0.055"))
    assert rule_of(exc) == "TARGET_SUM_EXCEEDS_0_95"
    with pytest.raises(RuleViolation) as exc:
        base.with_position_added(pos(0, "0.01"))
    assert rule_of(exc) == "DUPLICATE_SECURITY"


def test_updating_a_position_needs_the_security_in_the_model() -> None:
    base = model(pos(0, "0.5"))
    assert base.with_position_updated(pos(0, "0.6")).positions[0].target == Decimal("0.6")
    with pytest.raises(RuleViolation) as exc:
        base.with_position_updated(pos(1, "0.1"))
    assert rule_of(exc) == "SECURITY_NOT_IN_MODEL"


def test_updating_a_position_to_zero_target_drops_it() -> None:
    assert model(pos(0, "0.5")).with_position_updated(pos(0, "0")).positions == ()


def test_removing_a_position_needs_exactly_equal_values() -> None:
    base = model(pos(0, "0.5", "0.01", "0.02"))
    assert base.with_position_removed(pos(0, "0.50", "0.010", "0.02")).positions == ()
    with pytest.raises(RuleViolation) as exc:
        base.with_position_removed(pos(0, "0.5", "0.01", "0.03"))
    assert rule_of(exc) == "POSITION_MISMATCH"
    with pytest.raises(RuleViolation) as exc:
        base.with_position_removed(pos(1, "0.5", "0.01", "0.02"))
    assert rule_of(exc) == "SECURITY_NOT_IN_MODEL"


def test_portfolios_added_ignore_duplicates_and_removed_ignore_missing() -> None:
    base = model(portfolios=(PF[0],))
    added = base.with_portfolios_added([PF[1], PF[0], PF[1]])
    assert added.portfolios == (PF[0], PF[1])
    assert added.with_portfolios_removed([PF[0], PF[7]]).portfolios == (PF[1],)


def test_changes_do_not_touch_version_or_identity() -> None:
    base = model(pos(0, "0.5"))
    changed = base.with_position_added(pos(1, "0.1"))
    assert (changed.model_id, changed.version) == (base.model_id, base.version)


@pytest.mark.parametrize(
    "value", ["1.00000000000000000000000000000001", "123456789012345678901234567890.12345678901"]
)
def test_long_values_are_refused_without_rounding(value: str) -> None:
    with pytest.raises(RuleViolation) as exc:
        model(pos(0, "0.1", value, "0"))
    assert rule_of(exc) in {"TOO_PRECISE", "DRIFT_OUT_OF_RANGE"}


def test_trailing_zeros_do_not_count_as_precision() -> None:
    saved = model(pos(0, "0.1", low="0", high="0.0100000000000000000000")).positions[0]
    assert saved.high_drift == Decimal("0.01")


# --- found by mutation testing (docs/mutation-testing.md) -----------------------------------
# SPEC §2: a violation's message names the rule and the offending item, so messages are pinned.


@pytest.mark.parametrize(
    ("position", "code", "problem"),
    [
        (pos(0, "1"), "TARGET_OUT_OF_RANGE", "target 1 must be between 0 and 0.95"),
        (pos(0, "0.1", high="1.5"), "DRIFT_OUT_OF_RANGE", "high_drift 1.5 must be between 0 and 1"),
        (pos(0, "0.1", low="-0.5"), "DRIFT_OUT_OF_RANGE", "low_drift -0.5 must be between 0 and 1"),
        (pos(0, "NaN"), "NOT_A_NUMBER", "target must be a finite number"),
        (pos(0, "0.1", high="sNaN"), "NOT_A_NUMBER", "high_drift must be a finite number"),
        (pos(0, "0.1", low="-Infinity"), "NOT_A_NUMBER", "low_drift must be a finite number"),
        (pos(0, "0.10000000001"), "TOO_PRECISE", "target has more than 10 decimal places"),
        (pos(0, "0.1", high="1E-11"), "TOO_PRECISE", "high_drift has more than 10 decimal places"),
        (pos(0, "0.1", low="1E-11"), "TOO_PRECISE", "low_drift has more than 10 decimal places"),
    ],
)
def test_a_bad_position_is_named_with_its_field_in_the_message(
    position: Position, code: str, problem: str
) -> None:
    with pytest.raises(RuleViolation) as exc:
        model(position)
    assert (exc.value.code, exc.value.message) == (code, f"security {SEC[0]}: {problem}")
    with pytest.raises(RuleViolation) as exc:
        model(Position("AAPL", Decimal("0.1"), Decimal(0), Decimal(0)))
    assert exc.value.message == "security_id 'AAPL' is not a 24-character hexadecimal id"


def test_ten_decimal_places_are_accepted() -> None:
    saved = model(pos(0, "0.1", low="0.0123456789", high="0.9876543210")).positions[0]
    assert (saved.low_drift, saved.high_drift) == (Decimal("0.0123456789"), Decimal("0.9876543210"))


def test_model_level_messages_name_the_rule() -> None:
    with pytest.raises(RuleViolation) as exc:
        model(*[pos(i, "0.005") for i in range(101)])
    assert exc.value.message == (
        "a model holds at most 100 positions with a target above 0; this one has 101"
    )
    with pytest.raises(RuleViolation) as exc:
        model(*[pos(i, "0.05") for i in range(19)], pos(19, "0.005"))
    assert exc.value.message == (
        "the sum of targets is 0.955, above the maximum of 0.95 (at least 5 % stays in cash)"
    )
    with pytest.raises(RuleViolation) as exc:
        model(portfolios=("not-a-portfolio",))
    assert (
        exc.value.message == "portfolio id 'not-a-portfolio' is not a 24-character hexadecimal id"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x" * 256, "name is required and at most 255 characters (got 256)"),
        ("a\x00b", "name holds a control character (U+0000 at position 1)"),
        ("a\ud800", "name is not valid Unicode (a lone surrogate at position 1)"),
    ],
)
def test_a_bad_name_is_explained(name: str, message: str) -> None:
    with pytest.raises(RuleViolation) as exc:
        new_model(name, (), ())
    assert (exc.value.code, exc.value.message) == ("INVALID_NAME", message)


def test_a_revised_model_replaces_everything_but_identity_and_version() -> None:
    base = model(pos(0, "0.5"), portfolios=(PF[0],))
    when = base.created_at
    revised = base.revised(
        name="Income",
        positions=[pos(1, "0.2"), pos(2, "0")],
        portfolios=[PF[2].upper(), PF[2]],
        last_rebalance_date=when,
    )
    assert (revised.model_id, revised.version, revised.created_at) == (
        base.model_id,
        base.version,
        base.created_at,
    )
    assert (revised.name, revised.positions, revised.portfolios, revised.last_rebalance_date) == (
        "Income",
        (pos(1, "0.2"),),
        (PF[2],),
        when,
    )
    assert (
        base.revised(
            name="x", positions=(), portfolios=(), last_rebalance_date=None
        ).last_rebalance_date
        is None
    )
    with pytest.raises(RuleViolation) as exc:
        base.revised(name=" ", positions=(), portfolios=(), last_rebalance_date=None)
    assert rule_of(exc) == "INVALID_NAME"
    with pytest.raises(RuleViolation) as exc:
        base.revised(name="x", positions=[pos(0, "0.96")], portfolios=(), last_rebalance_date=None)
    assert rule_of(exc) == "TARGET_OUT_OF_RANGE"
    with pytest.raises(RuleViolation) as exc:
        base.revised(name="x", positions=(), portfolios=["nope"], last_rebalance_date=None)
    assert rule_of(exc) == "INVALID_ID"


def test_adding_a_held_security_in_another_case_says_update_it_instead() -> None:
    base = model(pos(10, "0.1"))
    with pytest.raises(RuleViolation) as exc:
        base.with_position_added(Position(SEC[10].upper(), Decimal("0.2"), Decimal(0), Decimal(0)))
    assert (exc.value.code, exc.value.message) == (
        "DUPLICATE_SECURITY",
        f"security {SEC[10]} is already in the model; update it instead",
    )
    with pytest.raises(RuleViolation) as exc:
        base.with_position_added(Position("AAPL", Decimal("0.2"), Decimal(0), Decimal(0)))
    assert exc.value.message == "security_id 'AAPL' is not a 24-character hexadecimal id"


def test_updating_one_position_leaves_the_others() -> None:
    base = model(pos(0, "0.1"), pos(1, "0.2"), pos(2, "0.3"))
    updated = base.with_position_updated(pos(1, "0.25"))
    assert [(p.security_id, p.target) for p in updated.positions] == [
        (SEC[0], Decimal("0.1")),
        (SEC[1], Decimal("0.25")),
        (SEC[2], Decimal("0.3")),
    ]
    with pytest.raises(RuleViolation) as exc:
        base.with_position_updated(pos(3, "0.1"))
    assert exc.value.message == f"security {SEC[3]} is not in the model"
    with pytest.raises(RuleViolation) as exc:
        base.with_position_updated(Position("AAPL", Decimal("0.2"), Decimal(0), Decimal(0)))
    assert exc.value.message == "security_id 'AAPL' is not a 24-character hexadecimal id"


def test_removing_a_position_by_its_id_in_another_case() -> None:
    base = model(pos(10, "0.5", "0.01", "0.02"), pos(11, "0.1"))
    removed = base.with_position_removed(
        Position(SEC[10].upper(), Decimal("0.5"), Decimal("0.02"), Decimal("0.01"))
    )
    assert [p.security_id for p in removed.positions] == [SEC[11]]
    with pytest.raises(RuleViolation) as exc:
        base.with_position_removed(pos(10, "0.5", "0.01", "0.03"))
    assert exc.value.message == (
        f"position of security {SEC[10]} differs from the stored one "
        "(target 0.5, high_drift 0.02, low_drift 0.01); nothing was deleted"
    )
