#!/usr/bin/env bash
# Install agent-otel with its test and development tools and the real programs some tests run
# (Prometheus, Chromium from Debian's packages; the OpenTelemetry Collector and Jaeger built
# from Go modules, once, cached outside the checkout), then run the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k store).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" dev
"$root/scripts/prometheus.sh" >/dev/null
"$root/scripts/chromium.sh" >/dev/null
"$root/scripts/backends.sh" >/dev/null
cd "$root"
# Every program is installed: the tests that need one must run, not skip.
export AGENT_OTEL_REQUIRE_BACKENDS=1
exec "$root/.venv/bin/python" -m pytest "$@"
