"""Domain exceptions: raised by the domain and the services, mapped to HTTP once in ``api``.

Each carries a stable machine-readable ``code`` and a human message; the API turns them into
``{"detail": message, "code": code, "errors": [...]}`` with the status its class stands for.
"""

from __future__ import annotations

from typing import Any

from order_generation.domain.error_codes import ErrorCode


class DomainError(Exception):
    """Base class; ``code`` is stable and documented, the message is for humans."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class RuleViolation(DomainError):
    """Input breaks a business rule (SPEC §2) or is malformed: HTTP 400."""

    def __init__(
        self, message: str, *, code: ErrorCode, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message, errors=errors)
        self.code = code


class NotFound(DomainError):
    """An id that names nothing: HTTP 404."""

    code = ErrorCode.NOT_FOUND


class VersionConflict(DomainError):
    """A write carried a stale ``version``; nothing was changed: HTTP 409."""

    code = ErrorCode.VERSION_CONFLICT


def check_version(what: str, entity_id: str, current: int, expected: int) -> None:
    """Optimistic concurrency, the one place it is decided (models and stored runs alike): a
    write that read ``expected`` may go on only if the stored version is still it."""
    if current != expected:
        raise VersionConflict(
            f"{what} {entity_id} is at version {current}, not {expected}; read it again and retry"
        )


class InvalidState(DomainError):
    """The request is well-formed but the stored state forbids it (e.g. deleting a model that
    still has portfolios): HTTP 422."""

    def __init__(self, message: str, *, code: ErrorCode) -> None:
        super().__init__(message)
        self.code = code


class NoFeasibleRebalance(DomainError):
    """The optimizer found no whole-unit solution (or none in time): HTTP 422."""

    code = ErrorCode.NO_FEASIBLE_SOLUTION


class Unavailable(DomainError):
    """Something the request needs is unavailable for now: HTTP 503 with ``Retry-After``."""

    code = ErrorCode.SERVICE_UNAVAILABLE

    def __init__(self, message: str, *, retry_after_seconds: int = 5) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)


class ServiceUnavailable(Unavailable):
    """A required GlobeCo service failed after retries, or its circuit is open: HTTP 503."""

    code = ErrorCode.SERVICE_UNAVAILABLE

    def __init__(self, service: str, message: str, *, retry_after_seconds: int = 5) -> None:
        super().__init__(
            f"{service} service unavailable: {message}", retry_after_seconds=retry_after_seconds
        )
        self.service = service


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached or did not answer in time: HTTP 503."""

    code = ErrorCode.DATABASE_UNAVAILABLE


class Overloaded(Unavailable):
    """Too many requests of this kind are being worked on already: HTTP 503."""

    code = ErrorCode.OVERLOADED


class InvalidServiceResponse(ServiceUnavailable):
    """A GlobeCo service answered, but with a body that breaks its contract: HTTP 503."""

    code = ErrorCode.INVALID_SERVICE_RESPONSE
