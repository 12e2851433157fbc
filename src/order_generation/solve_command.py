"""``ogs solve [FILE]``: the optimizer offline, on problems written as JSON.

Input (a file, or stdin when FILE is ``-`` or absent) is either one JSON document — a problem, or
a list of problems — or JSON Lines, one problem per line. A problem::

    {"id": "p1", "cash": "1000.00", "positions": [{"security_id": "A", "price": "12.34",
     "quantity": "10", "target": "0.05", "low_drift": "0.01", "high_drift": "0.01"}]}

Numbers may be JSON numbers or numeric strings and are read exactly. ``quantity``, ``target`` and
the drifts default to 0 (a held security outside the model). Output is one JSON line per problem,
in input order: ``{"id", "status", "market_value", "quantities", "objective", "reason",
"method"}``, decimals as exact strings. See docs/optimizer.md.

Exit status: 0 when every problem was read (whatever its answer); 1 when some JSON Lines line was
not a valid problem (its output line has status "error" and says why; the others are solved);
2 when the input cannot be read, is empty, or is a single JSON document that is not valid.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import chain
from typing import Any, TextIO

from order_generation.domain.numbers import exact_decimal, exact_decimals
from order_generation.domain.optimizer import (
    DEFAULT_TIME_LIMIT_SECONDS,
    RebalanceProblem,
    RebalanceSolution,
    SecurityTarget,
    check_problem,
    optimize_rebalance,
    plain,
)

_FIELDS = ("price", "quantity", "target", "low_drift", "high_drift")  # SecurityTarget's order
_MAX_MAGNITUDE = 30  # digits either side of the point; beyond is surely a mistake


class ProblemError(ValueError):
    """An input that is not a valid problem; the message names the offending field."""


def run_solve(source: str) -> int:
    """Solve every problem of ``source`` (a path, or "-" for stdin); return the exit status."""
    try:
        time_limit = _time_limit()
    except ValueError as error:
        return _fail(str(error))
    try:
        stream = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    except OSError as error:
        return _fail(f"cannot read {source}: {error.strerror or error}")
    try:
        return _solve_stream(stream, time_limit)
    except (OSError, UnicodeDecodeError) as error:
        return _fail(f"cannot read {source}: {error}")
    finally:
        if stream is not sys.stdin:
            stream.close()


def _time_limit() -> float:
    """OGS_OPTIMIZER_TIMEOUT_SECONDS, read here rather than through ``config.Settings``:
    pydantic-settings costs ~0.45 s of start-up, most of a short run's time."""
    text = os.environ.get("OGS_OPTIMIZER_TIMEOUT_SECONDS")
    if text is None:
        return DEFAULT_TIME_LIMIT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"OGS_OPTIMIZER_TIMEOUT_SECONDS must be a number above 0, got {text!r}")
    return value


def _solve_stream(stream: TextIO, time_limit: float) -> int:
    lines = enumerate(stream, start=1)
    for number, line in lines:
        if not line.strip():
            continue
        try:
            first = _loads(line)
        except json.JSONDecodeError:
            first = None  # not a complete value on its own line: one (multi-line) document
        if not isinstance(first, dict):
            rest = "".join(text for _, text in lines)
            return _solve_document("\n" * (number - 1) + line + rest, time_limit)
        return _solve_lines(chain([(number, first)], _parsed(lines)), time_limit)
    return _fail("no problem in the input")


def _solve_document(text: str, time_limit: float) -> int:
    try:
        document = _loads(text)
    except json.JSONDecodeError as error:
        return _fail(f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}")
    items = document if isinstance(document, list) else [document]
    try:
        problems = [_problem(item) for item in items]
    except ProblemError as error:
        where = "" if len(items) == 1 else "one of the problems: "
        return _fail(f"{where}{error}")
    for problem_id, problem in problems:
        _write(_result(problem_id, optimize_rebalance(problem, time_limit_seconds=time_limit)))
    return 0


def _solve_lines(records: Iterable[tuple[int, Any]], time_limit: float) -> int:
    status = 0
    for number, record in records:
        try:
            if isinstance(record, json.JSONDecodeError):
                raise ProblemError(f"invalid JSON at column {record.colno}: {record.msg}")
            # The optimizer checks its input rules itself (once, not twice per problem).
            problem_id, problem = _problem(record, check=False)
            try:
                solution = optimize_rebalance(problem, time_limit_seconds=time_limit)
            except ValueError as error:
                raise ProblemError(str(error)) from error
        except ProblemError as error:
            status = 1
            message = f"line {number}: {error}"
            print(f"ogs solve: {message}", file=sys.stderr)
            _write(_error(_id_of(record), message, number))
            continue
        _write(_result(problem_id, solution))
    return status


def _parsed(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
    for number, line in lines:
        if line.strip():
            try:
                yield number, _loads(line)
            except json.JSONDecodeError as error:
                yield number, error


def _loads(text: str) -> Any:
    # Exact decimals for every number; NaN/Infinity literals become (rejected) decimals too.
    return json.loads(text, parse_float=Decimal, parse_constant=Decimal)


# --- reading one problem -----------------------------------------------------------------------


def _problem(record: Any, *, check: bool = True) -> tuple[str | int | None, RebalanceProblem]:
    """The problem a record describes. ``check``: also apply the optimizer's own input rules
    (a security at most once) now; without it ``optimize_rebalance`` applies them, and its
    ValueError is the caller's to report."""
    if not isinstance(record, dict):
        raise ProblemError("a problem must be a JSON object")
    problem_id = _id_of(record)
    if "id" in record and record["id"] is not None and problem_id is None:
        raise ProblemError("id: must be a string or an integer")
    if "cash" not in record:
        raise ProblemError("cash: required")
    cash = _number(record["cash"], "cash")
    positions = record.get("positions", [])
    if not isinstance(positions, list):
        raise ProblemError("positions: must be a list")
    securities = tuple(_security(p, i) for i, p in enumerate(positions))
    problem = RebalanceProblem(cash=cash, securities=securities)
    if check:
        try:
            check_problem(problem)
        except ValueError as error:
            raise ProblemError(str(error)) from error
    return problem_id, problem


def _security(data: Any, index: int) -> SecurityTarget:
    if not isinstance(data, dict):
        raise ProblemError(f"{_path(index)}: must be a JSON object")
    security_id = data.get("security_id")
    if security_id is None:
        raise ProblemError(f"{_path(index)}.security_id: required")
    if not isinstance(security_id, str) or not security_id:
        raise ProblemError(f"{_path(index)}.security_id: must be a non-empty string")
    if "price" not in data:
        raise ProblemError(f"{_path(index)}.price: required")
    get = data.get
    raw = (data["price"], get("quantity", 0), get("target", 0), get("low_drift", 0),
           get("high_drift", 0))  # fmt: skip
    try:
        numbers = exact_decimals(raw)
    except ValueError:
        numbers = [
            _number(value, _path(index), name) for value, name in zip(raw, _FIELDS, strict=True)
        ]
    for number in numbers:
        if number and not -_MAX_MAGNITUDE <= number.adjusted() <= _MAX_MAGNITUDE:
            for value, name in zip(raw, _FIELDS, strict=True):
                _number(value, _path(index), name)  # raises, naming the field
    return SecurityTarget(security_id, *numbers)


def _path(index: int) -> str:
    return f"positions[{index}]"


def _number(value: Any, path: str, name: str = "") -> Decimal:
    """``value`` read exactly; the error names ``path.name`` (built only on failure: a file of
    problems holds hundreds of thousands of numbers)."""
    try:
        number = exact_decimal(value)
    except ValueError as error:
        where = f"{path}.{name}" if name else path
        raise ProblemError(f"{where}: {error}, got {json.dumps(value, default=str)}") from None
    if number and not -_MAX_MAGNITUDE <= number.adjusted() <= _MAX_MAGNITUDE:
        where = f"{path}.{name}" if name else path
        raise ProblemError(f"{where}: {value} is out of range (|exponent| > {_MAX_MAGNITUDE})")
    return number


def _id_of(record: Any) -> str | int | None:
    if isinstance(record, dict):
        value = record.get("id")
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
    return None


# --- writing results ---------------------------------------------------------------------------


def _result(problem_id: str | int | None, solution: RebalanceSolution) -> dict[str, Any]:
    reason = solution.reason
    return {
        "id": problem_id,
        "status": solution.status,
        "market_value": plain(solution.market_value),
        "quantities": dict(solution.quantities),
        "objective": None if solution.objective is None else plain(solution.objective),
        "reason": None
        if reason is None
        else {
            "kind": reason.kind,
            "message": reason.message,
            "security_id": reason.security_id,
            "details": dict(reason.details),
        },
        "method": solution.method,
    }


def _error(problem_id: str | int | None, message: str, line: int) -> dict[str, Any]:
    return {
        "id": problem_id,
        "status": "error",
        "market_value": None,
        "quantities": {},
        "objective": None,
        "reason": {
            "kind": "invalid_input",
            "message": message,
            "security_id": None,
            "details": {"line": str(line)},
        },
        "method": None,
    }


def _write(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")


def _fail(message: str) -> int:
    print(f"ogs solve: {message}", file=sys.stderr)
    return 2
