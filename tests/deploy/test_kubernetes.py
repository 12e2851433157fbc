"""What a cluster would enforce or rely on, checked on the rendered overlays (no cluster can be
had here): the "restricted" Pod Security Standard, the OpenTelemetry wiring, selectors."""

from __future__ import annotations

import base64
import os
import re

import pytest

from order_generation.config import GLOBECO_URLS
from tests.deploy.support import (
    DOWNWARD_API_VARIABLES,
    K8S,
    OVERLAYS,
    api_container,
    config_map_data,
    containers,
    named,
    of_kind,
    render,
    render_directory,
    workloads,
)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_is_in_the_globeco_namespace(overlay: str) -> None:
    for doc in render(overlay):
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == "globeco"
        else:
            assert doc["metadata"].get("namespace") == "globeco", doc["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_meet_the_restricted_pod_security_standard(overlay: str) -> None:
    for workload in workloads(render(overlay)):
        pod = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True, name
        assert security["runAsUser"] != 0, name
        assert security["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        assert not pod.get("hostNetwork"), name
        assert not pod.get("hostPID"), name
    for container in containers(render(overlay)):
        security = container.spec["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, container.name
        assert security["readOnlyRootFilesystem"] is True, container.name
        assert security["capabilities"]["drop"] == ["ALL"], container.name
        assert "add" not in security["capabilities"], container.name
        assert "privileged" not in security or security["privileged"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(overlay: str) -> None:
    for container in containers(render(overlay)):
        resources = container.spec["resources"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[bound]), f"{container.name} {bound}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_project_containers_have_a_writable_tmp(overlay: str) -> None:
    """Read-only root: Prometheus multiprocess files (TMPDIR) and scratch go to an emptyDir."""
    for container in containers(render(overlay)):
        if not container.runs_project_image:
            continue
        mounts = {m["mountPath"]: m["name"] for m in container.spec["volumeMounts"]}
        assert "/tmp" in mounts, container.name
        volumes = {v["name"]: v for v in container.pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], container.name


def test_otel_points_at_the_node_local_collector() -> None:
    container = api_container(render("globeco"))
    env = {entry["name"]: entry for entry in container.spec["env"]}
    assert env["NODE_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://$(NODE_IP):4318"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"]["value"] == "http/protobuf"
    assert env["OTEL_SERVICE_NAME"]["value"] == "globeco-order-generation-service"
    attributes = dict(
        pair.split("=", 1) for pair in env["OTEL_RESOURCE_ATTRIBUTES"]["value"].split(",")
    )
    assert attributes["service.namespace"] == "globeco"
    downward = {
        "k8s.pod.name": "metadata.name",
        "k8s.pod.ip": "status.podIP",
        "k8s.node.name": "spec.nodeName",
        "k8s.namespace.name": "metadata.namespace",
    }
    for attribute, field in downward.items():
        reference = re.fullmatch(r"\$\((\w+)\)", attributes[attribute])
        assert reference, attribute
        assert env[reference.group(1)]["valueFrom"]["fieldRef"]["fieldPath"] == field


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_variable_references_come_after_their_definitions(overlay: str) -> None:
    """Kubernetes expands $(VAR) only for variables defined earlier in the same list."""
    for container in containers(render(overlay)):
        defined: set[str] = set()
        for entry in container.spec.get("env", []):
            for reference in re.findall(r"\$\((\w+)\)", entry.get("value", "")):
                assert reference in defined, f"{container.name}: {entry['name']} -> {reference}"
            defined.add(entry["name"])
        assert defined.isdisjoint(DOWNWARD_API_VARIABLES) or "NODE_IP" in defined


def test_standalone_has_no_collector_and_says_so() -> None:
    container = api_container(render("standalone"))
    assert container.env_value("OTEL_EXPORTER_OTLP_ENDPOINT") is None
    assert container.env_value("OTEL_SDK_DISABLED") == "true"


def test_globeco_overlay_uses_globeco_services() -> None:
    docs = render("globeco")
    data = config_map_data(docs, "globeco-order-generation-service-config")
    for service, url in GLOBECO_URLS.items():
        assert data[f"OGS_{service.upper()}_URL"] == url
    assert not of_kind(docs, "Secret"), "the database Secret is managed outside the overlay"
    assert not of_kind(docs, "StatefulSet")


def test_standalone_points_at_its_sandbox_and_database() -> None:
    docs = render("standalone")
    data = config_map_data(docs, "globeco-order-generation-service-config")
    sandbox = named(docs, "Service", "globeco-order-generation-sandbox")
    (port,) = sandbox["spec"]["ports"]
    for service in GLOBECO_URLS:
        assert data[f"OGS_{service.upper()}_URL"] == (
            f"http://{sandbox['metadata']['name']}:{port['port']}"
        )
    database = named(docs, "Service", "globeco-order-generation-postgresql")
    statefulset = named(docs, "StatefulSet", "globeco-order-generation-postgresql")
    assert statefulset["spec"]["serviceName"] == database["metadata"]["name"]
    assert statefulset["spec"]["volumeClaimTemplates"], "PostgreSQL keeps its data on a PVC"
    secret = named(docs, "Secret", "globeco-order-generation-service-db")
    url = secret["data"]["OGS_DATABASE_URL"]
    decoded = base64.b64decode(url).decode()
    assert decoded.startswith("postgresql+asyncpg://")
    assert f"@{database['metadata']['name']}:5432/" in decoded
    # The API's secretKeyRef names the generated (hash-suffixed) Secret.
    api = api_container(docs)
    (ref,) = [e for e in api.spec["env"] if e["name"] == "OGS_DATABASE_URL"]
    assert ref["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_hpa_and_pdb_match_the_api_pods(overlay: str) -> None:
    docs = render(overlay)
    deployment = named(docs, "Deployment", "globeco-order-generation-service")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app": "globeco-order-generation-service"
    }
    service = next(
        s
        for s in of_kind(docs, "Service")
        if s["metadata"]["name"] == "globeco-order-generation-service"
    )
    selector = service["spec"]["selector"]
    assert selector.items() <= labels.items()
    for other in workloads(docs):
        if other is not deployment:
            other_labels = other["spec"]["template"]["metadata"]["labels"]
            assert not selector.items() <= other_labels.items(), other["metadata"]["name"]
    hpa = named(docs, "HorizontalPodAutoscaler", "globeco-order-generation-service")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert "replicas" not in deployment["spec"], "replicas belong to the autoscaler"
    pdb = named(docs, "PodDisruptionBudget", "globeco-order-generation-service")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


def test_ingress_component_routes_to_the_api(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("with-ingress")
    (directory / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: globeco\n"
        # kustomize takes relative paths only
        f"resources:\n  - {os.path.relpath(K8S / 'overlays' / 'globeco', directory)}\n"
        f"components:\n  - {os.path.relpath(K8S / 'components' / 'ingress', directory)}\n"
    )
    docs = render_directory(directory)
    (ingress,) = of_kind(docs, "Ingress")
    assert ingress["metadata"]["namespace"] == "globeco"
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "globeco-order-generation-service"
            assert backend["port"] == {"name": "http"}
            assert not path["path"].startswith(("/metrics", "/health"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_job_workers_run_apart_from_the_api(overlay: str) -> None:
    """`ogs worker` pods take the job chunks, scaled by their own autoscaler; API pods leave
    chunks to them and the API Service never routes to a worker."""
    docs = render(overlay)
    worker = named(docs, "Deployment", "globeco-order-generation-worker")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["ogs", "worker"]
    config = config_map_data(docs, "globeco-order-generation-service-config")
    assert config["OGS_IN_PROCESS_WORKERS"] == "false"
    refs = [e for e in container["env"] if e["name"] == "OGS_DATABASE_URL"]
    api_refs = [e for e in api_container(docs).spec["env"] if e["name"] == "OGS_DATABASE_URL"]
    assert refs == api_refs, "workers and API use the same database"
    hpa = named(docs, "HorizontalPodAutoscaler", "globeco-order-generation-worker")
    assert hpa["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    assert "replicas" not in worker["spec"], "replicas belong to the autoscaler"
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert worker["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = named(docs, "Service", "globeco-order-generation-service")
    assert not service["spec"]["selector"].items() <= labels.items()
    pdb = named(docs, "PodDisruptionBudget", "globeco-order-generation-worker")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1
