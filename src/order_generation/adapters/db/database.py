"""Engine set-up and the unit of work.

A unit of work is one database transaction: ``async with database.unit_of_work() as uow:`` gives
repositories bound to it; leaving the block without ``await uow.commit()`` rolls everything back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from order_generation.adapters.db.model_repository import ModelRepository
from order_generation.adapters.db.rebalance_repository import RebalanceRepository

_IMMEDIATE = "ogs_sqlite_begin_immediate"


class Database:
    """The service's database: one async engine, units of work, a readiness probe."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            _ensure_sqlite_directory(self.url)
        self.engine = create_async_engine(self.url, echo=echo, **_engine_options(self.url))
        if self.is_sqlite:
            _use_explicit_sqlite_transactions(self.engine)
        # SQLite allows one writer at a time. A write transaction that starts as a reader and
        # upgrades later can fail at once with "database is locked" when another writer got
        # there first; BEGIN IMMEDIATE takes the write lock up front and waits for it instead.
        self.write_engine = self.engine.execution_options(**{_IMMEDIATE: True})
        # Within this process, SQLite writers also queue here: a writer waiting in SQLite's own
        # busy handler sleeps in growing steps and wakes late, which under concurrent requests
        # cost more than the writes themselves. The busy timeout still covers other processes.
        self._sqlite_writers = asyncio.Lock() if self.is_sqlite else None

    def unit_of_work(self, *, write: bool = True) -> UnitOfWork:
        if write:
            return UnitOfWork(self.write_engine, self._sqlite_writers)
        return UnitOfWork(self.engine, None)

    async def ping(self) -> None:
        """Raises if the database cannot answer a trivial query."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


class UnitOfWork:
    """One transaction and the repositories bound to it; rolls back unless committed."""

    models: ModelRepository
    rebalances: RebalanceRepository

    def __init__(self, engine: AsyncEngine, writers: asyncio.Lock | None) -> None:
        self._engine = engine
        self._writers = writers
        self._connection: AsyncConnection | None = None
        self._committed = False

    async def __aenter__(self) -> UnitOfWork:
        if self._writers is not None:
            await self._writers.acquire()
        try:
            self._connection = await self._engine.connect()
            await self._connection.begin()
        except BaseException:
            if self._connection is not None:
                await self._connection.close()
            if self._writers is not None:
                self._writers.release()
            raise
        self.models = ModelRepository(self._connection)
        self.rebalances = RebalanceRepository(self._connection)
        return self

    @property
    def connection(self) -> AsyncConnection:
        assert self._connection is not None, "unit of work used outside `async with`"
        return self._connection

    async def commit(self) -> None:
        assert self._connection is not None
        await self._connection.commit()
        self._committed = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            if not self._committed:
                await self._connection.rollback()
        finally:
            try:
                await self._connection.close()
            finally:
                if self._writers is not None:
                    self._writers.release()


def _engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        # Writers queue for up to 30 s instead of failing with "database is locked".
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


def _ensure_sqlite_directory(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _use_explicit_sqlite_transactions(engine: AsyncEngine) -> None:
    # The sqlite3 module's own implicit transactions get in the way of choosing BEGIN
    # IMMEDIATE; take transaction control away from it (the SQLAlchemy-documented recipe).
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
