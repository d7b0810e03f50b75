#!/usr/bin/env bash
# Make sure Debian's `chromium` is on PATH, for the browser tests of the HTML report
# (tests/report/test_browser.py drives it headless through its DevTools pipe). Nothing to do
# when it is there; otherwise install the Debian package.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
apt_install chromium chromium
chromium --version
