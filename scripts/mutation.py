#!/usr/bin/env python3
"""Mutation testing of ``src/order_generation/domain/`` with mutmut (see docs/mutation-testing.md).

    uv run python scripts/mutation.py full               # every mutant (a fresh mutants/ tree)
    uv run python scripts/mutation.py ci --base origin/main
        # the mutants of the domain files changed since BASE; when none changed, a deterministic
        # sample (about one mutant in ten, chosen by the commit) so CI still exercises the gate
    uv run python scripts/mutation.py ci --sample 3      # the sample with a fixed last digit
    uv run python scripts/mutation.py score              # the score of the last run, per file

mutmut's settings are in pyproject.toml's ``[tool.mutmut]``. mutmut works in ``mutants/``
(ignored by git through its own ``.gitignore``, written here). The score counts killed, timed-out
and crashed mutants as killed, and survivors and mutants no unit test reaches as not killed;
``--fail-under`` makes it a gate. Surviving mutants listed in docs/mutation-accepted.txt, each
with its reason (equivalent, or not worth a test), are reported as accepted, not failed on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
DOMAIN = "src/order_generation/domain/"
MODULE_PREFIX = "order_generation.domain."

# mutmut's exit codes per mutant (mutmut/stats.py) grouped into what the score needs.
KILLED = {
    1: "killed",
    3: "killed",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",
    37: "type check",
}
SURVIVED = {0: "survived"}
NO_TESTS = {5: "no tests", 33: "no tests"}

# Surviving mutants examined and accepted: one name per line, then `# reason` (why, one by one).
ACCEPTED_FILE = ROOT / "docs" / "mutation-accepted.txt"


def accepted() -> set[str]:
    if not ACCEPTED_FILE.exists():
        return set()
    names = set()
    for line in ACCEPTED_FILE.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.add(name)
    return names


def prepare(fresh: bool) -> None:
    if fresh and MUTANTS.exists():
        shutil.rmtree(MUTANTS)
    MUTANTS.mkdir(exist_ok=True)
    (MUTANTS / ".gitignore").write_text("*\n", encoding="utf-8")


def run_mutmut(patterns: list[str], max_children: int) -> float:
    command = ["mutmut", "run", "--max-children", str(max_children), *patterns]
    print("$", " ".join(command), flush=True)
    started = time.monotonic()
    # mutmut draws a progress line many times a second: keep only its last screenful.
    completed = subprocess.run(  # noqa: S603 - mutmut from the project's environment
        command, cwd=ROOT, capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - started
    tail = completed.stdout.replace("\r", "\n").splitlines()[-12:]
    print("\n".join(line for line in tail if line.strip()))
    if completed.returncode != 0:
        print(completed.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"mutmut exited with {completed.returncode}")
    return elapsed


def results() -> dict[str, dict[str, int | None]]:
    """Exit code per mutant name, per source file, from mutmut's meta files."""
    by_file: dict[str, dict[str, int | None]] = {}
    for meta in sorted((MUTANTS / DOMAIN).rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        codes = data.get("exit_code_by_key", {})
        if codes:
            by_file[str(meta.relative_to(MUTANTS / DOMAIN))[: -len(".meta")]] = codes
    return by_file


def report(patterns: list[str] | None, fail_under: float | None) -> int:
    import fnmatch

    ok_names = accepted()
    by_file = results()
    if not by_file:
        print("no mutmut results: run `scripts/mutation.py full` first")
        return 1
    rows = []
    totals: Counter[str] = Counter()
    open_survivors: list[tuple[str, str]] = []
    for file, codes in by_file.items():
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            if patterns and not any(fnmatch.fnmatch(name, p) for p in patterns):
                continue
            if code is None:
                counts["unchecked"] += 1
            elif code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED or code in NO_TESTS:
                kind = "survived" if code in SURVIVED else "no tests"
                if name in ok_names:
                    counts["accepted"] += 1
                else:
                    counts[kind] += 1
                    open_survivors.append((name, kind))
            else:
                counts["suspicious"] += 1
                open_survivors.append((name, f"suspicious (exit {code})"))
        if sum(counts.values()):
            rows.append((file, counts))
            totals += counts

    def line(label: str, c: Counter[str]) -> str:
        checked = c["killed"] + c["survived"] + c["no tests"] + c["accepted"] + c["suspicious"]
        score = 100.0 * c["killed"] / checked if checked else 100.0
        adjusted = (
            100.0 * c["killed"] / (checked - c["accepted"]) if checked > c["accepted"] else 100
        )
        return (
            f"{label:<26}{checked:>6}{c['killed']:>8}{c['survived']:>9}{c['no tests']:>9}"
            f"{c['accepted']:>10}{c['unchecked']:>11}{score:>8.1f}%{adjusted:>9.1f}%"
        )

    header = (
        f"{'file':<26}{'total':>6}{'killed':>8}{'survived':>9}{'no tests':>9}"
        f"{'accepted':>10}{'unchecked':>11}{'score':>9}{'net':>10}"
    )
    print(header)
    print("-" * len(header))
    for file, counts in rows:
        print(line(file, counts))
    print("-" * len(header))
    print(line("domain/ (all)", totals))
    checked = sum(totals[k] for k in ("killed", "survived", "no tests", "accepted", "suspicious"))
    score = 100.0 * totals["killed"] / checked if checked else 100.0
    net = (
        100.0 * totals["killed"] / (checked - totals["accepted"])
        if checked > totals["accepted"]
        else 100.0
    )
    print(
        f"\nmutation score: {totals['killed']}/{checked} killed = {score:.1f}%; "
        f"{totals['accepted']} accepted survivors (docs/mutation-accepted.txt); "
        f"net of them {net:.1f}%"
    )
    if open_survivors:
        print(
            f"\n{len(open_survivors)} mutants neither killed nor accepted "
            "(`uv run mutmut show NAME` shows one):"
        )
        for name, kind in sorted(open_survivors):
            print(f"  {kind:<10} {name}")
    if fail_under is not None and net < fail_under:
        print(f"FAIL: net mutation score {net:.1f}% is under {fail_under}%")
        return 1
    return 0


def git(*args: str, check: bool = True) -> str:
    completed = subprocess.run(  # noqa: S603 - fixed git commands, arguments from our own CLI
        ["git", *args],  # noqa: S607 - git from PATH, as every developer runs it
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=check,
    )
    return completed.stdout


def changed_domain_modules(base: str) -> list[str]:
    """mutmut name patterns for the domain files changed between BASE and the work tree."""
    merge_base = git("merge-base", base, "HEAD").strip()
    names = git("diff", "--name-only", merge_base, "--", DOMAIN).split()
    untracked = git("ls-files", "--others", "--exclude-standard", "--", DOMAIN).split()
    patterns = []
    for name in sorted(set(names) | set(untracked)):
        path = Path(name)
        if path.suffix != ".py" or not (ROOT / path).exists():
            continue
        module = ".".join(path.relative_to("src").with_suffix("").parts)
        patterns.append(f"{module.removesuffix('.__init__')}.*")
    return patterns


def sample_digit(given: int | None) -> int:
    if given is not None:
        return given
    head = git("rev-parse", "HEAD", check=False).strip()
    return int(head, 16) % 10 if head else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    full = sub.add_parser("full", help="every mutant of domain/, from a fresh mutants/ tree")
    ci = sub.add_parser("ci", help="changed domain files since --base, else a deterministic sample")
    score = sub.add_parser("score", help="the score of the last run")
    for p in (full, ci):
        p.add_argument("--max-children", type=int, default=1, help="parallel mutants (default 1)")
        p.add_argument("--keep", action="store_true", help="reuse mutants/ and its cached results")
    for p in (full, ci, score):
        p.add_argument("--fail-under", type=float, default=None, help="net score %% to pass")
    ci.add_argument("--base", default=None, help="git ref: mutate the domain files changed since")
    ci.add_argument(
        "--sample",
        type=int,
        choices=range(10),
        default=None,
        help="sample the mutants whose number ends in this digit (default: from HEAD)",
    )
    args = parser.parse_args()
    os.chdir(ROOT)

    if args.mode == "score":
        return report(None, args.fail_under)

    patterns: list[str] = []
    if args.mode == "ci":
        if args.base:
            patterns = changed_domain_modules(args.base)
            print(
                f"domain files changed since {args.base}: "
                + (", ".join(patterns) if patterns else "none")
            )
        if not patterns:
            digit = sample_digit(args.sample)
            patterns = [f"{MODULE_PREFIX}*__mutmut_*{digit}"]
            print(f"sampling the mutants whose number ends in {digit}")
    prepare(fresh=not args.keep)
    elapsed = run_mutmut(patterns, args.max_children)
    print(f"\nmutmut took {elapsed:.0f} s\n")
    return report(patterns or None, args.fail_under)


if __name__ == "__main__":
    raise SystemExit(main())
