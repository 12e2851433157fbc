"""The bulk insert path (adapters/db/bulk.py) on each database: what goes in through the driver
comes back exactly, decimals and dates included."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from order_generation.adapters.db.bulk import copy_into, driver_rows
from order_generation.adapters.db.database import Database
from order_generation.adapters.db.tables import (
    rebalance_portfolios,
    rebalance_positions,
    rebalances,
)
from order_generation.domain.ids import new_object_id

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
COLUMNS = (
    "rebalance_id", "portfolio_id", "security_id", "ordinal", "price", "original_quantity",
    "adjusted_quantity", "original_position_market_value", "adjusted_position_market_value",
    "target", "high_drift", "low_drift", "actual", "actual_drift", "transaction_type",
    "trade_quantity", "trade_date",
)  # fmt: skip


async def test_rows_go_in_through_the_driver_and_come_back_exactly(database: Database) -> None:
    run, portfolio = new_object_id(), "c" * 24
    rows = [
        (run, portfolio, f"{i:024x}", i, Decimal("123.456789"), Decimal(i), Decimal("0.5"),
         Decimal("0"), Decimal("61.7283945"), Decimal("0.005"), Decimal("0.01"), Decimal("0"),
         Decimal("0.0049"), Decimal("-0.0001"), "BUY" if i % 2 else None, Decimal(i),
         date(2026, 12, 1))
        for i in range(3)
    ] + [
        # Exponents, negative zero, many digits, a tab and a backslash in text: COPY's text
        # format must carry them all exactly.
        (run, portfolio, f"{9:024x}", 9, Decimal("1E+3"), Decimal("-0"), Decimal("1E-10"),
         Decimal("123456789012345678.0123456789"), Decimal("0.1000"), Decimal("0.95"),
         Decimal("1"), Decimal("0"), Decimal("0.9500"), Decimal("-0.0500"), "S\\\tL",
         Decimal("-7"), date(1999, 1, 31))
    ]  # fmt: skip
    odd = [
        # Text that only looks like COPY's NULL or holds a line break, in a row with a NULL.
        (run, portfolio, security, 10 + i, *[Decimal(1)] * 10, None, Decimal(0), date(2026, 1, 2))
        for i, security in enumerate(["\\N", "a\nb", "c\rd", "None", "e\\f"])
    ]  # fmt: skip
    async with database.unit_of_work() as uow:
        connection = uow.connection
        await connection.execute(
            rebalances.insert().values(
                rebalance_id=run, model_id="a" * 24, model_name="m", model_version=1,
                rebalance_date=NOW, number_of_portfolios=1, version=1, created_at=NOW,
            )
        )  # fmt: skip
        await connection.execute(
            rebalance_portfolios.insert().values(
                rebalance_id=run, portfolio_id=portfolio, ordinal=0, status="rebalanced",
                market_value=Decimal(1), cash_before_rebalance=Decimal(1),
                cash_after_rebalance=Decimal(1),
            )
        )  # fmt: skip
        if connection.dialect.name == "postgresql":
            await copy_into(connection, rebalance_positions, COLUMNS, rows[:3])
            await copy_into(connection, rebalance_positions, COLUMNS, rows[3:])
            for row in odd:  # one COPY each: each must be caught on its own
                await copy_into(connection, rebalance_positions, COLUMNS, [row])
            rows += odd
        else:
            prepared = driver_rows(rebalance_positions, COLUMNS, rows, connection.dialect)
            assert sorted(prepared.columns) == sorted(COLUMNS)
            await connection.exec_driver_sql(prepared.statement, prepared.rows)
        await uow.commit()

    async with database.unit_of_work(write=False) as uow:
        query = select(*(rebalance_positions.c[c] for c in COLUMNS)).order_by(
            rebalance_positions.c.ordinal
        )
        stored = [tuple(row) for row in await uow.connection.execute(query)]
    assert stored == rows
