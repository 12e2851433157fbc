"""Benchmark: ``ogs solve`` on a file of problems, process start included.

    uv run python bench/solve.py                 # 1,000 realistic N = 100 problems, 5 rounds
    uv run python bench/solve.py --count 5000 --size 50 --rounds 3

Writes seeded problems (``bench/optimizer.py``'s realistic kind) as JSON Lines, then per round:
runs ``ogs solve FILE`` as its own process (after one unmeasured run, so its modules are
compiled, as in an installed image), the same with ``--processes 1``, and the baseline, a
process that only starts Python and parses the same file with the stdlib's ``json``. In this
process it also splits one pass of the command's own code into reading (JSON to problems),
solving and writing. Prints the best and
median of the rounds, the ratios, and issue 11's targets (≥ 1,500 problems/s at N = 100 with the
start included; reading ≤ solving).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import optimizer as problems
from order_generation import solve_command
from order_generation.domain.optimizer import optimize_rebalance

BASELINE = "import json, sys\nfor line in open(sys.argv[1]):\n    json.loads(line)\n"


def ogs_command() -> list[str]:
    ogs = Path(sys.executable).with_name("ogs")
    return [str(ogs)] if ogs.exists() else [sys.executable, "-m", "order_generation.cli"]


def timed_process(command: list[str], environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=environment)
    return time.perf_counter() - started


def split_phases(path: Path) -> dict[str, float]:
    """One pass of the command's code, timed by phase: (reading, solving, writing) seconds."""
    lines = path.read_text(encoding="utf-8").splitlines()
    started = time.perf_counter()
    read = [solve_command._read_line(line)[1] for line in lines]
    parsed = time.perf_counter()
    solutions = [optimize_rebalance(problem) for _, problem in filter(None, read)]
    solved = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        for solution in solutions:
            solve_command._write(solve_command._result(None, solution))
    written = time.perf_counter()
    if len(solutions) != len(lines):
        raise SystemExit("some benchmark problems were not read in bulk: the bench is broken")
    return {"read": parsed - started, "solve": solved - parsed, "write": written - solved}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000, help="problems (default 1,000)")
    parser.add_argument("--size", type=int, default=100, help="securities each (default 100)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)

    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "problems.jsonl"
        batch = problems.problems_for("realistic", args.size, args.count, args.seed)
        problems.write_jsonl(path, iter([("realistic", args.size, batch)]))
        print(
            f"ogs solve bench: {args.count} realistic problems × {args.size} securities "
            f"({path.stat().st_size / 1e6:.1f} MB of JSON Lines), seed {args.seed}, "
            f"{args.rounds} rounds; Python {platform.python_version()}, "
            f"{problems.cpu_name()}, {os.cpu_count()} CPUs"
        )
        commands = {
            "ogs solve": [*ogs_command(), "solve", str(path)],
            "ogs solve --processes 1": [*ogs_command(), "solve", "--processes", "1", str(path)],
            "baseline": [sys.executable, "-c", BASELINE, str(path)],
        }
        timed_process(commands["ogs solve"], environment)  # compiles and caches the bytecode
        runs: dict[str, list[float]] = {name: [] for name in commands}
        phases: dict[str, list[float]] = {"read": [], "solve": [], "write": []}
        for _ in range(args.rounds):
            for name, command in commands.items():
                runs[name].append(timed_process(command, environment))
            for name, seconds in split_phases(path).items():
                phases[name].append(seconds)

    best = {name: min(times) for name, times in runs.items()}
    print(f"\n{'':34}{'best s':>9}{'median s':>10}{'problems/s':>12}")
    for name, times in runs.items():
        print(
            f"{name:34}{min(times):9.3f}{statistics.median(times):10.3f}"
            f"{args.count / min(times):12,.0f}"
        )
    print(
        f"ogs solve ÷ baseline (start + stdlib JSON parse only): "
        f"{best['ogs solve'] / best['baseline']:.2f} × ({len(os.sched_getaffinity(0))} "
        f"processes), {best['ogs solve --processes 1'] / best['baseline']:.2f} × (1 process)"
    )
    per_problem = {name: min(times) / args.count * 1000 for name, times in phases.items()}
    print(
        "in process, per problem: "
        + ", ".join(f"{name} {ms:.3f} ms" for name, ms in per_problem.items())
        + f"; reading ÷ solving {per_problem['read'] / per_problem['solve']:.2f}"
    )
    rate = args.count / best["ogs solve"]
    if args.size == 100:
        print(
            f"targets: ≥ 1,500 problems/s: {'met' if rate >= 1500 else 'NOT met'} "
            f"({rate:,.0f}); reading ≤ solving: "
            f"{'met' if per_problem['read'] <= per_problem['solve'] else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
