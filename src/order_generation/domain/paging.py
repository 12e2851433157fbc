"""Paging and ``sort_by`` rules shared by the list endpoints (SPEC §3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import RuleViolation


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    limit: int | None  # None: to the end


def parse_sort(text: str | None, allowed: Sequence[str]) -> tuple[SortKey, ...]:
    """``"name,-model_id"`` → keys; ``+`` (or a space, which is what ``+`` decodes to in a
    query string) means ascending, ``-`` descending; a field named again is ignored (its first
    mention already decided the order). Unknown fields → RuleViolation listing the valid ones."""
    if text is None:
        return ()
    keys: list[SortKey] = []
    for raw in text.split(","):
        item = raw.strip()
        descending = item.startswith("-")
        name = item[1:].strip() if item[:1] in "+-" and item else item
        if name not in allowed:
            valid = ", ".join(allowed)
            raise RuleViolation(
                f"invalid sort_by field {raw.strip()!r}; valid fields are {valid}, "
                "each optionally prefixed with + (ascending) or - (descending)",
                code=ErrorCode.INVALID_SORT,
            )
        if all(key.field != name for key in keys):
            keys.append(SortKey(name, descending))
    return tuple(keys)


def check_page(
    offset: int | None,
    limit: int | None,
    *,
    default_limit: int | None = None,
    max_limit: int | None = None,
) -> Page:
    """Checks paging parameters; ``offset`` defaults to 0, ``limit`` to ``default_limit``."""
    if offset is not None and offset < 0:
        raise RuleViolation(
            f"offset must be 0 or more (got {offset})", code=ErrorCode.INVALID_PAGING
        )
    if limit is not None and limit < 0:
        raise RuleViolation(f"limit must be 0 or more (got {limit})", code=ErrorCode.INVALID_PAGING)
    if limit is not None and max_limit is not None and limit > max_limit:
        raise RuleViolation(
            f"limit must be at most {max_limit} (got {limit})", code=ErrorCode.INVALID_PAGING
        )
    return Page(offset or 0, default_limit if limit is None else limit)


def fit_page(page: Page, total: int) -> Page:
    """The page within ``total`` items. An offset past the last item is a client error, not an
    empty page; a limit past it is cut (so no database ever sees an absurd LIMIT)."""
    if page.offset > total:
        raise RuleViolation(
            f"offset {page.offset} is beyond the {total} available items",
            code=ErrorCode.INVALID_PAGING,
        )
    limit = total - page.offset if page.limit is None else min(page.limit, total - page.offset)
    return Page(page.offset, limit)
