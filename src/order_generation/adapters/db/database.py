"""Engine set-up and the unit of work.

A unit of work is one database transaction: ``async with database.unit_of_work() as uow:`` gives
repositories bound to it; leaving the block without ``await uow.commit()`` rolls everything back.

Every database call is bounded in time (connect, each statement, waiting for a pooled
connection), and a database that is down, unreachable or too slow surfaces as one domain error,
``DatabaseUnavailable`` (HTTP 503), whatever the driver said.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from order_generation.adapters.db.job_repository import JobRepository
from order_generation.adapters.db.model_repository import ModelRepository
from order_generation.adapters.db.rebalance_repository import RebalanceRepository
from order_generation.domain.errors import DatabaseUnavailable
from order_generation.observability.metrics import DB_POOL_IN_USE, DB_POOL_OPEN

_IMMEDIATE = "ogs_sqlite_begin_immediate"
_WRITE_QUEUE_SECONDS = 30.0


class Database:
    """The service's database: one async engine, units of work, a readiness probe."""

    def __init__(self, url: str, *, echo: bool = False, timeout_seconds: float = 5.0) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.timeout_seconds = timeout_seconds
        if self.is_sqlite:
            _ensure_sqlite_directory(self.url)
        self.engine = create_async_engine(
            self.url, echo=echo, **_engine_options(self.url, timeout_seconds)
        )
        if self.is_sqlite:
            _use_explicit_sqlite_transactions(self.engine, timeout_seconds)
        _report_pool_use(self.engine)
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
            return UnitOfWork(self.write_engine, self._sqlite_writers, self.timeout_seconds)
        return UnitOfWork(self.engine, None, self.timeout_seconds)

    async def ping(self) -> None:
        """Raises DatabaseUnavailable unless a trivial query answers within the timeout."""
        try:
            async with asyncio.timeout(self.timeout_seconds), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:
            raise as_unavailable(error, connecting=True) or error from error

    async def dispose(self) -> None:
        await self.engine.dispose()


class UnitOfWork:
    """One transaction and the repositories bound to it; rolls back unless committed."""

    models: ModelRepository
    rebalances: RebalanceRepository
    jobs: JobRepository

    def __init__(
        self, engine: AsyncEngine, writers: asyncio.Lock | None, timeout_seconds: float
    ) -> None:
        self._engine = engine
        self._writers = writers
        self._timeout = timeout_seconds
        self._connection: AsyncConnection | None = None
        self._committed = False

    async def __aenter__(self) -> UnitOfWork:
        if self._writers is not None:
            # The queue of this process's own SQLite writers: each holds the slot for one short
            # transaction (bounded itself by the busy timeout), so a long queue of them is load,
            # not an outage; only a queue that does not move for much longer is.
            wait = max(_WRITE_QUEUE_SECONDS, 6 * self._timeout)
            try:
                async with asyncio.timeout(wait):
                    await self._writers.acquire()
            except TimeoutError:
                raise DatabaseUnavailable(
                    f"the database is busy: no write slot within {wait:g} s",
                    retry_after_seconds=1,
                ) from None
        try:
            self._connection = await self._engine.connect()
            await self._connection.begin()
        except BaseException as error:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await self._connection.close()
            if self._writers is not None:
                self._writers.release()
            unavailable = (
                as_unavailable(error, connecting=True) if isinstance(error, Exception) else None
            )
            if unavailable is not None:
                raise unavailable from error
            raise
        self.models = ModelRepository(self._connection)
        self.rebalances = RebalanceRepository(self._connection)
        self.jobs = JobRepository(self._connection)
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
            try:
                if not self._committed:
                    await self._connection.rollback()
            finally:
                await self._connection.close()
        except Exception as cleanup_error:
            # The connection died with the transaction (or before it): nothing was committed.
            if exc is None:
                raise as_unavailable(cleanup_error) or cleanup_error from cleanup_error
        finally:
            if self._writers is not None:
                self._writers.release()
        if isinstance(exc, Exception):
            unavailable = as_unavailable(exc)
            if unavailable is not None:
                raise unavailable from exc


def as_unavailable(error: BaseException, *, connecting: bool = False) -> DatabaseUnavailable | None:
    """The domain error for a database that is down, unreachable or too slow; None for any
    other error (a constraint, a bug), which must not be mistaken for an outage. While
    ``connecting`` every driver error means the database cannot be used (e.g. it was dropped)."""
    if isinstance(error, DatabaseUnavailable):
        return error
    if isinstance(error, sa_exc.DBAPIError):
        if not (
            connecting
            or error.connection_invalidated
            or isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
        ):
            return None
        cause = str(error.orig).splitlines()[0] if error.orig is not None else type(error).__name__
    elif isinstance(error, sa_exc.TimeoutError | TimeoutError):
        cause = "no answer in time"
    elif isinstance(error, OSError):  # refused, reset, unreachable (asyncpg raises these raw)
        cause = f"{type(error).__name__}: {error}"
    else:
        return None
    return DatabaseUnavailable(f"the database is unavailable: {cause[:200]}")


def _engine_options(url: URL, timeout: float) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        # Writers of other processes queue this long instead of failing at once with
        # "database is locked" (the sqlite3 busy timeout).
        return {"connect_args": {"timeout": timeout}}
    return {
        "pool_pre_ping": True,
        "pool_size": 10,
        "max_overflow": 20,
        "pool_timeout": timeout,  # waiting for a pooled connection
        # asyncpg: connection set-up, and every statement (a frozen server never answers).
        "connect_args": {"timeout": timeout, "command_timeout": timeout},
    }


def _report_pool_use(engine: AsyncEngine) -> None:
    # Pool gauges follow the pool's own events: no polling, right under several workers.
    pool = engine.sync_engine.pool
    event.listen(pool, "checkout", lambda *_: DB_POOL_IN_USE.inc())
    event.listen(pool, "checkin", lambda *_: DB_POOL_IN_USE.dec())
    event.listen(pool, "connect", lambda *_: DB_POOL_OPEN.inc())
    event.listen(pool, "close", lambda *_: DB_POOL_OPEN.dec())


def _ensure_sqlite_directory(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _use_explicit_sqlite_transactions(engine: AsyncEngine, timeout: float) -> None:
    # The sqlite3 module's own implicit transactions get in the way of choosing BEGIN
    # IMMEDIATE; take transaction control away from it (the SQLAlchemy-documented recipe).
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
