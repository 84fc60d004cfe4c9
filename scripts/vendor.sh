#!/usr/bin/env bash
# Vendor the Socket.IO browser client for the agent console: the page loads it from our own
# static files, never from a CDN at run time. Pinned; run again after changing the version.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="4.8.4"
DEST="contactcenter/console/static/vendor"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "socket.io-client@${VERSION}" >/dev/null && tar -xzf ./*.tgz)

mkdir -p "$DEST"
cp "$work/package/dist/socket.io.min.js" "$DEST/socket.io-${VERSION}.min.js"
cp "$work/package/LICENSE" "$DEST/socket.io-${VERSION}.LICENSE"
echo "vendored socket.io-client ${VERSION} into ${DEST}"
