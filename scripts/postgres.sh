#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests: `scripts/postgres.sh start DIR` makes a cluster
# in DIR (fresh each time), starts it on a free port on 127.0.0.1 only, creates the database
# `tolem_test` and prints its URL; `scripts/postgres.sh stop DIR` stops it and deletes DIR.
# Uses Debian's server binaries (package `postgresql`, installed by scripts/setup.sh); assumes
# no system cluster. PostgreSQL refuses to run as root, so as root the cluster belongs to
# `nobody`. POSTGRES_EXTRA_OPTIONS adds server options (`-c name=value …`), as the gateway
# benchmark's STATEMENTS=1 does to load pg_stat_statements.
set -euo pipefail
command=${1:?usage: postgres.sh start|stop DIR}
dir=${2:?usage: postgres.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "postgres.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    su nobody -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

case "$command" in
  start)
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown nobody "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "'$bin/initdb' -D '$dir/data' -U tolem --auth=trust --no-sync -E UTF8 --locale=C.UTF-8" >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # fsync stays on: the tests exercise the same durability the gateway relies on.
    as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 \
      -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c max_connections=200 ${POSTGRES_EXTRA_OPTIONS:-}\" start" >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U tolem -d postgres -c "CREATE DATABASE tolem_test" >/dev/null
    echo "postgres://tolem@127.0.0.1:$port/tolem_test"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_owner "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop" >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: postgres.sh start|stop DIR" >&2
    exit 2
    ;;
esac
