"""The README's configuration table and ``Settings`` name the same variables."""

from __future__ import annotations

import re
from pathlib import Path

from order_generation.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_variables() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    table = section.split("### ", 1)[0]
    return re.findall(r"^\| `(OGS_[A-Z0-9_]+)` \|", table, flags=re.MULTILINE)


def test_every_setting_is_documented_once_and_nothing_else_is() -> None:
    documented = documented_variables()
    declared = {f"OGS_{name.upper()}" for name in Settings.model_fields}
    assert len(documented) == len(set(documented)), "a variable is documented twice"
    assert set(documented) == declared


def test_documented_defaults_match_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    defaults = dict(re.findall(r"^\| `(OGS_[A-Z0-9_]+)` \| `([^`]*)` \|", text, re.MULTILINE))
    for name, field in Settings.model_fields.items():
        documented = defaults.get(f"OGS_{name.upper()}")
        if documented is None or field.default_factory is not None:
            continue  # shown in words ("CPU count")
        value = field.default
        shown = ",".join(value) if isinstance(value, list) else str(value).lower()
        assert documented.lower() in (shown, shown.removesuffix(".0")), (name, documented, value)
