#!/usr/bin/env bash
# Make sure `prometheus` and `promtool` are on PATH, for the recording-rule tests and the test
# against a real Prometheus server (tests/prometheus/). Nothing to do when both are there;
# otherwise install Debian's `prometheus` package (it ships both binaries) with apt-get, as
# root or through sudo.
#
# The package registers a `prometheus` service (systemd unit and init script, listening on
# :9090). The tests start their own server on a free loopback port and never use it, so when
# this script's install started the service, the script stops and disables it again; a
# Prometheus that was installed before is left alone.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi

source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
apt_install prometheus prometheus
sudo=("${SUDO[@]}")

# Stop the service the package may have just started (where policy allowed starting it).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  if systemctl is-active --quiet prometheus; then
    "${sudo[@]}" systemctl stop prometheus || true
  fi
  "${sudo[@]}" systemctl disable --quiet prometheus 2>/dev/null || true
elif [ -x /etc/init.d/prometheus ] && /etc/init.d/prometheus status >/dev/null 2>&1; then
  "${sudo[@]}" /etc/init.d/prometheus stop || true
fi

prometheus --version 2>&1 | head -n 1
