"""Every error leaves the API in one shape: ``{"detail", "code", "errors"}``.

Domain exceptions map to their status here, once; routes never catch them. Anything unexpected
is logged with its traceback and answered with a plain 500 that reveals nothing internal.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from order_generation.domain.errors import (
    DomainError,
    InvalidState,
    NoFeasibleRebalance,
    NotFound,
    RuleViolation,
    ServiceUnavailable,
    VersionConflict,
)

log = structlog.get_logger(__name__)

STATUS_OF: dict[type[DomainError], int] = {
    RuleViolation: 400,
    NotFound: 404,
    VersionConflict: 409,
    InvalidState: 422,
    NoFeasibleRebalance: 422,
    ServiceUnavailable: 503,
}


def error_response(
    status: int, detail: str, code: str, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"detail": detail, "code": code, "errors": errors or []}
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _domain_error(request: Request, error: DomainError) -> JSONResponse:
    status = next(s for kind, s in STATUS_OF.items() if isinstance(error, kind))
    if status >= 500:
        log.warning("request failed", path=request.url.path, code=error.code, detail=error.message)
    return error_response(status, error.message, error.code, error.errors)


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    # SPEC §3: malformed input is a 400 (422 is reserved for "no feasible rebalance").
    fields = [_field_error(e) for e in error.errors()]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return error_response(400, f"invalid request: {summary}", "INVALID_REQUEST", fields)


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    try:
        code = HTTPStatus(error.status_code).name
    except ValueError:
        code = "HTTP_ERROR"
    response = error_response(error.status_code, str(error.detail), code)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return error_response(500, "internal server error", "INTERNAL_ERROR")


def _field_error(error: Any) -> dict[str, str]:
    # Pydantic's own dicts hold the offending input and exception objects; keep only text.
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    return {
        "field": ".".join(location) or "body",
        "message": str(error.get("msg", "invalid")),
        "type": str(error.get("type", "invalid")),
    }
