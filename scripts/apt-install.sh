#!/usr/bin/env bash
# Shared by the scripts that need a program from Debian's packages (prometheus.sh,
# chromium.sh): `apt_install COMMAND PACKAGE` installs PACKAGE with apt-get, as root or
# through sudo, when COMMAND is not on PATH, refreshing the package lists once if the first
# attempt fails (a fresh machine may have none). Sets SUDO for the caller's own root steps.
# Source it; it defines functions only.

apt_install() {
  local command="$1" package="$2" who="${3:-$(basename "$0")}"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo)
    else
      echo "$who: $command is missing and installing it needs root (or sudo)" >&2
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: $command is missing and this is not a Debian-like system;" \
      "install $package so that \`$command\` is on PATH" >&2
    return 1
  fi
  local install=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$package")
  if ! "${install[@]}"; then
    "${SUDO[@]}" apt-get update -q
    "${install[@]}"
  fi
}
