"""examples/deploy/compose.yaml as ``docker compose`` would read it with an empty environment:
services with their variables interpolated (``${VAR:-default}``), YAML merge keys resolved,
and bind mounts resolved to files of the repository."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "examples" / "deploy"
COMPOSE_FILE = DEPLOY_DIR / "compose.yaml"

_VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<braced>\w+)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}|(?P<plain>\w+))"
)


def interpolate(value: str, environment: Mapping[str, str]) -> str:
    """Compose's variable syntax: ``$$`` (a literal ``$``), ``$VAR``, ``${VAR}``,
    ``${VAR:-default}`` / ``${VAR-default}``, ``${VAR:?error}`` / ``${VAR?error}``."""

    def replace(match: re.Match[str]) -> str:
        if match.group() == "$$":
            return "$"
        name = match["braced"] or match["plain"]
        op, default = match["op"], match["default"] or ""
        value = environment.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if unset and op in (":-", "-"):
            return interpolate(default, environment)
        if unset and op in (":?", "?"):
            raise KeyError(f"compose needs ${name}: {default}")
        return value or ""

    return _VARIABLE.sub(replace, value)


def _interpolate_all(node: Any, environment: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, environment)
    if isinstance(node, list):
        return [_interpolate_all(item, environment) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_all(value, environment) for key, value in node.items()}
    return node


def load_compose(environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file, merge keys resolved (PyYAML does), variables interpolated."""
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return dict(_interpolate_all(document, environment or {}))


@dataclass(frozen=True)
class Mount:
    source: str  # as written (after interpolation)
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source.startswith((".", "/", "~"))

    @property
    def repo_path(self) -> Path | None:
        """The repository file or directory of a relative bind mount."""
        if not self.source.startswith("."):
            return None
        return (DEPLOY_DIR / self.source).resolve()


def mounts(service: Mapping[str, Any]) -> list[Mount]:
    found = []
    for volume in service.get("volumes", []):
        if not isinstance(volume, str):
            raise AssertionError(f"long-syntax volume not expected here: {volume}")
        source, target, *mode = volume.split(":")
        found.append(Mount(source, target, "ro" in mode))
    return found


def container_file(service: Mapping[str, Any], path: str) -> Path | None:
    """The repository file a path inside the service's container comes from, if a bind
    mount of the repository provides it (the mount of the file or of a directory above)."""
    for mount in mounts(service):
        local = mount.repo_path
        if local is None:
            continue
        if path == mount.target:
            return local
        if path.startswith(mount.target.rstrip("/") + "/"):
            return local / path[len(mount.target.rstrip("/")) + 1 :]
    return None


def command(service: Mapping[str, Any]) -> list[str]:
    value = service.get("command", [])
    return value.split() if isinstance(value, str) else list(value)


def config_files(service: Mapping[str, Any]) -> list[str]:
    """The ``--config=PATH`` arguments of a Collector service's command."""
    return [arg.split("=", 1)[1] for arg in command(service) if arg.startswith("--config=")]


def host_port(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host, int(port)


def network_names(name: str, service: Mapping[str, Any]) -> set[str]:
    """The names other services reach this one by: its own and its network aliases."""
    names = {name}
    networks = service.get("networks") or {}
    if isinstance(networks, Mapping):
        for network in networks.values():
            names.update((network or {}).get("aliases", []))
    return names
