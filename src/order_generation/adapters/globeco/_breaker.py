"""A circuit breaker per GlobeCo service, so a dead service fails fast instead of being hammered.

Closed: attempts go through; ``failure_threshold`` consecutive failed attempts open it. Open:
attempts fail at once, until ``reset_seconds`` have passed. Half-open: the next attempt is the
probe; attempts that arrive while it is under way wait for its outcome instead of failing, so a
burst of concurrent calls after an outage is decided by one request. The probe's success closes
the circuit (the waiters go ahead), its failure opens it again (the waiters fail fast).

Every admitted attempt ends in exactly one report. An attempt that ends without one (cancelled,
e.g. because a sibling task failed) counts as inconclusive, like an answer that is ambiguous by
contract: it changes no count, and a probe that ends that way hands its turn to the next attempt
at once. Without that rule a cancelled probe would keep the circuit half-open for good.

Meant for one event loop: the state changes between awaits, so no locking is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Literal

CircuitState = Literal["closed", "open", "half_open"]


class CircuitOpenError(Exception):
    """The circuit is open: the attempt was not made. ``retry_after`` is the time, in
    seconds, until the next attempt will be let through."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Attempt:
    """One admitted attempt; report its outcome once with ``succeeded``, ``failed`` or
    ``inconclusive``, and always ``release()`` it (a ``finally``)."""

    __slots__ = ("_breaker", "_probe", "_reported")

    def __init__(self, breaker: CircuitBreaker, probe: asyncio.Event | None) -> None:
        self._breaker = breaker
        self._probe = probe  # set when this attempt is the probe: its waiters wait on it
        self._reported = False

    def succeeded(self) -> None:
        if self._report():
            self._breaker._succeeded(probe=self._probe)

    def failed(self, description: str) -> None:
        if self._report():
            self._breaker._failed(description, probe=self._probe)

    def inconclusive(self) -> None:
        """Neither healthy nor failed: Portfolio Accounting's summary answers 500 both for an
        empty portfolio and for a real failure."""
        if self._report():
            self._breaker._inconclusive(probe=self._probe)

    def release(self) -> None:
        """Ends the attempt; one that never reported (cancelled) is inconclusive."""
        self.inconclusive()

    def _report(self) -> bool:
        first = not self._reported
        self._reported = True
        return first


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        reset_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._clock = clock
        self._state: CircuitState = "closed"
        self._failures = 0
        self._last_failure = ""
        self._since = 0.0  # when the circuit opened, or when the current probe started
        self._probe_done: asyncio.Event | None = None

    @property
    def state(self) -> CircuitState:
        return self._state

    async def admit(self) -> Attempt:
        """An attempt that may go ahead, or ``CircuitOpenError`` saying why not. While a probe
        is under way this waits for its outcome (at most ``reset_seconds``, after which a probe
        that went silent is replaced)."""
        while True:
            if self._state == "closed":
                return Attempt(self, None)
            waited = self._clock() - self._since
            if waited >= self._reset:
                # Open long enough (or the last probe went silent): this attempt is the probe.
                self._state = "half_open"
                self._since = self._clock()
                self._probe_done = asyncio.Event()
                return Attempt(self, self._probe_done)
            if self._state == "open":
                raise CircuitOpenError(
                    f"circuit open after {self._failures} consecutive failed attempts (last: "
                    f"{self._last_failure}); next attempt allowed in {self._reset - waited:.1f} s",
                    self._reset - waited,
                )
            assert self._probe_done is not None
            # Re-evaluated above once the probe reports, or when its turn has passed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._probe_done.wait(), self._reset - waited)

    def _succeeded(self, *, probe: asyncio.Event | None) -> None:
        self._state = "closed"
        self._failures = 0
        self._end_probe(probe)

    def _failed(self, description: str, *, probe: asyncio.Event | None) -> None:
        self._failures += 1
        self._last_failure = description
        if probe is not None or self._state == "half_open" or self._failures >= self._threshold:
            self._state = "open"
            self._since = self._clock()
        self._end_probe(probe)

    def _inconclusive(self, *, probe: asyncio.Event | None) -> None:
        if probe is not None and probe is self._probe_done:
            # Decided by the next attempt (e.g. the caller's follow-up request), not after a
            # whole reset period.
            self._state = "open"
            self._since = self._clock() - self._reset
        self._end_probe(probe)

    def _end_probe(self, probe: asyncio.Event | None) -> None:
        if probe is None:
            return
        probe.set()  # wakes the attempts waiting for this probe
        if probe is self._probe_done:
            self._probe_done = None
