from __future__ import annotations

import pytest

from order_generation.domain.errors import RuleViolation
from order_generation.domain.paging import (
    Page,
    SortKey,
    check_page,
    fit_page,
    parse_sort,
)

FIELDS = ("model_id", "name", "last_rebalance_date")


def test_sort_keys_with_plus_minus_and_decoded_plus() -> None:
    assert parse_sort("name,-model_id, last_rebalance_date", FIELDS) == (
        SortKey("name"),
        SortKey("model_id", descending=True),
        SortKey("last_rebalance_date"),
    )
    assert parse_sort("+name", FIELDS) == (SortKey("name"),)
    assert parse_sort(" name", FIELDS) == (SortKey("name"),)  # '+' arrived URL-decoded
    assert parse_sort(None, FIELDS) == ()


@pytest.mark.parametrize("text", ["", "price", "name,,model_id", "--name", "-"])
def test_invalid_sort_lists_the_valid_fields(text: str) -> None:
    with pytest.raises(RuleViolation) as exc:
        parse_sort(text, FIELDS)
    assert exc.value.code == "INVALID_SORT"
    assert "model_id, name, last_rebalance_date" in exc.value.message


def test_a_field_named_again_is_ignored_after_its_first_mention() -> None:
    # Any sequence of valid fields is a valid sort_by (as the OpenAPI pattern says); a repeat
    # cannot change an order already decided by the field's first mention.
    assert parse_sort("name,-name,model_id,name", FIELDS) == (
        SortKey("name"),
        SortKey("model_id"),
    )


def test_paging_defaults_and_limits() -> None:
    assert check_page(None, None) == Page(0, None)
    assert check_page(None, 5) == Page(0, 5)
    assert check_page(3, None) == Page(3, None)
    assert check_page(None, None, default_limit=10) == Page(0, 10)
    assert check_page(0, 100, max_limit=100) == Page(0, 100)


@pytest.mark.parametrize(("offset", "limit"), [(-1, None), (None, -1), (0, 101)])
def test_bad_paging_is_refused(offset: int | None, limit: int | None) -> None:
    with pytest.raises(RuleViolation):
        check_page(offset, limit, max_limit=100)


def test_pages_fit_within_the_items() -> None:
    assert fit_page(Page(3, None), 3) == Page(3, 0)
    assert fit_page(Page(1, None), 3) == Page(1, 2)
    assert fit_page(Page(1, 10**30), 3) == Page(1, 2)
    assert fit_page(Page(0, 1), 3) == Page(0, 1)
    with pytest.raises(RuleViolation):
        fit_page(Page(4, None), 3)


# --- found by mutation testing (docs/mutation-testing.md) -----------------------------------


def test_a_limit_of_0_is_a_valid_empty_page() -> None:
    assert check_page(0, 0) == Page(0, 0)
    assert check_page(2, 0, max_limit=100) == Page(2, 0)


@pytest.mark.parametrize(
    ("offset", "limit", "message"),
    [
        (-1, None, "offset must be 0 or more (got -1)"),
        (None, -2, "limit must be 0 or more (got -2)"),
        (0, 101, "limit must be at most 100 (got 101)"),
    ],
)
def test_bad_paging_says_which_parameter_and_why(
    offset: int | None, limit: int | None, message: str
) -> None:
    with pytest.raises(RuleViolation) as exc:
        check_page(offset, limit, max_limit=100)
    assert (exc.value.code, exc.value.message) == ("INVALID_PAGING", message)


def test_an_offset_past_the_end_says_how_many_items_there_are() -> None:
    with pytest.raises(RuleViolation) as exc:
        fit_page(Page(4, None), 3)
    assert (exc.value.code, exc.value.message) == (
        "INVALID_PAGING",
        "offset 4 is beyond the 3 available items",
    )


def test_only_plus_and_minus_are_sort_prefixes() -> None:
    with pytest.raises(RuleViolation) as exc:
        parse_sort("Xname", FIELDS)
    assert exc.value.message == (
        "invalid sort_by field 'Xname'; valid fields are model_id, name, last_rebalance_date, "
        "each optionally prefixed with + (ascending) or - (descending)"
    )
