#!/usr/bin/env bash
# The whole suite: lint, types, layer contract, migrations check, and every test tier on
# SQLite and on a private PostgreSQL cluster that this script starts and stops.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=0
step() { echo; echo "== $*"; }

step "lint, format, types, layer contract"
make --no-print-directory check || failed=1

step "Chromium for the browser tests (Debian's build)"
if ! [ -x "${NEXUS_TEST_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "chromium is missing: apt-get install chromium (as root)"; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null || { echo "could not install chromium"; exit 1; }
fi
"${NEXUS_TEST_CHROMIUM:-/usr/bin/chromium}" --version
rm -rf test-artifacts/screenshots

PGDATA_DIR=$(mktemp -d /tmp/nexus-pg-XXXXXX)
cleanup() { .venv/bin/python scripts/pgcluster.py stop "$PGDATA_DIR" >/dev/null 2>&1; rm -rf "$PGDATA_DIR" "$PGDATA_DIR.port"; }
trap cleanup EXIT
step "PostgreSQL (private cluster)"
PG_URL=$(.venv/bin/python scripts/pgcluster.py start "$PGDATA_DIR") || { echo "could not start PostgreSQL"; exit 1; }
echo "$PG_URL"

step "alembic check (SQLite, PostgreSQL)"
NEXUS_TEST_POSTGRES_URL="$PG_URL" .venv/bin/python scripts/alembic_check.py || failed=1

for engine in sqlite postgresql; do
  step "tests on $engine"
  NEXUS_TEST_ENGINE=$engine NEXUS_TEST_POSTGRES_URL="$PG_URL" \
    .venv/bin/pytest -n 2 -q -p no:cacheprovider tests || failed=1
done

if [ "$failed" -ne 0 ]; then echo; echo "FAILED"; exit 1; fi
echo; echo "all green"
