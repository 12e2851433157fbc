#!/usr/bin/env bash
# Start the service on http://127.0.0.1:8088 with its embedded defaults: the SQLite file
# var/ogs.db and the simulated GlobeCo services (sandbox) on generated data, pre-wired.
# Extra arguments go to `ogs serve` (see `uv run ogs serve --help`).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure-uv.sh
"$UV" sync --frozen --no-dev --quiet
exec "$UV" run --frozen --no-dev ogs serve --sandbox "$@"
