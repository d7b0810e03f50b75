#!/usr/bin/env bash
# Install agent-otel with its test and development tools, then run the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k store).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" dev
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
