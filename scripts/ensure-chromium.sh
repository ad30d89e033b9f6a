#!/usr/bin/env bash
# Make sure Debian's chromium (driven by the browser tests through Playwright) is there; install it if we can.
set -euo pipefail
if [ -x "${APN_CHROMIUM:-/usr/bin/chromium}" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests (apt-get install chromium)…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "chromium is missing: the browser tests (tests/browser) need it. Install it (Debian: sudo apt-get install" >&2
echo "chromium) or set APN_CHROMIUM to a Chromium binary." >&2
exit 1
