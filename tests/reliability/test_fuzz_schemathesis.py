"""Schemathesis against the running service: every check, on SQLite and on PostgreSQL.

How it runs, and why:

* The service is the real thing: ``python -m order_generation.cli serve --sandbox`` in a
  subprocess on a free port, on the backend's throw-away database (the ``database_url`` fixture),
  wired to the simulated GlobeCo services (``--sandbox``, ``OGS_SANDBOX_PORT=0``) so the
  rebalancing routes answer 200/404/422 instead of the 503 a missing GlobeCo would give (which
  ``not_a_server_error`` reports). A subprocess rather than uvicorn in a thread: it is the
  production entry point (uvicorn's own HTTP parser meets schemathesis' malformed requests), it
  does not share a GIL with schemathesis' CPU-heavy generation on a two-core machine (so
  ``max_response_time`` measures the service, not the fuzzer), it cannot take pytest down, it is
  stopped by its PID, and its globals (settings cache, metrics registry, logging) start fresh for
  each backend.
* Schemathesis runs as its CLI (``python -m schemathesis.cli run``) in a subprocess too: the
  supported interface, all four phases (examples, coverage, fuzzing, stateful) with ``--checks
  all``, exactly what a developer re-runs by hand (the command is printed on failure), and
  ``PYTHONHASHSEED`` can be pinned for it (some of its probe orders come from sets). Its NDJSON
  report (every request, response and check outcome) is parsed here into a deduplicated list.
* Deterministic: fixed seed, one worker, no Hypothesis example database and no schemathesis
  crash cache (both would replay earlier runs' findings first), fixed hash seed, fixed sandbox
  data. ``continue-on-failure`` so that one failure does not hide the next on the same operation.
* Size: ``MAX_EXAMPLES`` per operation and phase gives ~2,400 requests in ~1.5-2 minutes per
  backend on two cores; the test fails if fewer than ``MIN_REQUESTS`` were made.

The number of requests per backend goes to ``RESULTS`` (module level), to the reliability
suite's ``figures.fuzz_requests`` when that fixture exists, and to ``schemathesis-summary.json``
in the test's tmp dir (with the failures, the command and the reports' paths).

Knobs: ``OGS_FUZZ_SEED`` and ``OGS_FUZZ_MAX_EXAMPLES`` override the seed and the size;
``CHECKS`` and ``OPERATIONS`` below hold per-check and per-operation settings (empty:
schemathesis' defaults for every check on every operation).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.process import free_port, log_tail

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("OGS_FUZZ_SEED", "20240601"))
MAX_EXAMPLES = int(os.environ.get("OGS_FUZZ_MAX_EXAMPLES", "50"))
MIN_REQUESTS = 1000
MAX_RESPONSE_TIME_SECONDS = 10.0  # what `--checks all` uses anyway; stated so it is visible
STATEFUL_MAX_STEPS = 10
RUN_TIMEOUT_SECONDS = 600  # hard stop for one schemathesis run
STARTUP_TIMEOUT_SECONDS = 60

# Per-check settings, written into the schemathesis configuration as `[checks.<name>]` tables.
# Empty: every check with schemathesis' defaults.
CHECKS: dict[str, dict[str, Any]] = {}

# Statuses SPEC §2-§3 give to schema-valid requests, per operation. JSON Schema cannot say that
# targets sum to at most 0.95, that a security appears once, that a decimal has at most 10
# places or is a multiple of 0.005 when sent as a string, that a portfolio already belongs to
# another model, that an offset lies beyond the last item, that a model with portfolios cannot
# be deleted, or that a portfolio has no feasible rebalance: those answers are 400 or 422 by the
# SPEC. Which 400s are allowed is narrowed further by ``RULES_OUTSIDE_THE_SCHEMA`` below, so a
# field rule the schema fails to document is still reported.
_ACCEPTED = ["2xx", "401", "403", "404", "409", "429"]
_MODEL_WRITES = (
    r"^(POST /api/v1/models|PUT /api/v1/model/\{model_id\}"
    r"|(POST|PUT|DELETE) /api/v1/model/\{model_id\}/(position|portfolio))$"
)
_PAGED_READS = (
    r"^(GET /api/v1/models|GET /api/v1/rebalances|POST /api/v1/rebalances/portfolios"
    r"|GET /api/v1/jobs|GET /api/v1/rebalance/\{rebalance_id\}/portfolios)$"
)
_REFUSED_BY_STATE = (
    r"^(DELETE /api/v1/model/\{model_id\}|POST /api/v1/portfolio/\{portfolio_id\}/rebalance"
    r"|POST /api/v1/model/\{model_id\}/rebalance)$"
)
OPERATIONS: list[dict[str, Any]] = [
    {
        "include-name-regex": _MODEL_WRITES,
        "checks": {"positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, "400"]}},
    },
    {
        "include-name-regex": _PAGED_READS,
        "checks": {"positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, "400"]}},
    },
    {
        # A rebalance's options may name a security the services do not know, or a portfolio
        # outside the model (400 INVALID_OPTION, SPEC §8): no schema can know either.
        "include-name-regex": _REFUSED_BY_STATE,
        "checks": {"positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, "400", "422"]}},
    },
    # DELETE /jobs/{id} cancels (SPEC §9): the job stays readable with status "cancelled", and a
    # job that already finished cannot be cancelled (422 JOB_FINISHED).
    {
        "include-name-regex": r"^DELETE /api/v1/jobs/\{job_id\}$",
        "checks": {
            "positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, "422"]},
            "use_after_free": {"enabled": False},
        },
    },
    {
        "include-name-regex": r"^GET /api/v1/jobs/\{job_id\}$",
        "checks": {"use_after_free": {"enabled": False}},
    },
]
# The error codes a schema-valid request may get a 400 for: rules across fields or against
# stored state (above), and ranges of decimals sent as strings (a pattern cannot bound a value).
RULES_OUTSIDE_THE_SCHEMA = frozenset(
    {
        "TARGET_SUM_EXCEEDS_0_95",
        "TOO_MANY_POSITIONS",
        "DUPLICATE_SECURITY",
        "TOO_PRECISE",
        "TARGET_NOT_MULTIPLE_OF_0_005",
        "TARGET_OUT_OF_RANGE",
        "DRIFT_OUT_OF_RANGE",
        "PORTFOLIO_IN_OTHER_MODEL",
        "SECURITY_NOT_IN_MODEL",
        "POSITION_MISMATCH",
        "INVALID_PAGING",
        "INVALID_OPTION",
    }
)

# Per backend: requests made, failures found, seconds taken (for a summary at the end).
RESULTS: dict[str, dict[str, Any]] = {}


# --- the service under test --------------------------------------------------------------------


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class LiveService:
    url: str
    log: Path


@pytest.fixture
def live_service(database_url: str, tmp_path: Path) -> Iterator[LiveService]:
    """``ogs serve --sandbox`` on ``database_url``, on a free port, until the test ends."""
    log = tmp_path / "service.log"
    for _attempt in range(3):  # the free port may be taken before the service binds it
        port = free_port()
        env = {
            **os.environ,
            "OGS_DATABASE_URL": database_url,
            "OGS_HOST": "127.0.0.1",
            "OGS_PORT": str(port),
            "OGS_SANDBOX_PORT": "0",
            "OGS_LOG_LEVEL": "WARNING",
            "OGS_LOG_FORMAT": "json",
            "PYTHONHASHSEED": "0",
        }
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "order_generation.cli", "serve", "--sandbox"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        ready = False
        with httpx.Client(trust_env=False, timeout=2) as client:
            while process.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{url}/health/ready").status_code == 200:
                        ready = True
                        break
                time.sleep(0.2)
        if ready:
            break
        _stop(process)
    else:
        pytest.fail(f"the service did not start; its log ends with:\n{log_tail(log)}")
    try:
        yield LiveService(url, log)
    finally:
        _stop(process)


# --- schemathesis ------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    """Just enough TOML for a schemathesis configuration: scalars, lists, tables and arrays of
    tables (``[[operations]]``)."""
    scalars = [
        f"{k} = {_toml_value(v)}"
        for k, v in data.items()
        if not isinstance(v, dict) and not _is_table_list(v) and v != []
    ]
    text = "\n".join(scalars) + ("\n" if scalars else "")
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            text += f"\n[{name}]\n" + _toml(value, f"{name}.")
        elif _is_table_list(value):
            for item in value:
                text += f"\n[[{name}]]\n" + _toml(item, f"{name}.")
    return text


def schemathesis_config() -> dict[str, Any]:
    return {
        "seed": SEED,
        "workers": 1,
        "continue-on-failure": True,
        "color": False,
        "wait-for-schema": 30,
        "request-timeout": 30,
        "cache": {"enabled": False},
        "generation": {"database": "none", "max-examples": MAX_EXAMPLES},
        "phases": {"stateful": {"max-steps": STATEFUL_MAX_STEPS}},
        "checks": CHECKS,
        "operations": OPERATIONS,
    }


@dataclass
class Finding:
    """One distinct failure: a check, an operation and what went wrong, with its first case."""

    check: str
    operation: str
    title: str
    status: int | None
    code: str  # the service's error code in the response body, if any
    sent: str  # the method actually sent (OPTIONS/TRACE/... probes differ from the operation's)
    message: str
    curl: str
    body: str
    phase: str
    count: int = 0
    variants: set[str] = field(default_factory=set)

    @property
    def where(self) -> str:
        method, _, path = self.operation.partition(" ")
        if self.sent and self.sent != method:
            return f"{self.sent} {path} (probe derived from {self.operation})"
        return self.operation

    def render(self) -> str:
        got = f"{self.status} {self.code}".strip()
        lines = [
            f"[{self.check}] {self.where}: {self.title} "
            f"(got {got}; {self.count} case(s), first in phase {self.phase})",
            *("    " + line for line in _without_hint(self.message).splitlines() if line.strip()),
        ]
        if self.body:
            lines.append(f"    response: {self.body}")
        lines.append(f"    reproduce: {self.curl}")
        others = sorted(v for v in self.variants - {_essence(self.message)} if v)
        lines += [f"    also: {other}" for other in others[:5]]
        if len(others) > 5:
            lines.append(f"    ... and {len(others) - 5} more variants")
        return "\n".join(lines)


def _without_hint(message: str) -> str:
    """The message up to schemathesis' "Hint:" (which quotes generated, multi-line names)."""
    head, _, hint = message.partition("\nHint:")
    return head + (f"\nHint:{' '.join(hint.split())[:160]}…" if hint else "")


def _essence(message: str) -> str:
    """What varies between cases of one finding: the message after its first line, without the
    expected statuses and the hint."""
    head = message.partition("\nHint:")[0]
    kept = [
        line.strip()
        for line in head.splitlines()[1:]
        if line.strip() and not line.startswith("Expected:")
    ]
    return " | ".join(kept)


@dataclass
class RunReport:
    requests: int = 0
    per_phase: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    findings: dict[tuple[str, ...], Finding] = field(default_factory=dict)
    # Schema-valid requests answered 400 for a rule not in RULES_OUTSIDE_THE_SCHEMA: the schema
    # fails to document that rule. (operation, code) → an example request.
    undocumented_rules: dict[tuple[str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    running_time: float | None = None
    stop_reason: str | None = None


def _decode(payload: Any, limit: int = 300) -> str:
    if not isinstance(payload, dict) or "$base64" not in payload:
        return ""
    raw = base64.b64decode(payload["$base64"])
    text = raw.decode("utf-8", errors="backslashreplace")
    return text if len(text) <= limit else text[:limit] + "…"


def _error_code(content: Any) -> str:
    try:
        code = json.loads(base64.b64decode(content["$base64"])).get("code")
    except (TypeError, KeyError, ValueError, AttributeError):
        return ""
    return code if isinstance(code, str) else ""


def _curl(request: dict[str, Any]) -> str:
    parts = ["curl", "-X", request["method"]]
    for name, values in (request.get("headers") or {}).items():
        for value in values:
            parts += ["-H", f"{name}: {value}"]
    body = request.get("body")
    if isinstance(body, dict) and "$base64" in body:
        parts += ["--data-binary", _decode(body, limit=10_000)]
    parts.append(request["uri"])
    return shlex.join(parts)


def parse_ndjson(path: Path) -> RunReport:
    report = RunReport()
    for line in path.read_text().splitlines():
        event = json.loads(line)
        kind, data = next(iter(event.items()))
        if kind == "ScenarioFinished":
            recorder = data["recorder"]
            interactions = recorder.get("interactions", {})
            report.requests += len(interactions)
            report.per_phase[data["phase"]] += len(interactions)
            for interaction in interactions.values():
                if interaction.get("response"):
                    report.statuses[interaction["response"]["status_code"]] += 1
            _collect_undocumented_rules(recorder, report)
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    info = check.get("failure_info")
                    if check["status"] != "failure" or not info:
                        continue
                    failure = info["failure"]
                    interaction = interactions.get(case_id) or {}
                    request = interaction.get("request") or {}
                    response = interaction.get("response") or {}
                    status = response.get("status_code")
                    code = _error_code(response.get("content"))
                    message = failure.get("message") or ""
                    operation = failure.get("operation") or recorder["label"]
                    key = (
                        check["name"],
                        operation,
                        request.get("method", ""),
                        failure["title"],
                        str(status),
                        code,
                        message.splitlines()[0] if message else "",
                    )
                    finding = report.findings.get(key)
                    if finding is None:
                        finding = report.findings[key] = Finding(
                            check=check["name"],
                            operation=operation,
                            title=failure["title"],
                            status=status,
                            code=code,
                            sent=request.get("method", ""),
                            message=message,
                            curl=_curl(request) if request else "(no request recorded)",
                            body=_decode(response.get("content")),
                            phase=data["phase"],
                        )
                    finding.count += 1
                    finding.variants.add(_essence(message))
        elif kind == "NonFatalError":
            value = data.get("value") or {}
            report.errors.append(
                f"{data.get('label')} ({data.get('phase')}): "
                f"{value.get('type')}: {value.get('message')}"
            )
        elif kind == "FatalError":
            report.errors.append(f"fatal: {json.dumps(data)[:500]}")
        elif kind == "EngineFinished":
            report.running_time = data.get("running_time")
            report.stop_reason = data.get("stop_reason")
    return report


def _collect_undocumented_rules(recorder: dict[str, Any], report: RunReport) -> None:
    for case_id, case in (recorder.get("cases") or {}).items():
        value = case.get("value") or {}
        mode = ((value.get("meta") or {}).get("generation") or {}).get("mode")
        response = (recorder.get("interactions", {}).get(case_id) or {}).get("response") or {}
        if mode != "positive" or response.get("status_code") != 400:
            continue
        code = _error_code(response.get("content"))
        if code not in RULES_OUTSIDE_THE_SCHEMA:
            operation = f"{value.get('method')} {value.get('path')}"
            request = recorder["interactions"][case_id].get("request") or {}
            report.undocumented_rules.setdefault((operation, code), _curl(request))


def run_schemathesis(
    url: str, workdir: Path
) -> tuple[RunReport, list[str], subprocess.CompletedProcess[str]]:
    config = workdir / "schemathesis.toml"
    config.write_text(_toml(schemathesis_config()))
    ndjson = workdir / "schemathesis.ndjson"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
        "run", f"{url}/openapi.json",
        "--checks", "all",
        "--max-response-time", str(MAX_RESPONSE_TIME_SECONDS),
        "--report", "ndjson", "--report-ndjson-path", str(ndjson),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0", "NO_PROXY": "127.0.0.1,localhost"}
    completed = subprocess.run(
        command,
        cwd=workdir,  # its .hypothesis/ and any other state stay in the tmp dir
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    (workdir / "schemathesis.out").write_text(completed.stdout + completed.stderr)
    if not ndjson.exists():
        pytest.fail(
            f"schemathesis wrote no report (exit {completed.returncode}):\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    return parse_ndjson(ndjson), command, completed


def _record(request: pytest.FixtureRequest, backend: str, summary: dict[str, Any]) -> None:
    RESULTS[backend] = summary
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("figures").fuzz_requests[backend] += summary["requests"]


def test_the_api_passes_every_schemathesis_check(
    live_service: LiveService, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    started = time.monotonic()
    report, command, completed = run_schemathesis(live_service.url, tmp_path)
    elapsed = time.monotonic() - started
    findings = sorted(report.findings.values(), key=lambda f: (f.operation, f.check, f.code))
    summary = {
        "backend": backend,
        "requests": report.requests,
        "requests_per_phase": dict(report.per_phase),
        "statuses": {str(k): v for k, v in sorted(report.statuses.items())},
        "seconds": round(elapsed, 1),
        "schemathesis_running_time": report.running_time,
        "stop_reason": report.stop_reason,
        "exit_code": completed.returncode,
        "failures": len(findings),
        "errors": report.errors,
        "command": shlex.join(command),
        "workdir": str(tmp_path),
        "service_log": str(live_service.log),
        "findings": [
            {
                "check": f.check,
                "operation": f.operation,
                "sent_method": f.sent,
                "title": f.title,
                "status": f.status,
                "code": f.code,
                "count": f.count,
                "message": f.message,
                "curl": f.curl,
                "response": f.body,
                "phase": f.phase,
                "variants": sorted(f.variants),
            }
            for f in findings
        ],
    }
    (tmp_path / "schemathesis-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _record(request, backend, summary)

    problems = []
    if report.requests < MIN_REQUESTS:
        problems.append(f"only {report.requests} requests were made (at least {MIN_REQUESTS})")
    if report.stop_reason != "completed":
        problems.append(f"the run stopped early: {report.stop_reason}")
    problems += [f"schemathesis error: {error}" for error in report.errors]
    problems += [
        f"schema-valid request refused with 400 {code or '(no code)'} by {operation}, a rule "
        f"the OpenAPI document does not state: {curl}"
        for (operation, code), curl in sorted(report.undocumented_rules.items())
    ]
    if completed.returncode != 0 and not findings and not report.errors:
        problems.append(f"schemathesis exited {completed.returncode}:\n{completed.stdout[-3000:]}")
    if findings or problems:
        header = (
            f"{backend}: {len(findings)} distinct schemathesis failure(s) in "
            f"{report.requests} requests ({elapsed:.0f} s); service at {live_service.url} "
            f"(log {live_service.log}); rerun with:\n  {shlex.join(command)}\n"
        )
        body = "\n\n".join(f.render() for f in findings)
        pytest.fail(header + "\n".join(problems) + ("\n\n" if problems else "") + body)
