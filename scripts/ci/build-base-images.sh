#!/usr/bin/env bash
# Builds local stand-ins for the two public base images the project's files name, from Debian's
# packages, for machines that reach no container registry (CI here):
#   python:3.11-slim  Debian bookworm's python3 (3.11) + venv + pip, with this machine's extra CA
#                     certificates (so pip/uv get through the TLS-re-signing proxy of build steps)
#   postgres:15       Debian's postgresql-15 with an entrypoint that honours POSTGRES_USER /
#                     POSTGRES_PASSWORD / POSTGRES_DB / PGDATA like the official image
# The project's Dockerfile and compose.yaml then say `FROM python:3.11-slim` / `image: postgres:15`
# unchanged: here the stand-ins satisfy them, elsewhere the official images do.
#
# An existing local image of the same name is kept (a real one is never replaced); set
# OGS_REBUILD_BASE_IMAGES=1 to rebuild stand-ins. Needs: a running Docker daemon, mmdebstrap.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${OGS_CI_CACHE:-/var/tmp/ogs-ci}"
rootfs_tag="ogs-ci/debian:bookworm-minbase"
label="org.globeco.ogs.stand-in"
export DOCKER_BUILDKIT=0

log() { printf '[base-images] %s\n' "$*" >&2; }
die() { printf '[base-images] FATAL: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "the Docker daemon is not answering"
mkdir -p "$cache"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }
is_stand_in() { [ "$(docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null)" = "true" ]; }
wanted() {  # wanted IMAGE: should we (re)build this stand-in?
  if ! have_image "$1"; then return 0; fi
  if ! is_stand_in "$1"; then log "$1: a non-stand-in image exists locally, kept"; return 1; fi
  [ "${OGS_REBUILD_BASE_IMAGES:-0}" = 1 ]
}

need_python=0; need_postgres=0
wanted python:3.11-slim && need_python=1
wanted postgres:15 && need_postgres=1
if [ "$need_python$need_postgres" = 00 ]; then
  log "python:3.11-slim and postgres:15 present: nothing to build"
  exit 0
fi

# 1. A minimal Debian bookworm root file system (deb.debian.org + updates + security).
if ! have_image "$rootfs_tag" || [ "${OGS_REBUILD_BASE_IMAGES:-0}" = 1 ]; then
  command -v mmdebstrap >/dev/null || die "mmdebstrap not found (apt-get install -y mmdebstrap)"
  tarball="$cache/bookworm-minbase.tar"
  log "mmdebstrap bookworm (minbase + ca-certificates) -> $tarball"
  start=$SECONDS
  rm -f "$tarball"
  # Trimmed like the official *-slim images: no man pages, docs, locales; no apt lists.
  # (The hook is expanded by mmdebstrap, with $1 the new root: single quotes on purpose.)
  # shellcheck disable=SC2016
  mmdebstrap --quiet --variant=minbase --include=ca-certificates \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
    bookworm "$tarball"
  docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' "$tarball" "$rootfs_tag" >/dev/null
  rm -f "$tarball"
  log "root file system imported as $rootfs_tag in $((SECONDS - start)) s"
fi

# 2. The stand-ins, each with the machine's extra CA certificates (never in the project's image).
ctx_ca() {  # copy the extra CA certificates into build context $1/ca/
  mkdir -p "$1/ca"
  shopt -s nullglob
  local certs=(/usr/local/share/ca-certificates/*.crt)
  shopt -u nullglob
  if [ ${#certs[@]} -gt 0 ]; then cp "${certs[@]}" "$1/ca/"; fi
  log "extra CA certificates for $2: ${#certs[@]}"
}

build_stand_in() {  # build_stand_in NAME TAG
  local ctx start
  ctx="$(mktemp -d)"
  cp -r "$here/stand-ins/$1/." "$ctx/"
  ctx_ca "$ctx" "$2"
  start=$SECONDS
  log "building $2 (stand-in) ..."
  if ! docker build -q --build-arg "BASE=$rootfs_tag" --label "$label=true" -t "$2" "$ctx" >"$cache/build-$1.log" 2>&1; then
    tail -n 40 "$cache/build-$1.log" >&2
    rm -rf "$ctx"
    die "building the $2 stand-in failed (log: $cache/build-$1.log)"
  fi
  rm -rf "$ctx"
  log "$2 stand-in built in $((SECONDS - start)) s"
}

[ "$need_python" = 1 ] && build_stand_in python python:3.11-slim
[ "$need_postgres" = 1 ] && build_stand_in postgres postgres:15
exit 0
