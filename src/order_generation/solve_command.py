"""``ogs solve [FILE]``: the optimizer offline, on problems written as JSON.

Input (a file, or stdin when FILE is ``-`` or absent) is either one JSON document — a problem, or
a list of problems — or JSON Lines, one problem per line. A problem::

    {"id": "p1", "cash": "1000.00", "positions": [{"security_id": "A", "price": "12.34",
     "quantity": "10", "target": "0.05", "low_drift": "0.01", "high_drift": "0.01"}]}

Numbers may be JSON numbers or numeric strings and are read exactly. ``quantity``, ``target`` and
the drifts default to 0 (a held security outside the model). A problem may carry SPEC §8's
trading options as ``"options": {...}`` (the API's schema). Output is one JSON line per problem,
in input order: ``{"id", "status", "market_value", "quantities", "objective", "reason",
"method"}``, decimals as exact strings; a problem with options also gets ``"relaxed_by"``,
``"options"`` (as applied) and ``"binding"`` (the constraints that cost drift: ``"cash"`` when the
cash row decided, and each option whose removal alone gives a lower objective). See
docs/optimizer.md.

Exit status: 0 when every problem was read (whatever its answer); 1 when some JSON Lines line was
not a valid problem (its output line has status "error" and says why; the others are solved);
2 when the input cannot be read, is empty, or is a single JSON document that is not valid.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from itertools import chain, islice, repeat
from multiprocessing.pool import AsyncResult
from operator import itemgetter
from typing import Any, TextIO

import orjson
from pydantic import ValidationError

from order_generation.api.options import RebalanceOptions, options_of
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
from order_generation.domain.trading_options import TradingOptions, options_document

_FIELDS = ("price", "quantity", "target", "low_drift", "high_drift")  # SecurityTarget's order
_MAX_MAGNITUDE = 30  # digits either side of the point; beyond is surely a mistake
# Bulk reading (``_plain_securities``): within these characters ``Decimal()`` accepts exactly the
# numerals ``exact_decimal`` does, and a numeral of at most _MAX_MAGNITUDE + 1 characters has at
# most _MAX_MAGNITUDE digits either side of the point.
_NUMERAL_BYTES = b"0123456789.+-\n"
_MAX_PLAIN_LENGTH = _MAX_MAGNITUDE + 1
_INTEGER_LIMIT = 10 ** (_MAX_MAGNITUDE + 1)
_security_ids = itemgetter("security_id")
_numbers_of = itemgetter(*_FIELDS)


class ProblemError(ValueError):
    """An input that is not a valid problem; the message names the offending field."""


def run_solve(source: str, processes: int | None = None) -> int:
    """Solve every problem of ``source`` (a path, or "-" for stdin); return the exit status.
    JSON Lines are solved by ``processes`` processes (default: one per CPU this process may
    use); a single document in this one."""
    try:
        time_limit = _time_limit()
    except ValueError as error:
        return _fail(str(error))
    try:
        stream = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    except OSError as error:
        return _fail(f"cannot read {source}: {error.strerror or error}")
    try:
        return _solve_stream(stream, time_limit, processes or len(os.sched_getaffinity(0)))
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


def _solve_stream(stream: TextIO, time_limit: float, processes: int) -> int:
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
        return _solve_lines(chain([(number, line)], lines), time_limit, processes)
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
        solution = optimize_rebalance(problem, time_limit_seconds=time_limit)
        _write(_result(problem_id, solution, problem))
    return 0


_Read = tuple[str | int | None, RebalanceProblem]  # a problem's id and the problem
_Answer = tuple[str, str | None]  # an output line, and the message for stderr when it is an error
_BATCH_LINES = 50  # JSON Lines per task of a solving process


def _solve_lines(lines: Iterator[tuple[int, str]], time_limit: float, processes: int) -> int:
    """Solve JSON Lines in batches, by ``processes`` processes when there is more than a batch,
    and write the answers in input order."""
    status = 0
    for answers in _solved_batches(_batches(lines), time_limit, processes):
        for output, message in answers:
            if message is not None:
                status = 1
                print(f"ogs solve: {message}", file=sys.stderr)
            sys.stdout.write(output)
    return status


def _batches(lines: Iterator[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    while batch := [(n, line) for n, line in islice(lines, _BATCH_LINES) if line.strip()]:
        yield batch


def _solved_batches(
    batches: Iterator[list[tuple[int, str]]], time_limit: float, processes: int
) -> Iterator[list[_Answer]]:
    """Each batch's answers, in order. Forked processes solve while this one reads ahead at
    most two batches per process, so memory stays bounded whatever the input's size."""
    head = list(islice(batches, 2))
    if processes <= 1 or len(head) < 2:
        for batch in chain(head, batches):
            yield _solve_batch(batch, time_limit)
        return
    # fork: the children start with every module already imported (no start-up cost). Flush
    # first: a child flushes the buffers it inherited when it exits, which would repeat them.
    sys.stdout.flush()
    sys.stderr.flush()
    pool = multiprocessing.get_context("fork").Pool(processes, initializer=_default_signals)
    try:
        pending: deque[AsyncResult[list[_Answer]]] = deque()
        for batch in chain(head, batches):
            pending.append(pool.apply_async(_solve_batch, (batch, time_limit)))
            if len(pending) >= 2 * processes:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
    except BaseException:  # an error, or the reader stopped early (GeneratorExit)
        pool.terminate()
        raise
    else:
        pool.close()  # done: each process takes its sentinel and exits on its own
    finally:
        pool.join()


def _default_signals() -> None:
    """A solving process dies on SIGTERM and SIGINT, whatever handlers the parent had (a
    server's graceful-shutdown handler, inherited through fork, would otherwise leave
    ``Pool.terminate`` waiting forever for a process that will not stop)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _solve_batch(batch: list[tuple[int, str]], time_limit: float) -> list[_Answer]:
    return [_solve_line(number, line, time_limit) for number, line in batch]


def _solve_line(number: int, line: str, time_limit: float) -> _Answer:
    record, read = _read_line(line)
    try:
        if read is not None:
            problem_id, problem = read
        elif isinstance(record, json.JSONDecodeError):
            raise ProblemError(f"invalid JSON at column {record.colno}: {record.msg}")
        else:
            # The optimizer checks its input rules itself (once, not twice per problem).
            problem_id, problem = _problem(record, check=False)
        try:
            solution = optimize_rebalance(problem, time_limit_seconds=time_limit)
        except ValueError as error:
            raise ProblemError(str(error)) from error
    except ProblemError as error:
        message = f"line {number}: {error}"
        problem_id = _id_of(record) if read is None else read[0]
        return _line(_error(problem_id, message, number)), message
    return _line(_result(problem_id, solution, problem)), None


def _read_line(line: str) -> tuple[Any, _Read | None]:
    """orjson and the bulk path for what programs write (numbers as decimal text, every field
    given); anything else is parsed again by the stdlib with exact decimals (orjson would read a
    JSON number with a fraction as a float) and read field by field."""
    try:
        read = _plain_problem(orjson.loads(line))
    except orjson.JSONDecodeError:
        read = None
    if read is not None:
        return None, read
    try:
        return _loads(line), None
    except json.JSONDecodeError as error:
        return error, None


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
    securities = _plain_securities(positions)
    if securities is None:
        securities = tuple(_security(p, i) for i, p in enumerate(positions))
    options = _options(record.get("options"), {s.security_id for s in securities})
    problem = RebalanceProblem(cash=cash, securities=securities, options=options)
    if check:
        try:
            check_problem(problem)
        except ValueError as error:
            raise ProblemError(str(error)) from error
    return problem_id, problem


def _plain_problem(record: Any) -> _Read | None:
    """``_problem(record)`` when every number is plain decimal text or an integer (see
    ``_plain_securities``), else None."""
    if type(record) is not dict or record.get("options") is not None:
        return None  # options go the exact way: orjson reads 0.05 as a float
    problem_id = _id_of(record)
    if problem_id is None and record.get("id") is not None:
        return None
    cash = _plain_decimals([record.get("cash")])
    positions = record.get("positions", [])
    securities = _plain_securities(positions) if type(positions) is list else None
    if cash is None or securities is None:
        return None
    return problem_id, RebalanceProblem(cash=cash[0], securities=securities)


def _plain_decimals(values: list[Any]) -> list[Decimal] | None:
    """The values as decimals when every one is decimal text of the plain form (or an integer)
    within range; else None."""
    try:
        text = "\n".join(values).encode()  # TypeError unless all are text
    except TypeError:
        if all(type(v) is int and -_INTEGER_LIMIT < v < _INTEGER_LIMIT for v in values):
            return list(map(Decimal, values))
        return None
    try:
        if text.translate(None, _NUMERAL_BYTES) or max(map(len, values)) > _MAX_PLAIN_LENGTH:
            return None
        return list(map(Decimal, values))
    except (ArithmeticError, UnicodeEncodeError):
        return None


def _plain_securities(positions: list[Any]) -> tuple[SecurityTarget, ...] | None:
    """The securities, read in bulk, when every position has all six fields, a non-empty string
    id and its numbers as plain decimal text (what programs write); else None, and ``_security``
    reads them one by one and names the first fault. A file of problems holds hundreds of
    thousands of numbers: one pass over all their bytes costs a fraction of a match per number."""
    if not positions:
        return ()
    try:
        ids = list(map(_security_ids, positions))
        numbers = list(chain.from_iterable(map(_numbers_of, positions)))
        "".join(ids)  # TypeError unless every id is a string
    except (KeyError, TypeError):
        return None
    decimals = None if "" in ids else _plain_decimals(numbers)
    if decimals is None:
        return None
    # tuple.__new__ straight from C: the named tuple's own __new__ is a Python function.
    fields = zip(ids, *(decimals[i::5] for i in range(5)), strict=True)
    return tuple(map(tuple.__new__, repeat(SecurityTarget), fields))


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


def _options(data: Any, security_ids: set[str]) -> TradingOptions | None:
    """A problem's options, or None when it has none (today's problem exactly)."""
    if data is None:
        return None
    try:
        layer = RebalanceOptions.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(["options", *map(str, first["loc"])])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ProblemError(f"{where}: {message}") from None
    unknown = sorted(layer.securities() - security_ids)
    if unknown:
        raise ProblemError(f"options: {', '.join(unknown)} is not a security of the problem")
    return options_of([layer])


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


def _result(
    problem_id: str | int | None, solution: RebalanceSolution, problem: RebalanceProblem
) -> dict[str, Any]:
    reason = solution.reason
    result: dict[str, Any] = {
        "id": problem_id,
        "status": solution.status,
        "market_value": plain(solution.market_value),
        "quantities": {k: _unit(v) for k, v in solution.quantities.items()},
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
    if problem.options is not None:
        result["relaxed_by"] = None if solution.relaxed_by is None else plain(solution.relaxed_by)
        result["options"] = options_document(problem.options)
        result["binding"] = _binding(problem, solution)
    return result


def _unit(units: int | Decimal) -> int | str:
    # A locked fractional holding is the one unit that is not whole: exact text, like decimals.
    return units if isinstance(units, int) else plain(units)


# Options that constrain the solve, and their values that do not.
_UNCONSTRAINED: dict[str, Any] = {
    "cash_reserve": Decimal(0),
    "mode": "full",
    "restrictions": {},
    "min_trade_value": Decimal(0),
    "min_trade_quantity": 0,
    "lot_sizes": {},
    "default_lot_size": 1,
    "bands": "hard",
}


def _binding(problem: RebalanceProblem, solution: RebalanceSolution) -> list[str]:
    """The constraints that cost drift: "cash" when the cash row decided the answer (the
    nearest admissible units did not fit), and each option set whose removal alone gives a
    strictly lower objective (one more solve per option set)."""
    options = problem.options
    if options is None or solution.status != "optimal" or solution.objective is None:
        return []
    binding = ["cash"] if solution.method.startswith("milp") else []
    for name, free in _UNCONSTRAINED.items():
        if getattr(options, name) == free:
            continue
        without = replace(options, **{name: free})
        other = optimize_rebalance(replace(problem, options=without))
        if other.objective is not None and other.objective < solution.objective:
            binding.append(name)
    return binding


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
    sys.stdout.write(_line(result))


def _line(result: dict[str, Any]) -> str:
    return json.dumps(result) + "\n"


def _fail(message: str) -> int:
    print(f"ogs solve: {message}", file=sys.stderr)
    return 2
