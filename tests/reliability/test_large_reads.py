"""Reading big stored runs: answers are streamed a slice of portfolios at a time, so the memory
one read takes does not grow with the run, and the streamed JSON equals the run as stored."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pydantic_core
import pytest
import structlog
from sqlalchemy import text

from order_generation.adapters.db.database import Database
from order_generation.adapters.db.rebalance_repository import _DELETE_PORTFOLIOS
from order_generation.api.rebalance_schemas import portfolio_json, run_json
from order_generation.domain.ids import new_object_id
from order_generation.domain.rebalance import (
    PortfolioRebalance,
    PositionRebalance,
    RebalanceRun,
    SecurityPrice,
)
from order_generation.services.stored_runs import SLICE_PORTFOLIOS
from tests.reliability.conftest import Figures

# Slow (hypothesis, processes, faults under load): `./test.sh -m "not slow"` skips it.
pytestmark = pytest.mark.slow

V1 = "/api/v1"
DAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def synthetic_run(portfolios: int, positions: int, *, model_name: str = "Big") -> RebalanceRun:
    def position(p: int, s: int) -> PositionRebalance:
        held, wanted = Decimal(s * 3 + p % 7), Decimal(s * 3 + 1)
        change = wanted - held
        return PositionRebalance(
            security_id=f"{s + 1:024x}",
            price=Decimal("12.34") + s,
            original_quantity=held,
            adjusted_quantity=wanted,
            original_position_market_value=held * (Decimal("12.34") + s),
            adjusted_position_market_value=wanted * (Decimal("12.34") + s),
            target=Decimal("0.005"),
            high_drift=Decimal("0.01"),
            low_drift=Decimal("0.01"),
            actual=Decimal("0.0049"),
            actual_drift=Decimal("-0.0001"),
            transaction_type="BUY" if change > 0 else "SELL" if change < 0 else None,
            trade_quantity=abs(change),
            trade_date=DAY,
        )

    return RebalanceRun(
        rebalance_id=new_object_id(),
        model_id="a" * 24,
        model_name=model_name,
        model_version=1,
        rebalance_date=NOW,
        portfolios=tuple(
            PortfolioRebalance(
                portfolio_id=f"{p + 1:024x}",
                portfolio_name=f"Portfolio {p}",
                status="rebalanced",
                reason=None,
                market_value=Decimal("1000000.5"),
                cash_before_rebalance=Decimal("1000"),
                cash_after_rebalance=Decimal("17.25"),
                positions=tuple(position(p, s) for s in range(positions)),
            )
            for p in range(portfolios)
        ),
        prices=tuple(
            SecurityPrice(f"{s + 1:024x}", f"T{s}", Decimal("12.34") + s) for s in range(positions)
        ),
        version=1,
        created_at=NOW,
    )


async def store(database: Database, run: RebalanceRun) -> None:
    async with database.unit_of_work() as uow:
        await uow.rebalances.add(run)
        await uow.commit()


@pytest.fixture
async def client(live_api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_api_url, trust_env=False, timeout=120) as http:
        yield http


async def streamed_peak(client: httpx.AsyncClient, url: str) -> tuple[int, int]:
    """Peak memory allocated in this process (the server runs in a thread of it) while ``url``
    is read, and the size of the answer. The client reads it in pieces and keeps none, so what
    is measured is the server's part."""
    size = 0
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        async with client.stream("GET", url) as response:
            assert response.status_code == 200
            async for piece in response.aiter_bytes(65536):
                size += len(piece)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, size


async def test_reading_a_run_takes_memory_for_a_slice_not_for_the_run(
    database: Database, client: httpx.AsyncClient, figures: Figures
) -> None:
    small, large = synthetic_run(300, 20), synthetic_run(1500, 20)
    for run in (small, large):
        await store(database, run)

    for read in ("", "/portfolios"):
        small_peak, small_size = await streamed_peak(
            client, f"{V1}/rebalance/{small.rebalance_id}{read}"
        )
        large_peak, large_size = await streamed_peak(
            client, f"{V1}/rebalance/{large.rebalance_id}{read}"
        )
        # Five times the answer, about the same memory: what is held is one slice.
        assert large_size > 4.5 * small_size
        assert large_peak < 1.5 * small_peak, (read, small_peak, large_peak)
    listing_peak, listing_size = await streamed_peak(client, f"{V1}/rebalances?limit=100")
    assert listing_size > large_size
    assert listing_peak < 1.5 * small_peak, (listing_peak, small_peak)
    figures.cases["large reads"] += 1


@pytest.mark.parametrize(
    "portfolios", [0, 1, SLICE_PORTFOLIOS - 1, SLICE_PORTFOLIOS, SLICE_PORTFOLIOS + 1, 250]
)
async def test_streamed_answers_equal_the_run_as_stored(
    database: Database, client: httpx.AsyncClient, figures: Figures, portfolios: int
) -> None:
    run = synthetic_run(portfolios, 3)
    other = synthetic_run(2, 2, model_name="Other")
    await store(database, run)
    await store(database, other)
    expected = json.loads(pydantic_core.to_json(run_json(run)))

    whole = await client.get(f"{V1}/rebalance/{run.rebalance_id}")
    listed = await client.get(f"{V1}/rebalances", params={"sort_by": "model_name"})
    by_portfolio = await client.post(
        f"{V1}/rebalances/portfolios", json={"portfolios": [f"{1:024x}"]}
    )
    slices = await client.get(f"{V1}/rebalance/{run.rebalance_id}/portfolios")

    assert whole.json() == expected
    assert listed.json()[0] == expected
    assert listed.json()[1]["model_name"] == "Other"
    assert by_portfolio.json()[-1 if portfolios else 0]["rebalance_id"] in (
        run.rebalance_id,
        other.rebalance_id,
    )
    assert slices.json() == [
        json.loads(pydantic_core.to_json(portfolio_json(p))) for p in run.portfolios
    ]
    figures.cases["large reads"] += 1


async def test_a_read_that_fails_half_way_is_cut_not_shortened(
    database: Database,
    client: httpx.AsyncClient,
    figures: Figures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The database goes away after the first slice has been sent: the client must not get a
    # shorter run that parses, and the failure is one log line, not a traceback.
    from order_generation.adapters.db.rebalance_repository import RebalanceRepository
    from order_generation.domain.errors import DatabaseUnavailable

    run = synthetic_run(SLICE_PORTFOLIOS * 2 + 1, 3)
    await store(database, run)
    original = RebalanceRepository.portfolios

    async def failing(self: RebalanceRepository, rebalance_id: str, **kw: int) -> object:
        if kw.get("first", 0) > 0:
            raise DatabaseUnavailable("the database is unavailable: simulated")
        return await original(self, rebalance_id, **kw)

    monkeypatch.setattr(RebalanceRepository, "portfolios", failing)

    with structlog.testing.capture_logs() as logs, pytest.raises(httpx.RemoteProtocolError):
        await client.get(f"{V1}/rebalance/{run.rebalance_id}")

    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == ["response aborted"]
    assert errors[0]["code"] == "DATABASE_UNAVAILABLE"
    assert not any("exc_info" in e for e in logs)
    figures.cases["large reads"] += 1


async def test_a_big_run_is_deleted_a_slice_of_portfolios_at_a_time(database: Database) -> None:
    """Deleting a run takes its positions ``_DELETE_PORTFOLIOS`` portfolios per statement (a run
    of 10^5 portfolios has 10^7 rows: one statement would outlast the database timeout). Across
    the slice boundaries every row goes, and another run is untouched."""
    doomed = synthetic_run(2 * _DELETE_PORTFOLIOS + 1, 2)
    kept = synthetic_run(3, 2, model_name="Kept")
    for run in (doomed, kept):
        await store(database, run)
    async with database.unit_of_work() as uow:
        await uow.rebalances.delete(doomed.rebalance_id, expected_version=1)
        await uow.commit()
    async with database.unit_of_work(write=False) as uow:
        assert await uow.rebalances.header(doomed.rebalance_id) is None
        assert await uow.rebalances.portfolios(doomed.rebalance_id) == []
        assert await uow.rebalances.priced_securities(doomed.rebalance_id) == set()
        left = await uow.connection.execute(
            text("SELECT rebalance_id, count(*) FROM rebalance_positions GROUP BY rebalance_id")
        )
        assert [tuple(row) for row in left] == [(kept.rebalance_id, 6)]
