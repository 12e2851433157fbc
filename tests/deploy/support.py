"""Reading the deployment artefacts (Dockerfile, .dockerignore, compose.yaml, the rendered
kustomize overlays, the Prometheus rules) and the application's own interface, for the checks
in this folder. Rendering needs `kubectl` (its built-in kustomize); without it those tests
skip, unless OGS_REQUIRE_DEPLOY_TOOLS=1 (as .ci/deploy-checks sets), when they fail."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("globeco", "standalone")
IMAGE_NAME = "globeco-order-generation-service"
# Environment variables the manifests define for their own $(VAR) references (downward API).
DOWNWARD_API_VARIABLES = {"NODE_IP", "POD_NAME", "POD_IP", "POD_NAMESPACE", "NODE_NAME"}

Doc = dict[str, Any]


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"`{name}` is not installed"
        if os.environ.get("OGS_REQUIRE_DEPLOY_TOOLS") == "1":
            pytest.fail(message + " (OGS_REQUIRE_DEPLOY_TOOLS=1)")
        pytest.skip(message)
    return path


@cache
def _render(directory: str) -> tuple[Doc, ...]:
    kubectl = require_tool("kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", directory], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render(overlay: str) -> list[Doc]:
    """The overlay's resources as `kubectl kustomize` renders them."""
    return list(_render(str(K8S / "overlays" / overlay)))


def render_directory(directory: Path) -> list[Doc]:
    return list(_render(str(directory)))


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    matches = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"].startswith(name)]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def workloads(docs: list[Doc]) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] in ("Deployment", "StatefulSet")]


@dataclass(frozen=True)
class Container:
    workload: str
    init: bool
    spec: Doc
    pod: Doc

    @property
    def name(self) -> str:
        return f"{self.workload}/{self.spec['name']}"

    @property
    def image(self) -> str:
        return str(self.spec["image"])

    @property
    def runs_project_image(self) -> bool:
        return self.image.split("/")[-1].split(":")[0] == IMAGE_NAME

    @property
    def argv(self) -> list[str]:
        return [*self.spec.get("command", []), *self.spec.get("args", [])]

    def env_names(self) -> list[str]:
        return [entry["name"] for entry in self.spec.get("env", [])]

    def env_value(self, name: str) -> str | None:
        for entry in self.spec.get("env", []):
            if entry["name"] == name:
                value = entry.get("value")
                return None if value is None else str(value)
        return None


def containers(docs: list[Doc]) -> Iterator[Container]:
    for workload in workloads(docs):
        pod = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        for spec in pod.get("initContainers", []):
            yield Container(name, True, spec, pod)
        for spec in pod["containers"]:
            yield Container(name, False, spec, pod)


def api_container(docs: list[Doc]) -> Container:
    found = [
        c
        for c in containers(docs)
        if c.runs_project_image and not c.init and c.workload == IMAGE_NAME
    ]
    assert len(found) == 1, "expected one API container"
    return found[0]


def config_map_data(docs: list[Doc], ref: str) -> dict[str, str]:
    return dict(named(docs, "ConfigMap", ref)["data"])


# --- commands --------------------------------------------------------------------------------


def ogs_commands(argv: list[str]) -> list[list[str]]:
    """The `ogs ...` invocations in a container command: the argv itself, or each `&&` step
    of a `sh -c` script (with a leading `exec` removed)."""
    if argv[:2] == ["sh", "-c"]:
        commands = []
        for step in re.split(r"&&|;", argv[2]):
            words = shlex.split(step)
            if words and words[0] == "exec":
                words = words[1:]
            if words:
                commands.append(words)
        return commands
    return [argv]


def option(words: list[str], name: str) -> str | None:
    if name in words:
        return words[words.index(name) + 1]
    return None


# --- Dockerfile, .dockerignore, compose ------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    stage: int


@cache
def dockerfile() -> tuple[Instruction, ...]:
    text = (ROOT / "Dockerfile").read_text()
    logical: list[str] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    instructions = []
    stage = -1
    for line in logical:
        keyword, _, value = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, value.strip(), stage))
    return tuple(instructions)


def final_stage() -> list[Instruction]:
    instructions = dockerfile()
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def exec_form(value: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list), f"not exec form: {value}"
    return [str(word) for word in parsed]


def dockerfile_env(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for word in shlex.split(instruction.value):
                key, _, value = word.partition("=")
                env[key] = value
    return env


def dockerignore_excludes(path: str) -> bool:
    """Whether `path` (relative to the context) is left out of the build context: the last
    matching pattern wins; a pattern matching a directory covers everything below it."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern[1:] if negate else pattern
        glob = glob.strip("/")
        globs = {glob}
        if glob.startswith("**/"):
            globs.add(glob[3:])
        if any(fnmatch.fnmatchcase(c, g) for c in candidates for g in globs):
            excluded = not negate
    return excluded


@cache
def compose() -> Doc:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def compose_interpolate(text: str) -> str:
    """${VAR:-default} -> default (the values compose uses when nothing is set)."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", text)
