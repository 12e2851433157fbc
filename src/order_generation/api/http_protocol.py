"""The HTTP/1.1 protocol the service is served with: uvicorn's httptools parser, with requests it
cannot parse (a bad ``Content-Length``, a broken request line) refused in the service's one error
shape instead of uvicorn's plain-text "Invalid HTTP request received."."""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from order_generation.domain.error_codes import ErrorCode

_MALFORMED = json.dumps(
    {
        "detail": "malformed HTTP request (request line, headers or framing)",
        "code": ErrorCode.MALFORMED_HTTP_REQUEST,
        "errors": [],
    }
).encode()


class ErrorShapeHttpProtocol(HttpToolsProtocol):
    """Pass as ``http=`` to ``uvicorn.Config`` / ``uvicorn.run``."""

    def send_400_response(self, msg: str) -> None:
        # As uvicorn's own, but JSON: the connection is closed after it (the framing is lost).
        lines = [b"HTTP/1.1 400 Bad Request\r\n"]
        lines += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        lines += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(_MALFORMED)).encode("ascii") + b"\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"connection: close\r\n\r\n",
            _MALFORMED,
        ]
        self.transport.write(b"".join(lines))
        self.transport.close()
