"""The Prometheus rules against the application: every metric an alert reads is one the
service exports (GET /metrics), with the labels the alert uses."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.deploy.support import ROOT

RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"
# Names in expressions that are not metrics of the service.
NOT_SERVICE_METRICS = {"up"}
PROMQL_WORDS = {
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "by",
    "without",
    "rate",
    "increase",
    "absent",
    "histogram_quantile",
    "and",
    "or",
    "unless",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
}


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names) of each vector selector in a PromQL expression."""
    found = []
    for match in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", expr):
        name, matchers = match.group(1), match.group(2) or ""
        if name in PROMQL_WORDS or (not matchers and not name.startswith(("ogs_", "http_"))):
            continue
        labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
        found.append((name, labels))
    return found


def _families(exposition: str) -> dict[str, set[str]]:
    """metric family -> label names seen, from the text exposition format."""
    families: dict[str, set[str]] = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            families.setdefault(line.split()[2], set())
        elif line and not line.startswith("#"):
            name, _, rest = line.partition("{")
            labels = set(re.findall(r"(\w+)=\"", rest.partition("}")[0])) if rest else set()
            for family in list(families):
                if name == family or name.startswith(family + "_"):
                    families[family] |= labels
    return families


def _base(metric: str) -> str:
    return re.sub(r"_(bucket|sum|count)$", "", metric)


_SELECTORS = sorted(
    {(_base(n), frozenset(ls)) for r in _rules() for n, ls in _selectors(r["expr"])}
)


def test_every_alert_has_severity_summary_and_a_job_matcher() -> None:
    rules = _rules()
    assert len(rules) >= 8
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert 'job="globeco-order-generation-service"' in rule["expr"], rule["alert"]
    covered = " ".join(rule["expr"] for rule in rules)
    for needed in (
        'status=~"5.."',
        "histogram_quantile(0.95",
        "ogs_circuit_state",
        "== 2",
        "http_requests_in_flight",
        'status="503"',
    ):
        assert needed in covered, needed


@pytest.mark.parametrize(
    ("metric", "labels"),
    _SELECTORS,
    ids=lambda v: str(sorted(v)) if isinstance(v, frozenset) else v,
)
def test_alert_metrics_are_exported(
    metric: str, labels: frozenset[str], api_client: TestClient
) -> None:
    if metric in NOT_SERVICE_METRICS:
        return
    # A request of each kind first, so labelled series exist.
    api_client.get("/api/v1/models")
    api_client.get("/health/live")
    families = _families(api_client.get("/metrics").text)
    assert metric in families, f"{metric} is not exported by the service"
    # Labels added by the scrape (job, instance, namespace) are not the service's.
    own = set(labels) - {"job", "instance", "namespace"}
    if families[metric]:
        missing = own - families[metric]
        assert not missing, f"{metric}: labels {missing} not exported"


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_grouping_labels_exist(rule: dict[str, Any], api_client: TestClient) -> None:
    """`by (...)` labels are the service's own labels or ones the scrape adds."""
    grouped = {
        label.strip()
        for group in re.findall(r"\bby\s*\(([^)]*)\)", rule["expr"])
        for label in group.split(",")
    }
    api_client.get("/api/v1/models")
    families = _families(api_client.get("/metrics").text)
    metrics = {_base(name) for name, _ in _selectors(rule["expr"])} - NOT_SERVICE_METRICS
    missing = [metric for metric in metrics if metric not in families]
    assert not missing, f"{rule['alert']}: {missing} not exported"
    available = {"job", "instance", "namespace", "le"}
    for metric in metrics:
        available |= families[metric]
    if all(families[metric] for metric in metrics):
        assert grouped <= available, f"{rule['alert']}: {grouped - available} not exported"
