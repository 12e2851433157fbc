"""One GlobeCo service over HTTP: timeouts, retries with backoff, circuit breaker, JSON bodies.

Retry policy: connection errors, timeouts and 5xx are retried (exponential backoff with jitter,
``attempts`` in all); 4xx never. A request that is not idempotent (creating orders) is retried only
when it certainly was not processed: the connection failed or timed out before it was sent, or
the answer was 503. Outcomes are ``ServiceUnavailable`` (the service failed, or its circuit is
open) or ``InvalidServiceResponse`` (it answered, but not as its contract says).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn

import httpx
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from order_generation.adapters.globeco._breaker import Attempt, CircuitBreaker, CircuitOpenError
from order_generation.domain.errors import InvalidServiceResponse, ServiceUnavailable
from order_generation.observability.metrics import (
    CIRCUIT_CODES,
    CIRCUIT_STATE,
    GLOBECO_DURATION,
    GLOBECO_REQUESTS,
)

log = structlog.get_logger(__name__)

_SNIPPET = 200


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    backoff_initial_seconds: float
    backoff_max_seconds: float


@dataclass(frozen=True)
class LastOutcome:
    """How the last attempt at a service ended: success, failure, inconclusive (an answer that
    is ambiguous by contract), invalid (an answer that breaks it), circuit_open, cancelled."""

    outcome: str
    at: datetime
    detail: str


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    params: Mapping[str, str | int] | None
    body: Any
    accept: frozenset[int]
    idempotent: bool

    @property
    def what(self) -> str:
        return f"{self.method} {self.path}"


class _Retryable(Exception):
    """An attempt failed in a way that a later attempt may not."""


@dataclass(frozen=True)
class Reply:
    """An answer with an accepted status; ``what`` ("GET /path") is for error messages."""

    service: str
    what: str
    status: int
    response: httpx.Response

    def json(self) -> Any:
        """The body as JSON, numbers with a fraction as exact ``Decimal``."""
        try:
            return json.loads(
                self.response.content, parse_float=Decimal, parse_constant=_reject_constant
            )
        # ValueError includes JSONDecodeError and UnicodeDecodeError; RecursionError is a
        # pathologically nested body.
        except (ValueError, RecursionError) as exc:
            raise InvalidServiceResponse(
                self.service,
                f"{self.what} answered HTTP {self.status} with a body that is not valid JSON "
                f"({exc}): {_snippet(self.response)}",
            ) from None


class ServiceHttp:
    """Calls one service; all services share one pooled ``httpx.AsyncClient``."""

    def __init__(
        self,
        service: str,
        base_url: str,
        client: httpx.AsyncClient,
        *,
        timeout_seconds: float,
        retry: RetryPolicy,
        breaker: CircuitBreaker,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.breaker = breaker
        self.last_outcome: LastOutcome | None = None
        self._client = client
        self._timeout = timeout_seconds
        self._retry = retry

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        accept: Collection[int] = (200,),
    ) -> Reply:
        """GET ``path``; a status in ``accept`` is returned, anything else raises."""
        return await self._call(
            "GET", path, params=params, body=None, accept=accept, idempotent=True
        )

    async def post(
        self, path: str, body: Any, *, accept: Collection[int], idempotent: bool
    ) -> Reply:
        """POST ``body`` as JSON; ``idempotent=False`` limits retries to unsent requests."""
        return await self._call(
            "POST", path, params=None, body=body, accept=accept, idempotent=idempotent
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        body: Any,
        accept: Collection[int],
        idempotent: bool,
    ) -> Reply:
        call = _Call(method, path, params, body, frozenset(accept), idempotent)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            # initial·2^(n-1), capped at max, plus up to ``initial`` of random jitter so that
            # concurrent callers do not retry in lockstep.
            wait=wait_exponential(
                multiplier=self._retry.backoff_initial_seconds,
                max=self._retry.backoff_max_seconds,
            )
            + wait_random(0, self._retry.backoff_initial_seconds),
            retry=retry_if_exception_type(_Retryable),
            before_sleep=lambda state: self._log_retry(state, call.what),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(call)
        except _Retryable as exc:
            attempts = retrying.statistics.get("attempt_number", self._retry.attempts)
            raise ServiceUnavailable(
                self.service, f"{call.what} failed after {attempts} attempt(s): {exc}"
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _attempt(self, call: _Call) -> Reply:
        try:
            attempt = await self.breaker.admit()
        except CircuitOpenError as exc:
            self._observe("circuit_open", None, str(exc))
            raise ServiceUnavailable(
                self.service,
                f"{call.what} not attempted: {exc}",
                retry_after_seconds=math.ceil(exc.retry_after),
            ) from None
        started = time.perf_counter()
        outcome, detail = "cancelled", ""
        try:
            reply = await self._exchange(call, attempt)
            outcome = "inconclusive" if reply.status >= 500 else "success"
            detail = f"{call.what}: HTTP {reply.status}"
            return reply
        except InvalidServiceResponse as error:
            outcome, detail = "invalid", error.message
            raise
        except (_Retryable, ServiceUnavailable) as error:
            outcome, detail = "failure", f"{call.what}: {error}"
            raise
        finally:
            attempt.release()  # an attempt cancelled mid-way decides nothing (see _breaker)
            self._observe(outcome, started, detail)

    def _observe(self, outcome: str, started: float | None, detail: str) -> None:
        """Metrics of one attempt, and the last outcome (``GET /health`` shows it)."""
        GLOBECO_REQUESTS.labels(self.service, outcome).inc()
        if started is not None:
            GLOBECO_DURATION.labels(self.service).observe(time.perf_counter() - started)
        CIRCUIT_STATE.labels(self.service).set(CIRCUIT_CODES[self.breaker.state])
        self.last_outcome = LastOutcome(outcome, datetime.now(UTC), detail[:300])

    async def _exchange(self, call: _Call, attempt: Attempt) -> Reply:
        what, idempotent = call.what, call.idempotent
        try:
            response = await self._client.request(
                call.method,
                self.base_url + call.path,
                params=call.params,
                json=call.body,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            self._fail(
                attempt,
                f"timed out after {self._timeout:g} s ({type(exc).__name__})",
                what,
                retry=idempotent or isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout),
            )
        except httpx.TransportError as exc:
            self._fail(
                attempt,
                f"connection failed ({type(exc).__name__}: {exc or 'no detail'})",
                what,
                retry=idempotent or isinstance(exc, httpx.ConnectError),
            )
        except httpx.RequestError as exc:
            # DecodingError (a body that is not the gzip it claims, ...): the service answered,
            # but the answer cannot be read.
            attempt.succeeded()
            raise InvalidServiceResponse(
                self.service, f"{what} answered with a body that cannot be read ({exc})"
            ) from None
        status = response.status_code
        if status in call.accept:
            if status >= 500:
                # Accepted but ambiguous (accounting's 500 for "no balance rows"): the caller's
                # follow-up request tells whether the service is healthy.
                attempt.inconclusive()
            else:
                attempt.succeeded()
            return Reply(self.service, what, status, response)
        if status >= 500:
            self._fail(
                attempt,
                f"HTTP {status}: {_snippet(response)}",
                what,
                retry=idempotent or status == 503,
            )
        # The service is up, but answered in a way its contract does not allow for this call.
        attempt.succeeded()
        raise InvalidServiceResponse(
            self.service, f"{what} answered HTTP {status} unexpectedly: {_snippet(response)}"
        )

    def _fail(self, attempt: Attempt, problem: str, what: str, *, retry: bool) -> NoReturn:
        attempt.failed(problem)
        if retry:
            raise _Retryable(problem)
        raise ServiceUnavailable(
            self.service,
            f"{what}: {problem}; not retried, as the request may have been processed",
        )

    def _log_retry(self, state: RetryCallState, what: str) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "globeco_request_retry",
            service=self.service,
            request=what,
            attempt=state.attempt_number,
            error=str(error),
            wait_seconds=round(state.upcoming_sleep, 3),
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def _snippet(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return repr(text[:_SNIPPET] + ("…" if len(text) > _SNIPPET else "")) if text else "(empty)"
