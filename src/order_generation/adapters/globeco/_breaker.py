"""A circuit breaker per GlobeCo service, so a dead service fails fast instead of being hammered.

Closed: attempts go through; ``failure_threshold`` consecutive failed attempts open it. Open:
attempts fail at once, until ``reset_seconds`` have passed. Half-open: one probe attempt goes
through (others still fail fast); its success closes the circuit, its failure opens it again. A
probe that never reports (e.g. cancelled) is replaced by a new one after another ``reset_seconds``.
An inconclusive attempt (an answer that is ambiguous by contract) changes no count, and a probe
that ends that way hands its turn to the next attempt.

Meant for one event loop: the state changes between awaits, so no locking is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

CircuitState = Literal["closed", "open", "half_open"]


class CircuitOpenError(Exception):
    """The circuit is open: the attempt was not made."""


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

    @property
    def state(self) -> CircuitState:
        return self._state

    def before_attempt(self) -> None:
        """Let an attempt through, or raise ``CircuitOpenError`` saying why not."""
        if self._state == "closed":
            return
        waited = self._clock() - self._since
        if waited >= self._reset:
            # Open long enough (or the last probe went silent): this attempt is the probe.
            self._state = "half_open"
            self._since = self._clock()
            return
        if self._state == "half_open":
            raise CircuitOpenError(
                f"circuit half-open: a probe request is already testing the service "
                f"(last failure: {self._last_failure})"
            )
        raise CircuitOpenError(
            f"circuit open after {self._failures} consecutive failed attempts (last: "
            f"{self._last_failure}); next attempt allowed in {self._reset - waited:.1f} s"
        )

    def record_success(self) -> None:
        self._state = "closed"
        self._failures = 0

    def record_inconclusive(self) -> None:
        """The attempt neither proved the service healthy nor failed: Portfolio Accounting's
        summary answers 500 both for an empty portfolio and for a real failure."""
        if self._state == "half_open":
            # Decided by the next attempt (the caller's follow-up request), not after a reset.
            self._state = "open"
            self._since = self._clock() - self._reset

    def record_failure(self, description: str) -> None:
        self._failures += 1
        self._last_failure = description
        if self._state == "half_open" or self._failures >= self._threshold:
            self._state = "open"
            self._since = self._clock()
