"""``ogs solve``: problems as JSON / JSON Lines in, one JSON result per problem out."""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_generation import solve_command
from order_generation.domain.optimizer import RebalanceProblem, SecurityTarget
from order_generation.solve_command import run_solve
from tests.unit.test_optimizer_oracle import check_solution, feasible_by_bounds

WIDE = {"low_drift": "0.5", "high_drift": "0.5"}


def position(sid: str, price: Any, quantity: Any = "0", target: Any = "0", **drifts: Any) -> dict:
    return {"security_id": sid, "price": price, "quantity": quantity, "target": target, **drifts}


SIMPLE = {
    "id": "p1",
    "cash": "10000",
    "positions": [
        position("A", "100", target="0.3", low_drift="0.05", high_drift="0.05"),
        position("B", "33", target="0.2", low_drift="0.05", high_drift="0.05"),
    ],
}
CASH_BINDING = {
    "id": "p2",
    "cash": 100,
    "positions": [position("A", 30, target=0.5, **WIDE), position("B", 45, target=0.5, **WIDE)],
}
EMPTY_BAND = {
    "id": "p3",
    "cash": "100",
    "positions": [position("A", "25", target="0.15", low_drift="0.05", high_drift="0.05")],
}


def run(path: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    code = run_solve(path)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "problems.jsonl"
    path.write_text(text, encoding="utf-8")
    return str(path)


def problem_from_json(data: dict) -> RebalanceProblem:
    """An independent reading of the input format, for checking answers."""
    return RebalanceProblem(
        cash=Decimal(str(data["cash"])),
        securities=tuple(
            SecurityTarget(
                p["security_id"],
                Decimal(str(p["price"])),
                Decimal(str(p.get("quantity", 0))),
                Decimal(str(p.get("target", 0))),
                Decimal(str(p.get("low_drift", 0))),
                Decimal(str(p.get("high_drift", 0))),
            )
            for p in data["positions"]
        ),
    )


def test_single_pretty_printed_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, results, err = run(write(tmp_path, json.dumps(SIMPLE, indent=2)), capsys)
    assert (code, err) == (0, "")
    assert results == [
        {
            "id": "p1",
            "status": "optimal",
            "market_value": "10000",
            "quantities": {"A": 30, "B": 61},
            "objective": "13",
            "reason": None,
            "method": "separable",
        }
    ]


def test_json_lines_batch_keeps_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n".join(json.dumps(p) for p in (EMPTY_BAND, CASH_BINDING, SIMPLE)) + "\n\n"
    code, results, _ = run(write(tmp_path, text), capsys)
    assert code == 0
    assert [r["id"] for r in results] == ["p3", "p2", "p1"]
    assert [r["status"] for r in results] == ["infeasible", "optimal", "optimal"]
    assert results[1]["quantities"] == {"A": 1, "B": 1}
    assert results[1]["method"] == "milp"
    reason = results[0]["reason"]
    assert reason["kind"] == "empty_band"
    assert reason["security_id"] == "A"
    assert reason["details"]["price"] == "25"
    assert "holds no whole unit" in reason["message"]


def test_json_numbers_are_read_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = {"id": 7, "cash": 0.1, "positions": [position("A", 0.1, 2, target=0.5, **WIDE)]}
    _, results, _ = run(write(tmp_path, json.dumps(problem)), capsys)
    assert results[0]["id"] == 7
    assert results[0]["market_value"] == "0.3"  # not 0.30000000000000004


def test_json_numbers_beyond_a_double_are_read_from_their_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Written by hand: 22 significant digits and 1e-400 have no binary float.
    text = (
        '{"id": 1, "cash": 0.0050000000000000000001, "positions": [{"security_id": "A", '
        '"price": 1e-400, "quantity": 1}]}\n'
    )
    _, results, _ = run(write(tmp_path, text), capsys)
    assert results[0]["status"] == "error"
    assert "price" in results[0]["reason"]["message"]  # 1e-400 is out of range, not zero
    text = text.replace("1e-400", "2")
    _, results, _ = run(write(tmp_path, text), capsys)
    assert results[0]["market_value"] == "2.0050000000000000000001"


def test_omitted_quantity_target_and_drifts_default_to_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = {"cash": "50", "positions": [{"security_id": "A", "price": "10", "quantity": "5"}]}
    _, results, _ = run(write(tmp_path, json.dumps(problem)), capsys)
    assert results[0]["id"] is None
    assert results[0]["quantities"] == {"A": 0}
    assert results[0]["objective"] == "0"


def test_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(SIMPLE) + "\n" + json.dumps(SIMPLE)))
    code, results, _ = run("-", capsys)
    assert code == 0
    assert len(results) == 2


def test_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.jsonl")
    code, results, err = run(missing, capsys)
    assert (code, results) == (2, [])
    assert "nope.jsonl" in err


def test_invalid_single_document_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, results, err = run(write(tmp_path, '{\n  "cash": "1",\n  "positions": [,]\n}\n'), capsys)
    assert (code, results) == (2, [])
    assert "line 3" in err


def test_empty_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(write(tmp_path, "\n  \n"), capsys)
    assert code == 2
    assert "no problem" in err


def test_bad_line_among_many_reports_it_and_continues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_price = {**SIMPLE, "id": "bad", "positions": [position("A", "ten", target="0.1")]}
    lines = [json.dumps(SIMPLE), "{not json", json.dumps(bad_price), json.dumps(CASH_BINDING)]
    code, results, err = run(write(tmp_path, "\n".join(lines)), capsys)
    assert code == 1
    assert [r["status"] for r in results] == ["optimal", "error", "error", "optimal"]
    assert results[1]["id"] is None
    assert results[2]["id"] == "bad"
    assert results[1]["reason"]["kind"] == "invalid_input"
    assert results[1]["reason"]["message"].startswith("line 2:")
    assert "positions[0].price" in results[2]["reason"]["message"]
    assert "line 2:" in err
    assert "line 3:" in err


def test_processes_answer_as_one_process_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(7)
    duplicated = {**SIMPLE, "id": "dup", "positions": [position("A", "1"), position("A", "2")]}
    lines = [json.dumps(random_problem(rng, i)) for i in range(230)]
    lines[3] = "{not json"
    lines[120] = json.dumps({**SIMPLE, "id": "bad", "positions": [position("A", "ten")]})
    lines[199] = json.dumps(duplicated)  # read in bulk, refused by the optimizer
    lines[60] = ""  # a blank line is skipped, and the numbering goes on
    path = write(tmp_path, "\n".join(lines))
    one = (run_solve(path, processes=1), *capsys.readouterr())
    three = (run_solve(path, processes=3), *capsys.readouterr())
    assert three == one
    code, out, err = one
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert len(results) == 229
    errors = [(r["id"], r["reason"]["message"].split(":")[0]) for r in results if r["reason"]]
    assert [e for e in errors if e[1].startswith("line")] == [
        (None, "line 4"),
        ("bad", "line 121"),
        ("dup", "line 200"),
    ]
    assert [line.split(":")[1].strip() for line in err.splitlines()] == [
        "line 4",
        "line 121",
        "line 200",
    ]


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ({"positions": []}, "cash: required"),
        ({"cash": "1", "positions": {}}, "positions: must be a list"),
        ({"cash": True, "positions": []}, "cash: must be a number, not a boolean"),
        ({"cash": "NaN", "positions": []}, "cash: must be a decimal number written with"),
        ({"cash": "1", "positions": [{"price": "1"}]}, "positions[0].security_id: required"),
        (
            {"cash": "1", "positions": [position("A", "1"), position("A", "2")]},
            "duplicate security_id 'A'",
        ),
        ([1, 2], "a problem must be a JSON object"),
    ],
)
def test_invalid_problems_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: Any, message: str
) -> None:
    text = json.dumps(SIMPLE) + "\n" + json.dumps(problem) + "\n"
    code, results, err = run(write(tmp_path, text), capsys)
    assert code == 1
    assert results[1]["status"] == "error"
    assert message in results[1]["reason"]["message"]
    assert message in err


def test_uses_the_configured_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OGS_OPTIMIZER_TIMEOUT_SECONDS", "0.000000001")
    _, results, _ = run(write(tmp_path, json.dumps(CASH_BINDING)), capsys)
    assert results[0]["status"] == "timeout"
    assert results[0]["reason"]["kind"] == "timeout"
    assert results[0]["quantities"] == {}


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf", ""])
def test_a_bad_configured_timeout_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str,
) -> None:
    monkeypatch.setenv("OGS_OPTIMIZER_TIMEOUT_SECONDS", value)
    code, results, err = run(write(tmp_path, json.dumps(SIMPLE)), capsys)
    assert code == 2
    assert results == []
    assert f"OGS_OPTIMIZER_TIMEOUT_SECONDS must be a number above 0, got {value!r}" in err


def random_problem(rng: random.Random, index: int) -> dict:
    """A realistic problem; about one in five infeasible, some binding cash."""
    n = rng.randint(1, 40)
    prices = [round(rng.uniform(1, 2000), 2) for _ in range(n)]
    mv = rng.choice([2_000, 50_000, 1_000_000, 30_000_000])
    weights = [rng.random() for _ in range(n)]
    total = rng.choice([0.9, 0.95, 1.0])
    positions = []
    for i, (price, weight) in enumerate(zip(prices, weights, strict=True)):
        target = round(total * weight / sum(weights), 3)
        drift = rng.choice(["0.002", "0.01", "0.05", "0.2"])
        held = int(mv * weight / sum(weights) / price * rng.uniform(0.5, 1.5))
        positions.append(
            position(f"S{i}", str(price), held, str(target), low_drift=drift, high_drift=drift)
        )
    held_value = sum(p["quantity"] * Decimal(p["price"]) for p in positions)
    cash = max(Decimal(0), Decimal(mv) - held_value)
    return {"id": f"p{index}", "cash": str(cash), "positions": positions}


@pytest.mark.slow
def test_console_script_solves_1000_json_lines(tmp_path: Path) -> None:
    rng = random.Random(20240601)
    problems = [random_problem(rng, i) for i in range(1000)]
    path = tmp_path / "batch.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in problems), encoding="utf-8")
    ogs = Path(sys.executable).parent / "ogs"
    done = subprocess.run(
        [str(ogs), "solve", str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["id"] for r in results] == [p["id"] for p in problems]
    statuses = {r["status"] for r in results}
    assert statuses <= {"optimal", "infeasible"}
    for data, result in zip(problems, results, strict=True):
        problem = problem_from_json(data)
        assert (result["status"] == "optimal") == feasible_by_bounds(problem)
        if result["status"] == "optimal":
            assert check_solution(problem, result["quantities"]) == Decimal(result["objective"])
    assert sum(r["status"] == "infeasible" for r in results) >= 50
    assert sum(r["method"] == "milp" for r in results) >= 10


# --- the bulk reading path agrees with the field-by-field one -----------------------------------

_numeral = st.from_regex(r"\A[+-]?([0-9]{1,32}(\.[0-9]{0,32})?|\.[0-9]{1,32})\Z")
_odd_value = st.sampled_from(
    [" 1.5", "1.5\n", "1_000", "NaN", "-Infinity", "1e3", "", "٣", "0x10", True, None, [], {}]
)
_value = st.one_of(
    _numeral,
    _numeral,
    _numeral,
    st.integers(-(10**40), 10**40),
    st.decimals(allow_nan=True, allow_infinity=True),
    _odd_value,
)
_PLAIN = r"[+-]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})"


def _plain(text: str) -> bool:
    """Decimal text the bulk path vouches for: the plain form in at most 31 characters."""
    return len(text) <= 31 and re.fullmatch(_PLAIN, text) is not None


_FIELD_NAMES = ("price", "quantity", "target", "low_drift", "high_drift")


_values_of_one_kind = st.sampled_from(
    [_numeral, st.integers(-(10**33), 10**33), _value]  # files mostly write numbers one way
)


@st.composite
def _position(draw: st.DrawFn, values: st.SearchStrategy[Any] = _value) -> Any:
    if draw(st.integers(0, 40)) == 0:
        return draw(st.sampled_from(["A", 1, None, ["A"]]))
    record: dict[str, Any] = {
        "security_id": draw(st.one_of(st.text(max_size=3), st.sampled_from([None, 7])))
    }
    for name in _FIELD_NAMES:
        if draw(st.integers(0, 15)):  # now and then a field is left out
            record[name] = draw(values)
    return record


@st.composite
def _positions(draw: st.DrawFn) -> list[Any]:
    values = draw(_values_of_one_kind)
    return draw(st.lists(_position(values), max_size=6))


def _field_by_field(positions: list[Any]) -> tuple[SecurityTarget, ...] | str:
    try:
        return tuple(solve_command._security(p, i) for i, p in enumerate(positions))
    except solve_command.ProblemError as error:
        return str(error)


@given(_positions())
def test_bulk_reading_gives_the_same_securities_or_leaves_the_problem_to_field_by_field(
    positions: list[Any],
) -> None:
    expected = _field_by_field(positions)
    bulk = solve_command._plain_securities(positions)
    if bulk is not None:
        assert bulk == expected
        assert [type(n) for s in bulk for n in s[1:]] == [Decimal] * 5 * len(bulk)
    elif positions and all(isinstance(p, dict) for p in positions):
        # only what the bulk path cannot vouch for is left to the slow path: a left-out field,
        # a value that is not plain decimal text, or a bad id
        assert isinstance(expected, str) or any(
            set(p) != {"security_id", *_FIELD_NAMES}
            or (
                not all(isinstance(p[n], str) and _plain(p[n]) for n in _FIELD_NAMES)
                and not all(type(p[n]) is int for n in _FIELD_NAMES)
            )
            for p in positions
        )


@given(
    _positions(),
    st.one_of(_value, st.just("100.5")),
    st.sampled_from([None, "p", 7, 1.5, True, ["p"]]),
)
def test_a_problem_read_in_bulk_is_the_problem_read_field_by_field(
    positions: list[Any], cash: Any, problem_id: Any
) -> None:
    record = {"id": problem_id, "cash": cash, "positions": positions}
    bulk = solve_command._plain_problem(record)
    try:
        expected: Any = solve_command._problem(record, check=False)
    except solve_command.ProblemError:
        expected = None
    if bulk is not None:
        assert bulk == expected


def test_bulk_reading_takes_plain_decimal_text() -> None:
    positions = [
        position("A", "19.683", "1545", "0.014", low_drift="0.01", high_drift="0.01"),
        position("B", ".5", "-3", "0", low_drift="0", high_drift="1."),
    ]
    assert solve_command._plain_securities(positions) == (
        SecurityTarget("A", *map(Decimal, ["19.683", "1545", "0.014", "0.01", "0.01"])),
        SecurityTarget("B", *map(Decimal, [".5", "-3", "0", "0", "1."])),
    )
    assert solve_command._plain_securities([]) == ()
    # Longer than 31 characters: left to the field-by-field reading, which takes it.
    long = "1" * 30 + "." + "2" * 30
    assert solve_command._plain_securities([position("A", long)]) is None
    _, problem = solve_command._problem({"cash": "0", "positions": [position("A", long)]})
    assert problem.securities[0].price == Decimal(long)


# --- trading options (SPEC §8) -------------------------------------------------------------------

# MV = 10,000: A holds 40 at 100 (40 % against 25-35 %), B nothing (target 50 % ± 5 %).
HELD = [
    position("A", "100", "40", "0.3", low_drift="0.05", high_drift="0.05"),
    position("B", "50", "0", "0.5", low_drift="0.05", high_drift="0.05"),
]


def test_options_shape_the_answer_and_the_output_says_what_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problems = [
        {"id": "deposit", "cash": "6000", "positions": HELD,
         "options": {"cash_flow": 2000, "mode": "buy_only", "lot_sizes": {"B": 7}}},
        {"id": "plain", "cash": "6000", "positions": HELD},
        {"id": "relax", "cash": "100", "positions": EMPTY_BAND["positions"],
         "options": {"on_infeasible": "relax"}},
        {"id": "locked", "cash": "1000",
         "positions": [position("A", "10", "2.5", "0.5", low_drift="0.01", high_drift="0.01")],
         "options": {"restrictions": {"A": "locked"}}},
    ]  # fmt: skip
    path = write(tmp_path, "".join(json.dumps(p) + "\n" for p in problems))
    code, (deposit, plain, relax, locked), _ = run(path, capsys)
    assert code == 0
    # MV′ 12,000: A may not sell (40 stays, 36 is its target), B's 120 is not a whole number of
    # lots of 7 from 0: 119 is.
    assert deposit["quantities"] == {"A": 40, "B": 119}
    assert deposit["market_value"] == "12000"
    assert deposit["binding"] == ["mode", "lot_sizes"]
    assert deposit["relaxed_by"] is None
    assert deposit["options"]["cash_flow"] == "2000"
    assert deposit["options"]["lot_sizes"] == {"B": 7}
    assert set(plain) == {"id", "status", "market_value", "quantities", "objective", "reason",
                          "method"}  # fmt: skip
    assert (relax["status"], relax["relaxed_by"], relax["quantities"]) == (
        "optimal",
        "0.05",
        {"A": 1},
    )
    assert relax["reason"]["kind"] == "relaxed"
    assert locked["quantities"] == {"A": "2.5"}


def test_cash_binds_under_options_and_the_output_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = {**CASH_BINDING, "options": {"min_trade_quantity": 1}}
    code, (result,), _ = run(write(tmp_path, json.dumps(problem) + "\n"), capsys)
    assert code == 0
    assert result["method"] == "milp"
    assert result["binding"] == ["cash"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cash_reserve": 1}, "options.cash_reserve: must be at least 0 and less than 1"),
        ({"cash_reserv": "0.1"}, "options.cash_reserv: Extra inputs are not permitted"),
        (
            {"lot_sizes": {"A": 0}},
            "options.lot_sizes.A: Input should be greater than or equal to 1",
        ),
        ({"restrictions": {"Q": "locked"}}, "options: Q is not a security of the problem"),
        ({"mode": "sideways"}, "options.mode: Input should be 'full', 'buy_only' or 'sell_only'"),
    ],
)
def test_bad_options_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: dict, message: str
) -> None:
    problem = {"id": "bad", "cash": "6000", "positions": HELD, "options": options}
    code, (result,), _ = run(write(tmp_path, json.dumps(problem) + "\n"), capsys)
    assert code == 1
    assert result["status"] == "error"
    assert message in result["reason"]["message"]


def test_option_numbers_are_read_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {"min_trade_value": 0.1, "cash_reserve": 0.05}
    problem = {"id": "exact", "cash": "6000", "positions": HELD, "options": options}
    code, (result,), _ = run(write(tmp_path, json.dumps(problem) + "\n"), capsys)
    assert (code, result["status"]) == (0, "optimal")
    assert (result["options"]["min_trade_value"], result["options"]["cash_reserve"]) == (
        "0.1",
        "0.05",
    )
