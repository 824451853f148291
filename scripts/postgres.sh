#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the test suite, unless RAPPORT_TEST_POSTGRES_URL is set.
# Source it: it exports RAPPORT_TEST_POSTGRES_URL and stops the server when the shell exits.
# Installs Debian's postgresql package when no server binaries are found.

if [ -n "${RAPPORT_TEST_POSTGRES_URL:-}" ]; then
  echo "postgres: using RAPPORT_TEST_POSTGRES_URL from the environment"
  return 0 2>/dev/null || exit 0
fi

_pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

PG_BIN="$(_pg_bin)"
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  echo "postgres: installing Debian's postgresql package"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q postgresql >/dev/null 2>&1 || {
    $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q postgresql >/dev/null
  }
  PG_BIN="$(_pg_bin)"
fi
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  echo "postgres: could not find or install PostgreSQL server binaries" >&2
  return 1 2>/dev/null || exit 1
fi

PG_PORT="${RAPPORT_TEST_POSTGRES_PORT:-55432}"
PG_DIR="$(mktemp -d /tmp/rapport-pg.XXXXXX)"
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
  # The server refuses to run as root: hand the directory to the postgres user.
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$PG_DIR"
  RUN_AS=(runuser -u postgres --)
fi

"${RUN_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync >/dev/null
# Durability settings are relaxed: this server holds nothing but test data.
"${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 start \
  -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off \
      -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null

_rapport_pg_stop() {
  "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap _rapport_pg_stop EXIT

export RAPPORT_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
echo "postgres: throwaway server at $RAPPORT_TEST_POSTGRES_URL ($("$PG_BIN/postgres" --version))"
