#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install agent-otel into it
# with the given extras. Sourced by demo.sh and test.sh so that both commands work on a fresh
# machine that has nothing but Python 3.10+.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
  "$python" -m venv "$root/.venv"
fi
"$root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root${extras:+[$extras]}"
