"""Every error leaves the API in one shape: ``{"detail", "code", "errors"}``.

Domain exceptions map to their status here, once; routes never catch them. Anything unexpected
is logged with its traceback and answered with a plain 500 that reveals nothing internal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from order_generation.domain.error_codes import ErrorCode
from order_generation.domain.errors import (
    DomainError,
    InvalidState,
    NoFeasibleRebalance,
    NotFound,
    Overloaded,
    RuleViolation,
    Unavailable,
    VersionConflict,
)

log = structlog.get_logger(__name__)

STATUS_OF: dict[type[DomainError], int] = {
    RuleViolation: 400,
    NotFound: 404,
    VersionConflict: 409,
    InvalidState: 422,
    NoFeasibleRebalance: 422,
    Unavailable: 503,
}


# Errors raised by the framework (routing, the body limit), as the catalogue names them.
_CODE_OF_STATUS = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.BODY_TOO_LARGE,
}
MAX_BODY_BYTES = 5 * 1024 * 1024


def body_too_large() -> JSONResponse:
    detail = f"request body larger than {MAX_BODY_BYTES} bytes"
    return error_response(413, detail, ErrorCode.BODY_TOO_LARGE)


def error_response(
    status: int, detail: str, code: ErrorCode, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"detail": detail, "code": code, "errors": errors or []}
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    # Unexpected exceptions (bugs) are answered by ObservabilityMiddleware, not here: a handler
    # for Exception runs in Starlette's outermost layer, which re-raises after answering.


async def _domain_error(request: Request, error: DomainError) -> JSONResponse:
    status = next(s for kind, s in STATUS_OF.items() if isinstance(error, kind))
    response = error_response(status, error.message, error.code, error.errors)
    if isinstance(error, Unavailable):
        # Saturation is expected under load (a warning); anything else unavailable is an error.
        level = log.warning if isinstance(error, Overloaded) else log.error
        level("request failed", path=request.url.path, code=error.code, detail=error.message)
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    # SPEC §3: malformed input is a 400 (422 is reserved for "no feasible rebalance").
    fields = [_field_error(e) for e in error.errors()]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    # Path parameters are ids: the same code as an id the domain refuses.
    in_path = any(e.get("loc", ("",))[0] == "path" for e in error.errors())
    code = ErrorCode.INVALID_ID if in_path else ErrorCode.INVALID_REQUEST
    return error_response(400, f"invalid request: {summary}", code, fields)


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    if error.status_code == 413:  # FastAPI's max_body_size, counting the bytes received
        return body_too_large()
    code = _CODE_OF_STATUS.get(error.status_code)
    if code is None:
        code = ErrorCode.INVALID_REQUEST if error.status_code < 500 else ErrorCode.INTERNAL_ERROR
    response = error_response(error.status_code, str(error.detail), code)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    if error.status_code == 405:
        # Starlette names only the methods of the first route matching the path; FastAPI has
        # one route per method, so the others would be missing.
        response.headers["Allow"] = ", ".join(sorted(_methods_of_path(request)))
    return response


def _methods_of_path(request: Request) -> set[str]:
    table: PathMethods = request.app.state.path_methods
    return {m for pattern, methods in table for m in methods if pattern.match(request.url.path)}


PathMethods = list[tuple[re.Pattern[str], frozenset[str]]]


def path_methods(routers: Iterable[APIRouter]) -> PathMethods:
    """Each route's path pattern and methods (HEAD with GET), for the ``Allow`` of a 405."""
    table: PathMethods = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                pattern, _, _ = compile_path(route.path)
                table.append((pattern, frozenset(route.methods or ())))
    return table


def _field_error(error: Any) -> dict[str, str]:
    # Pydantic's own dicts hold the offending input and exception objects; keep only text.
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    return {
        "field": ".".join(location) or "body",
        "message": str(error.get("msg", "invalid")),
        "type": str(error.get("type", "invalid")),
    }
