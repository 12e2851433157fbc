"""The correlation id of the request being served (GlobeCo's ``X-Correlation-ID``).

Taken from the request (``X-Correlation-ID``, or ``X-Request-ID``) when it is a sane token,
generated otherwise; returned on the response, sent on every GlobeCo call made for the request
and bound to every log line about it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar

CORRELATION_HEADER = "X-Correlation-ID"
_ACCEPTED = (b"x-correlation-id", b"x-request-id")
# A caller's id is echoed into headers and logs: only a plain token is taken as it is.
_TOKEN = re.compile(rb"[A-Za-z0-9._:/+=-]{1,128}")

_current: ContextVar[str | None] = ContextVar("ogs_correlation_id", default=None)


def correlation_id() -> str | None:
    """The id of the request being served, if any."""
    return _current.get()


def use(value: str | None) -> object:
    """Makes ``value`` the current id; returns a token for ``reset``."""
    return _current.set(value)


def reset(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def from_request(headers: Mapping[bytes, bytes]) -> str:
    """The request's own id when it is a plain token of at most 128 characters, else a new one."""
    for name in _ACCEPTED:
        value = headers.get(name, b"").strip()
        if _TOKEN.fullmatch(value):
            return value.decode("ascii")
    return uuid.uuid4().hex
