#!/usr/bin/env bash
# `make bench`: the kernel benchmark (benchmarks/kernel.py) on SQLite and on a private
# PostgreSQL cluster; prints a table and writes benchmarks/results/kernel.md. Then the console
# benchmark (benchmarks/console.py): the home page's server-side render time on both engines,
# written to benchmarks/results/console.md. Then the activation benchmark
# (benchmarks/activation.py): `POST /api/v1/activate` latency over 1,000 businesses and the
# server's memory on both engines, written to benchmarks/results/activation.md. Then the CRM
# benchmark (benchmarks/crm.py): contact read, create, an 80/20 mix, a list of 50 over many
# tenants and a 100,000-row CSV import on both engines, written to benchmarks/results/crm.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then echo "wrk is missing: apt-get install wrk (as root)"; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
.venv/bin/python -m benchmarks.kernel "$@"
.venv/bin/python -m benchmarks.console
.venv/bin/python -m benchmarks.activation
exec .venv/bin/python -m benchmarks.crm
