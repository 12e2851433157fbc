#!/usr/bin/env bash
# Entrypoint of the CI postgres:15 stand-in: the parts of the official image's entrypoint that
# compose files rely on. First start on an empty PGDATA: initdb (UTF8, C.UTF-8) with
# POSTGRES_USER (default postgres) and POSTGRES_PASSWORD (required unless
# POSTGRES_HOST_AUTH_METHOD=trust), create POSTGRES_DB (default: the user's name), run
# /docker-entrypoint-initdb.d/*.sql|*.sh, then serve on all interfaces.
set -Eeuo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  pwargs=()
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    pwfile="$(mktemp)"
    printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
    pwargs=(--pwfile="$pwfile")
  elif [ "$method" != trust ]; then
    echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" \
         "(or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  initdb -D "$PGDATA" --username="$user" "${pwargs[@]}" --encoding=UTF8 --locale=C.UTF-8 \
         --auth-local=trust --auth-host="$method" >/dev/null
  [ -n "${pwfile:-}" ] && rm -f "$pwfile"
  echo "host all all all $method" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"

  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$db" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -q --username "$user" --dbname postgres \
         --set db="$db" <<<'CREATE DATABASE :"db";'
  fi
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        echo "running $f"
        # shellcheck source=/dev/null
        . "$f"
        ;;
      *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 -q --username "$user" --dbname "$db" -f "$f" ;;
      *) echo "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
