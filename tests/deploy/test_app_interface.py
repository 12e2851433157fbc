"""The manifests and compose file against the application's real interface: every probe path
and port exists, every OGS_* variable is a setting, every `ogs` command line parses."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from order_generation.cli import build_parser
from order_generation.config import Settings
from tests.deploy.support import (
    DOWNWARD_API_VARIABLES,
    OVERLAYS,
    Container,
    api_container,
    compose,
    compose_interpolate,
    config_map_data,
    containers,
    dockerfile_env,
    exec_form,
    final_stage,
    of_kind,
    ogs_commands,
    option,
    render,
)

SETTINGS_VARIABLES = {f"OGS_{name.upper()}" for name in Settings.model_fields}
SANDBOX_DEFAULT_PORT = 8099
APP_DEFAULT_PORT = Settings.model_fields["port"].default


def _port_number(container: Container, port: int | str) -> int:
    if isinstance(port, int):
        return port
    for declared in container.spec.get("ports", []):
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise AssertionError(f"{container.name}: no port named {port!r}")


def _probes(container: Container) -> list[tuple[str, dict[str, object]]]:
    return [
        (kind, container.spec[kind])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        if kind in container.spec
    ]


def _is_sandbox(container: Container) -> bool:
    return any(cmd[:3] == ["ogs", "sandbox", "serve"] for cmd in ogs_commands(container.argv))


def test_app_default_port_is_8088() -> None:
    assert APP_DEFAULT_PORT == 8088


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_container_port_and_probes_exist_in_the_app(
    overlay: str, api_client: TestClient
) -> None:
    container = api_container(render(overlay))
    ports = [p["containerPort"] for p in container.spec["ports"]]
    assert ports == [APP_DEFAULT_PORT]
    routes = api_client.app.openapi()["paths"]  # type: ignore[attr-defined]
    probes = _probes(container)
    assert {kind for kind, _ in probes} == {"startupProbe", "livenessProbe", "readinessProbe"}
    for kind, probe in probes:
        http = probe["httpGet"]
        assert isinstance(http, dict)
        assert _port_number(container, http["port"]) == APP_DEFAULT_PORT, kind
        assert "get" in routes.get(http["path"], {}), f"{kind}: GET {http['path']} not in the app"
        # And it really answers (the app started with its lifespan, database ready).
        assert api_client.get(http["path"]).status_code == 200, kind
    readiness = container.spec["readinessProbe"]["httpGet"]["path"]
    liveness = container.spec["livenessProbe"]["httpGet"]["path"]
    assert readiness == "/health/ready"
    assert liveness == "/health/live"


def test_sandbox_probes_exist_in_the_sandbox(sandbox_client: TestClient) -> None:
    sandboxes = [c for c in containers(render("standalone")) if _is_sandbox(c)]
    assert len(sandboxes) == 1
    container = sandboxes[0]
    routes = sandbox_client.app.openapi()["paths"]  # type: ignore[attr-defined]
    for kind, probe in _probes(container):
        http = probe["httpGet"]
        assert isinstance(http, dict)
        assert _port_number(container, http["port"]) == SANDBOX_DEFAULT_PORT
        assert "get" in routes.get(http["path"], {}), f"{kind}: GET {http['path']} not served"
        assert sandbox_client.get(http["path"]).status_code == 200


def test_service_targets_the_api_port() -> None:
    for overlay in OVERLAYS:
        docs = render(overlay)
        container = api_container(docs)
        service = next(
            s
            for s in of_kind(docs, "Service")
            if s["metadata"]["name"] == "globeco-order-generation-service"
        )
        (port,) = service["spec"]["ports"]
        assert port["port"] == APP_DEFAULT_PORT
        assert _port_number(container, port["targetPort"]) == APP_DEFAULT_PORT


def _environment_names() -> list[tuple[str, str]]:
    """(where, variable) for every variable the deployment gives a project container."""
    found: list[tuple[str, str]] = []
    for overlay in OVERLAYS:
        docs = render(overlay)
        for container in containers(docs):
            if not container.runs_project_image:
                continue
            found += [(f"{overlay}:{container.name}", name) for name in container.env_names()]
            for source in container.spec.get("envFrom", []):
                if "configMapRef" in source:
                    data = config_map_data(docs, source["configMapRef"]["name"])
                    found += [(f"{overlay}:configmap", name) for name in data]
    for name, service in compose()["services"].items():
        if service.get("image", "").startswith("postgres"):
            continue
        found += [(f"compose:{name}", variable) for variable in service.get("environment", {})]
    found += [("Dockerfile", name) for name in dockerfile_env(final_stage()) if name[:4] == "OGS_"]
    return sorted(set(found))


@pytest.mark.parametrize(("where", "variable"), _environment_names())
def test_environment_variables_are_settings(where: str, variable: str) -> None:
    if variable.startswith("OTEL_") or variable in DOWNWARD_API_VARIABLES:
        return
    if not variable.startswith("OGS_"):
        if where.startswith("Dockerfile"):
            return  # PATH, PYTHONUNBUFFERED, ...
        pytest.fail(f"{where}: {variable} is neither OGS_* nor OTEL_*")
    assert variable in SETTINGS_VARIABLES, f"{where}: {variable} is not a setting (config.py)"


def test_config_map_values_are_valid_settings() -> None:
    """The ConfigMap's values, read as the application reads its environment."""
    for overlay in OVERLAYS:
        docs = render(overlay)
        container = api_container(docs)
        (source,) = container.spec["envFrom"]
        data = config_map_data(docs, source["configMapRef"]["name"])
        known = {key[4:].lower(): value for key, value in data.items() if key in SETTINGS_VARIABLES}
        settings = Settings(**known)  # type: ignore[arg-type]
        assert settings.host == "0.0.0.0"
        assert settings.port == APP_DEFAULT_PORT


def _all_commands() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for overlay in OVERLAYS:
        for container in containers(render(overlay)):
            if container.runs_project_image and container.argv:
                found += [(f"{overlay}:{container.name}", c) for c in ogs_commands(container.argv)]
    for name, service in compose()["services"].items():
        command = service.get("command")
        if command:
            argv = [compose_interpolate(word) for word in command]
            found += [(f"compose:{name}", c) for c in ogs_commands(argv)]
    (cmd,) = [i for i in final_stage() if i.keyword == "CMD"]
    found.append(("Dockerfile CMD", exec_form(cmd.value)))
    return found


@pytest.mark.parametrize(("where", "argv"), _all_commands(), ids=lambda v: str(v))
def test_ogs_command_lines_parse(where: str, argv: list[str]) -> None:
    assert argv[0] == "ogs", f"{where}: {argv}"
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as exit_:
        pytest.fail(f"{where}: `{' '.join(argv)}` is not a valid ogs command line ({exit_})")


def test_init_container_migrates_and_server_does_not() -> None:
    for overlay in OVERLAYS:
        docs = render(overlay)
        inits = [c for c in containers(docs) if c.init and c.runs_project_image]
        # One per Deployment of the image: the API and the job workers.
        assert [c.argv for c in inits] == [["ogs", "db", "upgrade"]] * 2
        for init in inits:
            assert "OGS_DATABASE_URL" in init.env_names()
        api = api_container(docs)
        assert api.env_value("OGS_MIGRATE_ON_START") == "false"
        assert api.argv == [], "the API container runs the image's command (ogs serve)"


def test_sandbox_serves_the_readme_data_set() -> None:
    """compose and the standalone overlay serve seed 1, 30 x 20: the README walkthrough."""
    defaults = Settings.model_fields
    expected = {
        "--portfolios": str(defaults["sandbox_portfolios"].default),
        "--positions": str(defaults["sandbox_positions"].default),
        "--seed": str(defaults["sandbox_seed"].default),
    }
    assert expected == {"--portfolios": "30", "--positions": "20", "--seed": "1"}
    commands = [argv for _, argv in _all_commands() if argv[1:2] == ["sandbox"]]
    sources = [c for c in commands if c[2] in ("generate", "serve") and "--seed" in c]
    assert len(sources) >= 2, commands
    for argv in sources:
        assert {flag: option(argv, flag) for flag in expected} == expected, argv
    for argv in commands:
        if argv[2] == "serve":
            assert option(argv, "--host") == "0.0.0.0"
            assert option(argv, "--port") == str(SANDBOX_DEFAULT_PORT)


def test_readiness_waits_longer_than_the_database_timeout() -> None:
    for overlay in OVERLAYS:
        docs = render(overlay)
        container = api_container(docs)
        (source,) = container.spec["envFrom"]
        data = config_map_data(docs, source["configMapRef"]["name"])
        timeout = float(data.get("OGS_DATABASE_TIMEOUT_SECONDS", 5))
        assert container.spec["readinessProbe"]["timeoutSeconds"] > timeout


def test_termination_grace_covers_the_shutdown_grace() -> None:
    for overlay in OVERLAYS:
        docs = render(overlay)
        container = api_container(docs)
        (source,) = container.spec["envFrom"]
        data = config_map_data(docs, source["configMapRef"]["name"])
        grace = float(data["OGS_SHUTDOWN_GRACE_SECONDS"])
        pre_stop = container.spec["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        assert container.pod["terminationGracePeriodSeconds"] > grace + float(pre_stop[1])


def test_compose_port_and_healthchecks_match_the_app() -> None:
    services = compose()["services"]
    ogs = services["ogs"]
    (mapping,) = ogs["ports"]
    assert compose_interpolate(mapping).split(":")[-1] == str(APP_DEFAULT_PORT)
    sandbox = services["sandbox"]
    (mapping,) = sandbox["ports"]
    assert compose_interpolate(mapping).split(":")[-1] == str(SANDBOX_DEFAULT_PORT)
    test = " ".join(sandbox["healthcheck"]["test"])
    assert re.search(rf"127\.0\.0\.1:{SANDBOX_DEFAULT_PORT}/health\b", test)
