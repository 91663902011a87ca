#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for plasticity-search's RDB storage.
#
# Usage: start-postgres.sh [STATE_DIR]        (default STATE_DIR=/tmp/plasticity-postgres)
#
# Installs PostgreSQL from Debian's packages when no initdb is found (apt-get install -y
# postgresql; needs root), then creates a database cluster in STATE_DIR/data (initdb as the
# `postgres` user when run as root; trust authentication, listening on 127.0.0.1 only, on a
# free port; fsync off: the data are a search's, thrown away with STATE_DIR), starts it
# with pg_ctl and creates the database `plasticity_search`. Installs the Python driver
# (psycopg[binary], wheels; the `search` extra has it) into $PLASTICITY_VENV when that
# environment lacks it.
#
# stdout carries exactly one line,
#     export PLASTICITY_SEARCH_STORAGE=postgresql://postgres@127.0.0.1:PORT/plasticity_search
# so a caller can eval "$(scripts/search/start-postgres.sh STATE)"; plasticity-search takes
# that variable as its default --storage. Progress and errors go to stderr. A server
# already running from STATE_DIR is reused (the same line is printed). Stop it with
# scripts/search/stop-postgres.sh STATE_DIR.
set -euo pipefail

STATE_DIR="${1:-/tmp/plasticity-postgres}"
DATABASE=plasticity_search

log() { echo "start-postgres: $*" >&2; }
die() { echo "start-postgres: ERROR: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

find_bin() { # the directory of initdb/pg_ctl: PATH first, then Debian's newest version
  local initdb
  if initdb="$(command -v initdb 2>/dev/null)"; then
    dirname "$(readlink -f "$initdb")"
    return 0
  fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

mkdir -p "$STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd -P)"
DATA="$STATE_DIR/data"

# as_owner CMD...: runs CMD as the server's owner (`postgres` when we are root).
if [ "$(id -u)" -eq 0 ]; then
  as_owner() { runuser -u postgres -- "$@"; }
else
  as_owner() { "$@"; }
fi

# ---------------------------------------------------------------------------------------
# 1. Install (only when initdb is missing)
# ---------------------------------------------------------------------------------------
t_install0="$(now)"
BIN="$(find_bin)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and installing it needs root"
  log "installing postgresql with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get install -y --no-install-recommends -o Dpkg::Use-Pty=0 postgresql >&2; }
  policy="$(apt-cache policy postgresql 2>/dev/null || true)"
  case "$policy" in
    *"Candidate: (none)"*|"") apt-get update >&2 ;;
  esac
  if ! apt_install; then
    log "apt-get install failed; running apt-get update and retrying"
    apt-get update >&2
    apt_install
  fi
  BIN="$(find_bin)"
  [ -n "$BIN" ] && [ -x "$BIN/initdb" ] || die "initdb still missing after installing postgresql"
else
  log "PostgreSQL already installed ($("$BIN/postgres" --version 2>/dev/null || echo '?')); skipping install"
fi
if [ "$(id -u)" -eq 0 ]; then
  getent passwd postgres >/dev/null || die "user 'postgres' missing (postgresql package not installed?)"
fi
t_install1="$(now)"

# The Python driver of Optuna's RDB storage: SQLAlchemy's psycopg (3) dialect; psycopg2
# would do as well (plasticity-search picks whichever is installed).
VENV="${PLASTICITY_VENV:-}"
if [ -n "$VENV" ] && [ -x "$VENV/bin/python" ] \
  && ! "$VENV/bin/python" -c 'import psycopg' 2>/dev/null && ! "$VENV/bin/python" -c 'import psycopg2' 2>/dev/null; then
  log "installing psycopg[binary] into $VENV"
  "$VENV/bin/python" -m pip install --quiet --only-binary psycopg-binary 'psycopg[binary]>=3.1' >&2 \
    || die "could not install psycopg[binary] into $VENV"
fi

url() { echo "postgresql://postgres@127.0.0.1:$1/$DATABASE"; }

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -t 2 >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------
# 2. Already running from this STATE_DIR?
# ---------------------------------------------------------------------------------------
if [ -s "$STATE_DIR/port" ] && [ -s "$DATA/postmaster.pid" ]; then
  port="$(tr -dc '0-9' <"$STATE_DIR/port")"
  if [ -n "$port" ] && ready "$port"; then
    log "server from $STATE_DIR is already running on port $port; nothing to do"
    echo "export PLASTICITY_SEARCH_STORAGE=$(url "$port")"
    exit 0
  fi
fi

# ---------------------------------------------------------------------------------------
# 3. initdb, pg_ctl start, createdb
# ---------------------------------------------------------------------------------------
t_start0="$(now)"
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$STATE_DIR"
  as_owner test -w "$STATE_DIR" || die "user postgres cannot write $STATE_DIR (runuser missing, or a parent directory not searchable)"
fi
if [ ! -s "$DATA/PG_VERSION" ]; then
  rm -rf "$DATA"
  log "initdb $DATA"
  as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$STATE_DIR/initdb.log" 2>&1 \
    || { cat "$STATE_DIR/initdb.log" >&2; die "initdb failed"; }
fi

# A free port on the loopback (the kernel's choice; the server binds it a moment later).
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log "starting the server on 127.0.0.1:$port"
if ! as_owner "$BIN/pg_ctl" -D "$DATA" -l "$STATE_DIR/postgres.log" -w -t 60 \
  -o "-p $port -k $STATE_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >&2; then
  tail -n 30 "$STATE_DIR/postgres.log" >&2 || true
  die "the server did not start (log: $STATE_DIR/postgres.log)"
fi
echo "$port" >"$STATE_DIR/port"
if ! "$BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1; then
  "$BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres "$DATABASE" || die "createdb $DATABASE failed"
fi
t_start1="$(now)"

log "server up: $(url "$port"), data in $DATA"
log "elapsed: install $(elapsed "$t_install0" "$t_install1") s, start $(elapsed "$t_start0" "$t_start1") s"
echo "export PLASTICITY_SEARCH_STORAGE=$(url "$port")"
