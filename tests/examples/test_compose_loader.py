"""examples/deploy/compose.yaml through compose-go, the loader inside ``docker compose``.

No container runtime is available where this repository is developed, so ``docker compose
up`` cannot run; ``composecheck/`` (a few lines of Go on compose-go, built here from the Go
module proxy) loads the file exactly as ``docker compose config`` would: Compose-spec schema,
merge keys, interpolation, profiles. The static checks in ``test_deploy.py`` read the file
with PyYAML and ``deployment.py``; here that reading is also checked against compose-go's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .deployment import COMPOSE_FILE, load_compose, mounts, network_names

pytestmark = pytest.mark.slow

GO_DIR = Path(__file__).resolve().parent / "composecheck"
BUILD_TIMEOUT = 600  # a first build downloads compose-go and its dependencies
ALWAYS = {"otel-agent", "gateway-0", "gateway-1", "jaeger", "volume-init", "tempo"}
ALWAYS |= {"prometheus", "grafana"}


@pytest.fixture(scope="module")
def composecheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("the Go toolchain is not on PATH; it builds tests/examples/composecheck")
    binary = tmp_path_factory.mktemp("composecheck") / "composecheck"
    result = subprocess.run(
        [go, "build", "-buildvcs=false", "-o", str(binary), "."],
        cwd=GO_DIR,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return binary


def _load(
    binary: Path, compose_file: Path, home: Path, *profiles: str, **environment: str
) -> subprocess.CompletedProcess[str]:
    """compose-go with only PATH, HOME and ``environment`` set: what a fresh shell has."""
    return subprocess.run(
        [str(binary), str(compose_file), *profiles],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("profiles", [(), ("store",)], ids=["default", "store"])
def test_compose_go_loads_the_deployment(
    composecheck: Path, tmp_path: Path, profiles: tuple[str, ...]
) -> None:
    result = _load(composecheck, COMPOSE_FILE, tmp_path, *profiles)
    assert result.returncode == 0, result.stderr
    services = set(json.loads(result.stdout)["services"])
    assert services == (ALWAYS | {"otel-store-shipper"} if profiles else ALWAYS)


def test_compose_go_rejects_what_the_spec_does_not_allow(
    composecheck: Path, tmp_path: Path
) -> None:
    """The loader validates against the Compose specification: a misspelt key fails."""
    broken = tmp_path / "compose.yaml"
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    broken.write_text(text.replace("    restart: unless-stopped\n", "    restrat: always\n", 1))
    result = _load(composecheck, broken, tmp_path)
    assert result.returncode == 1 and "restrat" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "environment",
    [{}, {"OTELCOL_SAMPLING_PERCENTAGE": "50", "STORE_UID": "1234", "OTELCOL_AGENT_CONTENT": ""}],
    ids=["empty-environment", "overrides"],
)
def test_the_static_checks_read_the_file_as_compose_go_does(
    composecheck: Path, tmp_path: Path, environment: dict[str, str]
) -> None:
    result = _load(composecheck, COMPOSE_FILE, tmp_path, "store", **environment)
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)["services"]
    ours = load_compose(environment)["services"]
    assert set(loaded) == set(ours)
    for name, service in ours.items():
        theirs = loaded[name]
        assert theirs["image"] == service["image"], name
        assert (theirs.get("command") or []) == (service.get("command") or []), name
        environment_read = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        assert (theirs.get("environment") or {}) == environment_read, name
        assert network_names(name, theirs) == network_names(name, service), name
        assert theirs.get("user") == service.get("user"), name
        volumes = [(v["target"], v.get("read_only", False)) for v in theirs.get("volumes", [])]
        assert volumes == [(m.target, m.read_only) for m in mounts(service)], name
        for volume, mount in zip(theirs.get("volumes", []), mounts(service), strict=True):
            if mount.repo_path is not None:
                assert Path(volume["source"]) == mount.repo_path, (name, mount)
            elif not mount.is_bind:
                assert volume["source"] == mount.source, (name, mount)
