"""The model repository's contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from order_generation.adapters.db.database import Database
from order_generation.adapters.db.tables import metadata
from order_generation.domain.errors import NotFound, RuleViolation, VersionConflict
from order_generation.domain.investment_model import InvestmentModel, Position, new_model
from order_generation.domain.paging import Page, SortKey

SEC = [f"{i:024x}" for i in range(1, 50)]
PF = [f"{i:024x}" for i in range(1000, 1050)]


def sample(name: str = "Balanced", portfolios: tuple[str, ...] = ()) -> InvestmentModel:
    return new_model(
        name,
        [
            Position(SEC[0], Decimal("0.300"), Decimal("0.0125"), Decimal("0.01")),
            Position(SEC[1], Decimal("0.6"), Decimal("0.1234567891"), Decimal("1")),
        ],
        portfolios,
    )


async def store(database: Database, model: InvestmentModel) -> None:
    async with database.unit_of_work() as uow:
        await uow.models.add(model)
        await uow.commit()


async def fetch(database: Database, model_id: str) -> InvestmentModel | None:
    async with database.unit_of_work(write=False) as uow:
        return await uow.models.get(model_id)


async def test_migrations_create_exactly_the_declared_schema(database: Database) -> None:
    def diff(connection: object) -> list[object]:
        # procrastinate's own tables (the job queue on PostgreSQL) are not ours to declare.
        def ours(_object: object, name: str | None, kind: str, *_: object) -> bool:
            return not (kind == "table" and (name or "").startswith("procrastinate"))

        options = {"compare_type": True, "include_object": ours}
        context = MigrationContext.configure(connection, opts=options)  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_a_model_reads_back_exactly_as_stored(database: Database) -> None:
    model = sample(portfolios=(PF[1], PF[0]))
    await store(database, model)
    loaded = await fetch(database, model.model_id)
    assert loaded is not None
    assert loaded.positions == model.positions
    assert [str(p.high_drift) for p in loaded.positions] == ["0.0125", "0.1234567891"]
    assert loaded.portfolios == (PF[1], PF[0])
    assert (loaded.name, loaded.version, loaded.last_rebalance_date) == ("Balanced", 1, None)
    assert loaded.created_at.tzinfo is not None
    assert abs((loaded.created_at - model.created_at).total_seconds()) < 1e-3


async def test_unknown_model_is_none(database: Database) -> None:
    assert await fetch(database, "f" * 24) is None


async def test_update_with_current_version_bumps_it(database: Database) -> None:
    model = sample()
    await store(database, model)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    changed = replace(
        model.with_portfolios_added([PF[3]]), name="Renamed", last_rebalance_date=when
    )
    async with database.unit_of_work() as uow:
        saved = await uow.models.update(changed, expected_version=1)
        await uow.commit()
    assert saved.version == 2
    assert await fetch(database, model.model_id) == saved
    assert saved.last_rebalance_date == when
    assert saved.portfolios == (PF[3],)


async def test_stale_update_changes_nothing(database: Database) -> None:
    model = sample()
    await store(database, model)
    with pytest.raises(VersionConflict):
        async with database.unit_of_work() as uow:
            await uow.models.update(replace(model, name="Lost"), expected_version=7)
            await uow.commit()
    assert await fetch(database, model.model_id) == model


async def test_update_of_a_missing_model_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        async with database.unit_of_work() as uow:
            await uow.models.update(sample(), expected_version=1)


async def test_concurrent_updates_with_one_version_have_exactly_one_winner(
    database: Database,
) -> None:
    model = sample()
    await store(database, model)

    async def attempt(i: int) -> str:
        try:
            async with database.unit_of_work() as uow:
                await uow.models.update(replace(model, name=f"writer {i}"), expected_version=1)
                await uow.commit()
        except VersionConflict:
            return "conflict"
        return f"writer {i}"

    outcomes = await asyncio.gather(*(attempt(i) for i in range(12)))
    winners = [o for o in outcomes if o != "conflict"]
    assert len(winners) == 1
    stored = await fetch(database, model.model_id)
    assert stored is not None
    assert (stored.name, stored.version) == (winners[0], 2)


async def test_delete_checks_the_version(database: Database) -> None:
    model = sample(portfolios=(PF[0],))
    await store(database, model)
    with pytest.raises(VersionConflict):
        async with database.unit_of_work() as uow:
            await uow.models.delete(model.model_id, expected_version=2)
            await uow.commit()
    assert await fetch(database, model.model_id) == model
    async with database.unit_of_work() as uow:
        await uow.models.delete(model.model_id, expected_version=1)
        await uow.commit()
    assert await fetch(database, model.model_id) is None
    async with database.unit_of_work(write=False) as uow:
        assert await uow.models.owners([PF[0]]) == {}


async def test_a_portfolio_belongs_to_at_most_one_model(database: Database) -> None:
    first = sample(portfolios=(PF[0], PF[1]))
    await store(database, first)
    with pytest.raises(RuleViolation) as exc:
        await store(database, sample("other", portfolios=(PF[2], PF[1])))
    assert exc.value.code == "PORTFOLIO_IN_OTHER_MODEL"
    async with database.unit_of_work(write=False) as uow:
        assert await uow.models.owners([PF[1], PF[2]]) == {PF[1]: first.model_id}
        assert await uow.models.count() == 1


async def test_paging_and_sorting(database: Database) -> None:
    names = ["beta", "Alpha", "gamma", "alpha", "Beta"]
    created = [sample(name) for name in names]
    for model in created:
        await store(database, model)
    when = datetime(2026, 5, 1, tzinfo=UTC)
    async with database.unit_of_work() as uow:
        await uow.models.update(replace(created[2], last_rebalance_date=when), expected_version=1)
        await uow.models.update(
            replace(created[0], last_rebalance_date=datetime(2025, 1, 1, tzinfo=UTC)), 1
        )
        await uow.commit()

    async def names_of(page: Page, *sort: SortKey) -> list[str]:
        async with database.unit_of_work(write=False) as uow:
            return [m.name for m in await uow.models.page(page, sort)]

    everything = Page(0, None)
    assert await names_of(everything) == names  # creation order by default
    assert await names_of(Page(1, 2)) == names[1:3]
    assert await names_of(Page(3, None)) == names[3:]
    assert await names_of(everything, SortKey("name")) == [
        "Alpha",
        "alpha",
        "Beta",
        "beta",
        "gamma",
    ]
    assert await names_of(everything, SortKey("name", descending=True)) == [
        "gamma",
        "beta",
        "Beta",
        "alpha",
        "Alpha",
    ]
    # Never rebalanced sorts as oldest; creation order breaks the ties.
    assert await names_of(everything, SortKey("last_rebalance_date")) == [
        "Alpha",
        "alpha",
        "Beta",
        "beta",
        "gamma",
    ]
    assert (await names_of(everything, SortKey("last_rebalance_date", descending=True)))[:2] == [
        "gamma",
        "beta",
    ]
    by_id = sorted(created, key=lambda m: m.model_id, reverse=True)
    assert await names_of(Page(0, 2), SortKey("model_id", descending=True)) == [
        m.name for m in by_id[:2]
    ]


async def test_owners_of_more_ids_than_a_statement_can_bind(database: Database) -> None:
    """A model of 10^5 portfolios is checked against every other model: 40,000 ids are more
    arguments than asyncpg takes in one statement (32,767; SQLite's limit depends on its build)."""
    many = [f"{i:024x}" for i in range(10**6, 10**6 + 40_000)]
    held = sample(portfolios=(many[0], many[-1]))
    await store(database, held)
    async with database.unit_of_work(write=False) as uow:
        owners = await uow.models.owners(many)
    assert owners == {many[0]: held.model_id, many[-1]: held.model_id}
