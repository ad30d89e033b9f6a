#!/usr/bin/env bash
# Make sure Debian's PostgreSQL server binaries are there for the test suite; install them if we can.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -n "${APN_PG_BINDIR:-}" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing PostgreSQL server binaries (apt-get install postgresql)…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
echo "PostgreSQL server binaries are missing. Install them (Debian: sudo apt-get install postgresql)" >&2
echo "or set APN_PG_BINDIR to the directory with initdb and pg_ctl; the PostgreSQL run needs them." >&2
exit 1
