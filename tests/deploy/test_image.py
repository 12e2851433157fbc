"""The Dockerfile and its build context against the application."""

from __future__ import annotations

import re
import tomllib

import pytest
from fastapi.testclient import TestClient

from order_generation.config import Settings
from tests.deploy.support import (
    ROOT,
    dockerfile,
    dockerfile_env,
    dockerignore_excludes,
    exec_form,
    final_stage,
)


def test_both_stages_start_from_the_official_slim_python() -> None:
    bases = [i.value.split()[0] for i in dockerfile() if i.keyword == "FROM"]
    assert bases == ["python:3.11-slim", "python:3.11-slim"]
    assert not (ROOT / "Dockerfile").read_text().startswith("# syntax=")
    assert "--mount" not in (ROOT / "Dockerfile").read_text()


def test_runtime_stage_listens_on_the_app_port_as_a_non_root_user() -> None:
    stage = final_stage()
    (expose,) = [i.value for i in stage if i.keyword == "EXPOSE"]
    assert int(expose) == Settings.model_fields["port"].default
    env = dockerfile_env(stage)
    assert env["OGS_HOST"] == "0.0.0.0"
    assert env.get("OGS_PORT", "8088") == expose
    (user,) = [i.value for i in stage if i.keyword == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit(), "a numeric user: runAsNonRoot can check it"
    assert int(uid) != 0
    (cmd,) = [i.value for i in stage if i.keyword == "CMD"]
    assert exec_form(cmd) == ["ogs", "serve"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "ogs" in scripts


def test_runtime_stage_has_no_build_tools_or_sources() -> None:
    stage = final_stage()
    copies = [i.value for i in stage if i.keyword == "COPY"]
    assert copies
    assert all(c.startswith("--from=build ") for c in copies), copies
    runs = " ".join(i.value for i in stage if i.keyword == "RUN")
    assert not re.search(r"\b(pip|uv|apt-get|gcc)\b", runs), runs
    build_runs = " ".join(i.value for i in dockerfile() if i.keyword == "RUN")
    for flag in ("--frozen", "--no-dev", "--no-editable"):
        assert flag in build_runs, flag
    (version,) = [
        i.value for i in dockerfile() if i.keyword == "ARG" and i.value.startswith("UV_VERSION=")
    ]
    assert re.fullmatch(r"UV_VERSION=\d+\.\d+\.\d+", version), "uv is pinned"
    assert '"uv==${UV_VERSION}"' in build_runs


def test_healthcheck_asks_the_readiness_endpoint(api_client: TestClient) -> None:
    (check,) = [i.value for i in final_stage() if i.keyword == "HEALTHCHECK"]
    match = re.search(r"'(/health/[a-z]+)'", check)
    assert match, check
    assert match.group(1) == "/health/ready"
    assert api_client.get(match.group(1)).status_code == 200
    assert "curl" not in check
    assert "wget" not in check


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".uv-bootstrap/bin/uv",
        "tests/conftest.py",
        "var/ogs.db",
        ".mypy_cache/3.11/x.json",
        ".pytest_cache/v/cache",
        ".ruff_cache/x",
        ".hypothesis/examples/x",
        "src/order_generation/__pycache__/cli.cpython-311.pyc",
        "deploy/k8s/base/deployment.yaml",
        "bench/service.py",
        "Dockerfile",
        "compose.yaml",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert dockerignore_excludes(path)


@pytest.mark.parametrize(
    "path", ["pyproject.toml", "uv.lock", "README.md", "src/order_generation/cli.py"]
)
def test_dockerignore_lets_in(path: str) -> None:
    assert not dockerignore_excludes(path)
