"""An agent that really changes files in a workspace and records each change through the
library, for ``agent-otel undo`` tests; run as a script: ``undo_workload.py WORKSPACE``.

``AGENT_OTEL_HOME`` (set by the caller) is the store; content capture follows
``AGENT_OTEL_CAPTURE_CONTENT``. Prints a JSON object: change name -> change id. The changes,
all in session ``undo-src`` of user ``agent-user``:

- ``modify``: app.py ``old`` -> ``new``; ``mode``: tool.sh (mode 0750) changed;
- ``create``: created.txt created; ``delete``: gone.txt deleted;
- ``nested``: pkg/sub/mod.py changed (a path with directories);
- ``binary``: blob.bin, bytes that are not UTF-8;
- ``secret``: settings.py whose old content holds an API key (redacted when captured);
- ``big``: big.txt, larger than the content budget (cut when captured);
- ``escape``: ``../outside.txt``, a path that leaves the workspace;
- ``linked``: linked.txt, which the tests may replace by a symlink.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import agent_otel

SECRET = "sk-proj-" + "Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9f"
BIG = "".join(f"line {n:05d} of a long file\n" for n in range(400))


def change(
    op: agent_otel.Operation,
    workspace: Path,
    name: str,
    before: str | bytes | None,
    after: str | bytes | None,
) -> str:
    """Write ``after`` to ``workspace/name`` (or delete it) and record the change."""
    path = workspace / name
    if after is None:
        path.unlink()
        kind = "delete"
    else:
        kind = "create" if before is None else "modify"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(after if isinstance(after, bytes) else after.encode())
    return op.record_change(name, kind, before=before, after=after).id


def main() -> None:
    workspace = Path(sys.argv[1])
    workspace.mkdir(parents=True, exist_ok=True)
    originals: dict[str, str | bytes] = {
        "app.py": "old\n",
        "tool.sh": "#!/bin/sh\necho old\n",
        "gone.txt": "bye\n",
        "pkg/sub/mod.py": "x = 1\n",
        "blob.bin": b"\x00\xff\x10",
        "settings.py": f'API_KEY = "{SECRET}"\n',
        "big.txt": BIG,
        "linked.txt": "linked old\n",
        "../outside.txt": "outside old\n",
    }
    for name, content in originals.items():
        path = workspace / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    os.chmod(workspace / "tool.sh", 0o750)

    tel = agent_otel.configure(service_name="undo-workload")
    ids: dict[str, str] = {}
    with agent_otel.session(session_id="undo-src", user_id="agent-user", workspace=workspace):
        with agent_otel.operation("write", "app.py") as op:
            ids["modify"] = change(op, workspace, "app.py", "old\n", "new\n")
        with agent_otel.operation("write", "tool.sh") as op:
            ids["mode"] = change(
                op, workspace, "tool.sh", "#!/bin/sh\necho old\n", "#!/bin/sh\necho new\n"
            )
        with agent_otel.operation("write", "created.txt") as op:
            ids["create"] = change(op, workspace, "created.txt", None, "hello\n")
        with agent_otel.operation("write", "gone.txt") as op:
            ids["delete"] = change(op, workspace, "gone.txt", "bye\n", None)
        with agent_otel.operation("write", "pkg/sub/mod.py") as op:
            ids["nested"] = change(op, workspace, "pkg/sub/mod.py", "x = 1\n", "x = 2\n")
        with agent_otel.operation("write", "blob.bin") as op:
            ids["binary"] = change(op, workspace, "blob.bin", b"\x00\xff\x10", b"\x00\xfe\x10")
        with agent_otel.operation("write", "settings.py") as op:
            ids["secret"] = change(
                op, workspace, "settings.py", f'API_KEY = "{SECRET}"\n', "API_KEY = None\n"
            )
        with agent_otel.operation("write", "big.txt") as op:
            ids["big"] = change(op, workspace, "big.txt", BIG, BIG + "one more\n")
        with agent_otel.operation("write", "../outside.txt") as op:
            ids["escape"] = change(
                op, workspace, "../outside.txt", "outside old\n", "outside new\n"
            )
        with agent_otel.operation("write", "linked.txt") as op:
            ids["linked"] = change(op, workspace, "linked.txt", "linked old\n", "linked new\n")
    tel.shutdown()
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
