#!/usr/bin/env bash
# Run the instrumentation tests once more against the previous generation of the client SDKs,
# the ones built on `httpx` (openai 2.x, anthropic 0.x) rather than `httpx2`, in their own
# virtual environment (.venv-legacy).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-legacy"
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -e "$root[test]" "openai==2.30.0" "anthropic==0.125.0"
cd "$root"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider \
  tests/instrumentation/test_openai.py tests/instrumentation/test_anthropic.py "$@"
