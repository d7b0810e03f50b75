#!/usr/bin/env bash
# Make sure Debian's `chromium` is on PATH, for the browser tests of the HTML report
# (tests/report/test_browser.py drives it headless through its DevTools pipe). Nothing to do
# when it is there; otherwise install the Debian package with apt-get, as root or via sudo.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "chromium.sh: chromium is missing and installing it needs root (or sudo)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium.sh: chromium is missing and this is not a Debian-like system;" \
    "install Chromium so that \`chromium\` is on PATH" >&2
  exit 1
fi
install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends chromium)
# A fresh machine may have no package lists yet: refresh them once if the install fails.
if ! "${install[@]}"; then
  "${sudo[@]}" apt-get update -q
  "${install[@]}"
fi
chromium --version
