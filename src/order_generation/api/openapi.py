"""The OpenAPI document, made to say what the service really answers.

FastAPI documents a 422 ``HTTPValidationError`` on every operation; this service answers bad
input with 400 and its one error body (``ErrorOut``), and 422 only where a request is refused by
state (a model that still has portfolios, no feasible rebalance), which those routes declare
themselves. Every operation that touches the database can answer 503 with ``Retry-After``, and
every operation with a body 413.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_ERROR = {"$ref": "#/components/schemas/ErrorOut"}
_RETRY_AFTER = {
    "description": "Seconds after which the request may be tried again.",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI, *, uses_database: Callable[[str], bool]) -> None:
    """Replace ``app.openapi`` with the corrected document; ``uses_database`` tells which paths
    depend on the database (they can answer 503)."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path, item in schema["paths"].items():
                for operation in item.values():
                    _correct(operation, uses_database=uses_database(path))
            components = schema.get("components", {}).get("schemas", {})
            for name in _VALIDATION_SCHEMAS:
                components.pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _correct(operation: dict[str, Any], *, uses_database: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    generated = responses.get("422", {}).get("content", {}).get("application/json", {})
    if generated.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
        del responses["422"]
    if operation.get("parameters") or "requestBody" in operation:
        responses.setdefault("400", _error("the request breaks a rule (see `code`)"))
    if "requestBody" in operation:
        responses.setdefault("413", _error("the request body is larger than 5 MB"))
    if uses_database:
        unavailable = responses.setdefault(
            "503", _error("the database (or a required GlobeCo service) is unavailable")
        )
        unavailable.setdefault("headers", {})["Retry-After"] = _RETRY_AFTER


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}
