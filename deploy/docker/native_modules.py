"""Build-time helper of the Dockerfile: imports every native extension module of the virtual
environment and prints those that fail (one name a line), so stripping debug sections can be
checked to change nothing: the list must be the same before and after.

    python native_modules.py > before.txt; strip ...; python native_modules.py | diff before.txt -
"""

from __future__ import annotations

import importlib
import sys
import sysconfig
from pathlib import Path


def extension_modules(site: Path) -> list[str]:
    names = set()
    for path in site.rglob("*.so"):
        relative = path.relative_to(site)
        if any(part.endswith((".libs", ".dist-info")) for part in relative.parts):
            continue  # vendored shared libraries (loaded by the modules) and metadata
        if not all(part.isidentifier() for part in relative.parts[:-1]):
            continue
        names.add(".".join([*relative.parts[:-1], path.name.split(".")[0]]))
    return sorted(names)


def main() -> int:
    site = Path(sysconfig.get_paths()["purelib"])
    modules = extension_modules(site)
    failed = 0
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # any failure is reported, none raised
            failed += 1
            print(f"{name}: {type(error).__name__}")
    print(f"{len(modules)} native modules, {failed} not importable", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
