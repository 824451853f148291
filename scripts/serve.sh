#!/usr/bin/env bash
# Install rapport and serve it on the embedded SQLite database (./rapport.db).
# The first run creates a workspace and prints its keys once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh
.venv/bin/rapport init --if-needed
exec .venv/bin/rapport serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" "$@"
