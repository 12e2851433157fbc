"""The reliability suite's figures: every test adds what it ran and survived, and the totals are
printed at the end of the pytest run (the README's reliability table comes from them)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest


@dataclass
class Figures:
    cases: Counter[str] = field(default_factory=Counter)  # per area: cases that ran to the end
    faults_survived: int = 0  # injected faults after which the service recovered
    requests_under_fault: int = 0  # requests made while a fault was active
    acknowledged_writes: int = 0  # writes answered 2xx during fault tests
    acknowledged_writes_lost: int = 0  # of those, writes that could not be read back
    fuzz_requests: Counter[str] = field(default_factory=Counter)  # per backend

    def rows(self) -> list[tuple[str, str]]:
        rows = [(f"cases: {area}", str(n)) for area, n in sorted(self.cases.items())]
        rows += [
            ("cases in all", str(sum(self.cases.values()))),
            ("faults survived (service recovered afterwards)", str(self.faults_survived)),
            ("requests under fault", str(self.requests_under_fault)),
            ("acknowledged writes checked", str(self.acknowledged_writes)),
            ("acknowledged writes lost", str(self.acknowledged_writes_lost)),
        ]
        rows += [(f"fuzz requests ({b})", str(n)) for b, n in sorted(self.fuzz_requests.items())]
        return rows


FIGURES = Figures()


@pytest.fixture
def figures() -> Figures:
    return FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES.cases and not FIGURES.fuzz_requests:
        return
    terminalreporter.section("reliability suite")
    width = max(len(name) for name, _ in FIGURES.rows())
    for name, value in FIGURES.rows():
        terminalreporter.write_line(f"{name:<{width}}  {value:>8}")
