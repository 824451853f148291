#!/usr/bin/env bash
# The whole test suite: lint, types, and every test on SQLite and PostgreSQL.
# Extra arguments go to pytest (e.g. scripts/test.sh -k keys -x).
set -euo pipefail
cd "$(dirname "$0")/.."
# The bench extra too: the benchmark peers have tests of their own.
scripts/venv.sh test,bench
source scripts/postgres.sh
scripts/chromium.sh
echo "== ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== mypy"
.venv/bin/mypy
echo "== pytest (SQLite and PostgreSQL)"
.venv/bin/pytest "$@"
