#!/usr/bin/env python3
"""Prints, one per line, the OTEL_* variables that the rendered globeco overlay gives the API
container, with the downward-API values resolved as the kubelet would: the node's IP as
127.0.0.1 (where scripts/ci/otlp_sink.py listens inside the container), made-up pod names.
Reads the output of `kubectl kustomize deploy/k8s/overlays/globeco` on standard input.
"""

from __future__ import annotations

import re
import sys

import yaml

DOWNWARD = {
    "status.hostIP": "127.0.0.1",
    "metadata.name": "globeco-order-generation-service-ci-0",
    "status.podIP": "10.0.0.42",
    "metadata.namespace": "globeco",
    "spec.nodeName": "ci-node",
}


def _expand(text: str, defined: dict[str, str]) -> str:
    """$(VAR) -> the value of VAR defined earlier in the list (Kubernetes' expansion)."""
    return re.sub(r"\$\((\w+)\)", lambda match: defined[match.group(1)], text)


def main() -> None:
    for doc in yaml.safe_load_all(sys.stdin):
        if not doc or doc["kind"] != "Deployment":
            continue
        if doc["metadata"]["name"] != "globeco-order-generation-service":
            continue
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        values: dict[str, str] = {}
        for entry in container["env"]:
            if "value" in entry:
                value = _expand(entry["value"], values)
            elif "fieldRef" in entry.get("valueFrom", {}):
                value = DOWNWARD[entry["valueFrom"]["fieldRef"]["fieldPath"]]
            else:
                continue
            values[entry["name"]] = value
            if entry["name"].startswith("OTEL_"):
                print(f"{entry['name']}={value}")


if __name__ == "__main__":
    main()
