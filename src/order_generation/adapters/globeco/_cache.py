"""A value fetched from a service in bulk and kept for a while (a TTL), shared by its callers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar, cast

from cachetools import TTLCache

T = TypeVar("T")
_KEY = "value"
_MISSING = object()


class SharedFetch(Generic[T]):
    """``fetch()``'s answer, kept ``ttl_seconds`` (0: fetched on every call). Concurrent callers
    share one in-flight request, and a caller that gives up does not cancel it for the others."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[T]],
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._cache: TTLCache[str, T] = TTLCache(maxsize=1, ttl=ttl_seconds, timer=clock)
        self._inflight: asyncio.Future[T] | None = None

    async def get(self) -> T:
        # One read: a test and then a lookup could straddle the expiry (a KeyError).
        cached = self._cache.get(_KEY, _MISSING)
        if cached is not _MISSING:
            return cast(T, cached)
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._fetch_and_keep())
            self._inflight.add_done_callback(self._fetched)
        return await asyncio.shield(self._inflight)

    async def _fetch_and_keep(self) -> T:
        value = await self._fetch()
        self._cache[_KEY] = value
        return value

    def _fetched(self, future: asyncio.Future[T]) -> None:
        self._inflight = None
        if not future.cancelled():
            future.exception()  # retrieved here, so an unawaited failure is not logged as lost
