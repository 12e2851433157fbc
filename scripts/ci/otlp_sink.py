#!/usr/bin/env python3
"""A stand-in OpenTelemetry collector for CI: accepts OTLP/HTTP on 127.0.0.1:4318 and appends
one line per request to a log file: the path, the content type, and whether the body names
the service and carries each k8s.* resource attribute. Runs inside the service's container
(the node-local collector's address is 127.0.0.1 there), standard library only.

    python otlp_sink.py LOGFILE
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
NEEDLES = (
    "globeco-order-generation-service",
    "service.namespace",
    "k8s.pod.name",
    "k8s.pod.ip",
    "k8s.node.name",
    "k8s.namespace.name",
)


class Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        record = {
            "path": self.path,
            "content_type": self.headers.get("content-type"),
            "found": [needle for needle in NEEDLES if needle.encode() in body],
        }
        with open(LOG, "a") as log:
            log.write(json.dumps(record) + "\n")
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


ThreadingHTTPServer(("127.0.0.1", 4318), Sink).serve_forever()
