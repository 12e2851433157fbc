"""Bulk inserts below SQLAlchemy's ORM-free Core, where a run's 10^5 position rows make the
per-row overhead count. The two functions here are the only places that use APIs SQLAlchemy and
asyncpg do not promise to keep (``pyproject.toml`` bounds their versions; tests/integration/
test_bulk_insert.py checks both on each database).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Table, insert
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


async def copy_into(connection: AsyncConnection, table: str, rows: DriverRows) -> None:
    """PostgreSQL's COPY through asyncpg's ``copy_records_to_table``, on the connection of the
    caller's transaction (ten times faster than inserting row by row)."""
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(table, records=rows.rows, columns=rows.columns)
