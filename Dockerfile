# GlobeCo Order Generation Service: the HTTP API (`ogs serve`) on port 8088.
#
#   docker build -t globeco-order-generation-service .
#   docker run --rm -p 8088:8088 globeco-order-generation-service      # SQLite in the container
#
# Settings are OGS_* environment variables (README "Configuration"); OGS_WORKERS sets the
# number of server processes, OGS_DATABASE_URL the database. The same image also runs
# `ogs db upgrade` (migrations) and `ogs sandbox serve` (the simulated GlobeCo services).
# Deployment: docs/deployment.md.

# ---- build: the locked dependencies and the project, into /app/.venv -----------------------
FROM python:3.11-slim AS build

# uv is pinned to the version the project's scripts use (scripts/ensure-uv.sh).
ARG UV_VERSION=0.13.9
# CI behind a TLS-re-signing proxy passes --build-arg UV_NATIVE_TLS=1: uv then trusts the
# system CA store (uv 0.13 spells it UV_SYSTEM_CERTS). Nothing of it reaches the final image.
ARG UV_NATIVE_TLS=false

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# binutils (strip), for this stage only.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/* \
 && python -m pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /src
# Dependencies first (their layer is reused until pyproject.toml or uv.lock changes) ...
COPY pyproject.toml uv.lock ./
# The packages' own test suites (about 18 MB, never imported) are dropped, and the debug
# sections of their extension modules stripped (about 35 MB; symbols stay; the libraries
# vendored in *.libs/ are left alone). Every extension module must import as before.
COPY deploy/docker/native_modules.py /tmp/
RUN export UV_SYSTEM_CERTS="${UV_NATIVE_TLS}" && unset UV_NATIVE_TLS \
 && uv sync --frozen --no-dev --no-editable --no-install-project --no-cache \
 && find /app/.venv -type d -name tests -prune -exec rm -rf {} + \
 && /app/.venv/bin/python /tmp/native_modules.py > /tmp/native-before.txt \
 && find /app/.venv -type f -name '*.so' -not -path '*.libs/*' -exec strip --strip-debug {} + \
 && /app/.venv/bin/python /tmp/native_modules.py > /tmp/native-after.txt \
 && diff /tmp/native-before.txt /tmp/native-after.txt
# ... then the project itself, installed as a wheel (no source tree needed at run time).
COPY README.md ./
COPY src ./src
# (Bytecode: only the project's own modules are new; the dependencies were compiled above.)
RUN export UV_SYSTEM_CERTS="${UV_NATIVE_TLS}" && unset UV_NATIVE_TLS \
 && UV_COMPILE_BYTECODE=0 uv sync --frozen --no-dev --no-editable --no-cache \
 && /app/.venv/bin/python -m compileall -q \
      "$(/app/.venv/bin/python -c 'import order_generation, os; print(os.path.dirname(order_generation.__file__))')"

# ---- runtime ------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime

# A fixed, numeric non-root user (Kubernetes runAsNonRoot can verify it).
RUN groupadd --gid 10001 ogs \
 && useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin ogs \
 && mkdir -p /app/var \
 && chown ogs:ogs /app/var

# The virtual environment only: owned by root, read-only for the service.
COPY --from=build /app/.venv /app/.venv

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OGS_HOST=0.0.0.0 \
    OGS_PORT=8088 \
    OGS_LOG_FORMAT=json

WORKDIR /app
USER 10001:10001
EXPOSE 8088

# Ready = the database answers (GET /health/ready; 503 otherwise). No curl in slim images.
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:' + os.environ.get('OGS_PORT', '8088') + '/health/ready', timeout=5)"]

# Exec form: ogs is PID 1 and receives SIGTERM itself (graceful shutdown).
CMD ["ogs", "serve"]

# Last, so that a new version or revision reuses every layer above.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="globeco-order-generation-service" \
      org.opencontainers.image.description="GlobeCo Order Generation Service: investment models and exact whole-unit rebalancing" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
