#!/usr/bin/env bash
# Fetch axe-core (the accessibility checker the browser tests inject into every page) from the npm registry
# into a git-ignored folder under the virtualenv. Pinned version; nothing is loaded from a CDN at test time.
set -euo pipefail
VERSION=4.10.3
DEST="${1:-.venv/axe}"
if [ -f "$DEST/node_modules/axe-core/axe.min.js" ] && grep -q "\"version\": \"$VERSION\"" "$DEST/node_modules/axe-core/package.json"; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "Installing npm to fetch axe-core…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  else
    echo "npm is missing: the accessibility tests need axe-core $VERSION from the npm registry." >&2
    echo "Install npm (Debian: sudo apt-get install npm) and run 'make axe'." >&2
    exit 1
  fi
fi
mkdir -p "$DEST"
echo "Fetching axe-core $VERSION…"
npm install --prefix "$DEST" --no-save --no-audit --no-fund --silent "axe-core@$VERSION"
