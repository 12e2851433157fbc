"""Dependency audit of the lock file (the seed plan's phase 7 gate).

1. ``pip-audit`` on the exact runtime versions of uv.lock, against PyPI's vulnerability data. On
   these machines that service cannot be reached: pip-audit then answers "Dependency not found
   on PyPI" for every package, which is no audit at all, and this script says so plainly.
2. Always: the packages below must be at or above the first version free of the advisories
   named (a floor kept by hand from the advisories of the packages that face the network), and
   ``uv pip check`` must find the installed set consistent.

Run it with a Python that has pip-audit and packaging (``.ci/run`` makes one); the versions
checked are those of uv.lock, not of the Python running it. Exit status: 1 if a vulnerability
or a version below its floor is found; 0 otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.version import Version

# package → (first safe version, the advisories that set it)
FLOORS = {
    "starlette": ("0.47.2", "CVE-2024-47874, CVE-2025-54121 (multipart and form parsing DoS)"),
    "fastapi": ("0.109.1", "CVE-2024-24762 (ReDoS in form content-type parsing)"),
    "h11": ("0.16.0", "CVE-2025-43859 (request smuggling via chunked trailers)"),
    "httpx": ("0.23.0", "CVE-2021-41945 (URL parsing)"),
    "uvicorn": ("0.11.7", "CVE-2020-7694, CVE-2020-7695 (log and header injection)"),
    "sqlalchemy": ("2.0.0", "none known; floor at the 2.x line the code is written for"),
    "protobuf": ("4.25.8", "CVE-2025-4565 (recursion DoS in the pure-Python parser)"),
    "urllib3": ("2.5.0", "CVE-2025-50181, CVE-2025-50182 (redirect handling)"),
    "requests": ("2.32.4", "CVE-2024-47081 (.netrc credential leak)"),
    "jinja2": ("3.1.6", "CVE-2025-27516 (sandbox escape)"),
    "idna": ("3.7", "CVE-2024-3651 (quadratic encoding DoS)"),
    "certifi": ("2024.7.4", "CVE-2024-39689 (GLOBALTRUST roots)"),
}


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    uv = shutil.which("uv") or str(root / ".uv-bootstrap" / "bin" / "uv")
    requirements = subprocess.run(  # noqa: S603 - uv with fixed arguments
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    locked = dict(
        line.split(";")[0].strip().split("==", 1)
        for line in requirements.splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    )
    failed = _pip_audit(requirements) | _floors(locked) | _consistent(uv, root)
    return 1 if failed else 0


def _pip_audit(requirements: str) -> bool:
    with tempfile.TemporaryDirectory() as work:
        listed = Path(work) / "requirements.txt"
        listed.write_text(requirements)
        run = subprocess.run(  # noqa: S603 - pip-audit with fixed arguments
            [sys.executable, "-m", "pip_audit", "-r", str(listed), "--no-deps", "--disable-pip",
             "--format", "json", "--progress-spinner", "off"],
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
    try:
        report = json.loads(run.stdout)
    except ValueError:
        print(f"pip-audit did not run: {run.stderr.strip().splitlines()[-1:]}")
        return False
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    if not audited:
        print(
            f"pip-audit: none of the {len(dependencies)} locked packages could be audited (its "
            "vulnerability service is unreachable from here); relying on the floors below"
        )
        return False
    found = [(d["name"], d["version"], v["id"]) for d in audited for v in d.get("vulns", [])]
    for name, at, advisory in found:
        print(f"VULNERABLE {name} {at}: {advisory}")
    print(f"pip-audit: {len(audited)} packages audited, {len(found)} known vulnerabilities")
    return bool(found)


def _floors(locked: dict[str, str]) -> bool:
    failed = False
    names = {name.lower().replace("_", "-"): at for name, at in locked.items()}
    for package, (floor, advisories) in sorted(FLOORS.items()):
        installed = names.get(package)
        if installed is None:
            continue  # not a dependency (any more)
        ok = Version(installed) >= Version(floor)
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {package} {installed} >= {floor}  ({advisories})")
    return failed


def _consistent(uv: str, root: Path) -> bool:
    check = subprocess.run(  # noqa: S603 - uv with fixed arguments
        [uv, "pip", "check"], cwd=root, capture_output=True, text=True, check=False
    )
    print(check.stdout.strip() or check.stderr.strip())
    return check.returncode != 0


if __name__ == "__main__":
    sys.exit(main())
