#!/usr/bin/env bash
# Run every check: lint, format, types, and the whole test suite (arguments go to pytest).
# PostgreSQL cases run when OGS_TEST_POSTGRES_URL is set, e.g.
#   OGS_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test ./test.sh
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure-uv.sh
"$UV" sync --frozen --quiet
"$UV" run --frozen ruff check src tests bench scripts
"$UV" run --frozen ruff format --check src tests bench scripts
"$UV" run --frozen mypy
exec "$UV" run --frozen pytest "$@"
