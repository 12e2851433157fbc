# Sourced by run.sh and test.sh: sets UV to a working uv, installing it privately if needed.
# Needs only Python >= 3.11 on the machine.
set -euo pipefail
UV_VERSION="0.13.9"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if command -v uv >/dev/null 2>&1; then
  UV="uv"
elif [ -x "$root/.uv-bootstrap/bin/uv" ]; then
  UV="$root/.uv-bootstrap/bin/uv"
else
  python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
    exit 1
  fi
  echo "uv not found: installing uv $UV_VERSION into .uv-bootstrap/ (one time)" >&2
  "$python" -m venv "$root/.uv-bootstrap"
  "$root/.uv-bootstrap/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  UV="$root/.uv-bootstrap/bin/uv"
fi
export UV
