"""The release builds linux/amd64 and linux/arm64 images (docker buildx, see
.github/workflows/release.yml). No arm64 build can run here, so this checks what would break
it: every runtime package of uv.lock must have a wheel for each architecture on CPython 3.11
and glibc <= 2.36 (Debian bookworm, the base of python:3.11-slim) — the image has no compiler
to build an sdist."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.utils import parse_wheel_filename

from tests.deploy.support import ROOT

PROJECT = "order-generation"
GLIBC_MINOR = 36  # Debian bookworm


def _environment(machine: str) -> dict[str, str]:
    return {
        "python_version": "3.11",
        "python_full_version": "3.11.9",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": machine,
        "extra": "",
    }


def _runtime_packages(machine: str) -> list[dict[str, Any]]:
    """The project's runtime dependency closure (no dev group) on linux/`machine`."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    by_name: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        by_name.setdefault(package["name"], []).append(package)
    environment = _environment(machine)
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    (project,) = by_name[PROJECT]
    pending: list[dict[str, Any]] = list(project["dependencies"])
    while pending:
        dependency = pending.pop()
        marker = dependency.get("marker")
        if marker and not Marker(marker).evaluate(environment):
            continue
        candidates = by_name[dependency["name"]]
        if "version" in dependency:
            candidates = [p for p in candidates if p["version"] == dependency["version"]]
        for package in candidates:
            key = (package["name"], package["version"])
            if key not in seen:
                seen[key] = package
                pending += package.get("dependencies", [])
            for extra in dependency.get("extra", []):
                pending += package.get("optional-dependencies", {}).get(extra, [])
    return list(seen.values())


def _wheel_fits(filename: str, machine: str) -> bool:
    _, _, _, tags = parse_wheel_filename(filename)
    for tag in tags:
        interpreter_ok = tag.interpreter in ("cp311", "py3", "py311") or (
            tag.abi == "abi3"
            and re.fullmatch(r"cp3(\d+)", tag.interpreter) is not None
            and int(tag.interpreter[3:]) <= 11
        )
        if not interpreter_ok:
            continue
        if tag.platform == "any":
            return True
        match = re.fullmatch(rf"manylinux_2_(\d+)_{machine}", tag.platform)
        if match and int(match.group(1)) <= GLIBC_MINOR:
            return True
        if tag.platform == f"manylinux2014_{machine}":
            return True
        if machine == "x86_64" and tag.platform in ("manylinux1_x86_64", "manylinux2010_x86_64"):
            return True
    return False


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_every_runtime_package_installs_from_a_wheel(machine: str) -> None:
    packages = _runtime_packages(machine)
    assert len(packages) > 20, "the closure should hold the whole runtime"
    missing = []
    for package in packages:
        wheels = [w["url"].rsplit("/", 1)[-1] for w in package.get("wheels", [])]
        if not any(_wheel_fits(wheel, machine) for wheel in wheels):
            missing.append(f"{package['name']} {package['version']}")
    assert not missing, f"no CPython 3.11 linux/{machine} wheel for: {', '.join(missing)}"
