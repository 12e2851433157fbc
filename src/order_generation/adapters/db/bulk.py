"""Bulk inserts below SQLAlchemy's ORM-free Core, where a run's 10^5 position rows make the
per-row overhead count. The two functions here are the only places that use APIs SQLAlchemy and
asyncpg do not promise to keep (``pyproject.toml`` bounds their versions; tests/integration/
test_bulk_insert.py checks both on each database).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Dialect, Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True, slots=True)
class DriverRows:
    """Rows ready for the driver: the INSERT statement, its columns in parameter order, and
    each row's values converted by the columns' own bind processors."""

    statement: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


def driver_rows(
    table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]], dialect: Dialect
) -> DriverRows:
    """``rows`` (values in ``columns`` order) as the driver takes them.

    Uses SQLAlchemy's compiled ``positiontup`` (the parameter order of a positional statement)
    and ``TypeEngine.bind_processor``: semi-public, stable across 2.0 and 2.1."""
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    order = [columns.index(name) for name in compiled.positiontup or ()]
    processors = [table.c[columns[i]].type.bind_processor(dialect) for i in order]
    prepared = [
        tuple(
            value if process is None else process(value)
            for value, process in zip((row[i] for i in order), processors, strict=True)
        )
        for row in rows
    ]
    return DriverRows(compiled.string, [columns[i] for i in order], prepared)


async def copy_into(
    connection: AsyncConnection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL's COPY (text format) through asyncpg's ``copy_to_table``, on the connection of
    the caller's transaction.

    Text, not asyncpg's binary records: a run's 10^5 position rows are mostly decimals, and
    ``str(Decimal)`` (exact, read back exactly by NUMERIC's input) costs a fraction of encoding
    each one to NUMERIC's binary form, and needs no per-value bind processor."""
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    rows = list(rows)
    if rows:
        data = _copy_data(table, columns, rows).encode()
        await driver.copy_to_table(table.name, source=io.BytesIO(data), columns=list(columns))


def _copy_data(table: Table, columns: Sequence[str], rows: list[Sequence[Any]]) -> str:
    """The rows in COPY's text format. Every value is written with ``str`` (exact for numbers
    and dates), None as ``\\N``; then a count of the tabs, newlines and backslashes tells whether
    some text needed escaping, which only then is done value by value (escaping every text value
    cost a sixth of a job worker's time; ids never need it)."""
    careful = [i for i, name in enumerate(columns) if not _str_is_copy_text(table.c[name])]
    nulls = 0

    def line(row: Sequence[Any]) -> str:
        nonlocal nulls
        texts = list(map(str, row))
        for i in careful:
            if row[i] is None:
                texts[i] = "\\N"
                nulls += 1
        return "\t".join(texts)

    data = "\n".join(map(line, rows)) + "\n"
    if (
        data.count("\\") == nulls
        and data.count("\t") == len(rows) * (len(columns) - 1)
        and data.count("\n") == len(rows)
        and "\r" not in data
    ):
        return data

    def escaped_line(row: Sequence[Any]) -> str:
        texts = list(map(str, row))
        for i in careful:
            texts[i] = _copy_text(row[i])
        return "\t".join(texts)

    return "".join(escaped_line(row) + "\n" for row in rows)


def _str_is_copy_text(column: Column[Any]) -> bool:
    """A NOT NULL number or date column: ``str`` of its value is exact COPY text (no escapes)."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return False
    return not column.nullable and kind in (Decimal, int, date)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # Decimal, int: their exact text
