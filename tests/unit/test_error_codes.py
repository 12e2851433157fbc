"""The README's table of error codes is the catalogue in the code, no more and no less."""

from __future__ import annotations

import re
from pathlib import Path

from order_generation.domain.error_codes import ErrorCode

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_documents_exactly_the_catalogue() -> None:
    text = README.read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([A-Z_0-9]+)` \| (\d{3}) \|", text, flags=re.MULTILINE)
    names = [name for name, _ in documented]
    assert len(names) == len(set(names))
    assert set(names) == {code.value for code in ErrorCode}
