#!/usr/bin/env bash
# Debian's Chromium for the console's end-to-end tests (Playwright drives it through
# executable_path; `playwright install` and browser downloads are never used).
# Source it or run it; installs the `chromium` package when /usr/bin/chromium is missing.
set -euo pipefail
if [ -x "${RAPPORT_CHROMIUM:-/usr/bin/chromium}" ]; then
  exit 0 2>/dev/null || return 0
fi
echo "chromium: installing Debian's chromium package"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null
}
