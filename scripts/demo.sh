#!/usr/bin/env bash
# The main job: install agent-otel, run the demo coding agent (its session goes to the local
# store), then show the stored sessions and the new session's tree with the CLI.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh" demo
out="$("$root/.venv/bin/python" "$root/examples/demo_agent.py" "$@")"
echo "$out"
session_id="$(echo "$out" | sed -n 's/^session \([^ ]*\) recorded.*/\1/p')"
"$root/.venv/bin/agent-otel" sessions --limit 10
"$root/.venv/bin/agent-otel" show "$session_id"
