#!/usr/bin/env bash
# Vendor the agent console's browser libraries: the page loads them from our own static files,
# never from a CDN at run time. Pinned; run again after changing a version.
#   socket.io-client: the realtime layer (console.js)
#   @twilio/voice-sdk: the browser softphone (softphone.js)
#   chart.js: the public performance review's charts (performance/static/performance.js)
#   rapidoc: the page that shows the API's OpenAPI description (/docs/api)
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKET_IO_VERSION="4.8.4"
VOICE_SDK_VERSION="2.18.5"
CHART_JS_VERSION="4.6.1"
RAPIDOC_VERSION="9.3.8"
DEST="contactcenter/console/static/vendor"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# unpack NAME VERSION DIR: the package's published tarball, unpacked into DIR/package
unpack() {
  mkdir -p "$3"
  (cd "$3" && npm pack --silent "$1@$2" >/dev/null && tar -xzf ./*.tgz)
}

mkdir -p "$DEST"

unpack socket.io-client "$SOCKET_IO_VERSION" "$work/socket.io"
cp "$work/socket.io/package/dist/socket.io.min.js" "$DEST/socket.io-${SOCKET_IO_VERSION}.min.js"
cp "$work/socket.io/package/LICENSE" "$DEST/socket.io-${SOCKET_IO_VERSION}.LICENSE"
echo "vendored socket.io-client ${SOCKET_IO_VERSION} into ${DEST}"

# The browser bundle (dist/) defines window.Twilio.Device; es5/ and esm/ are for bundlers.
unpack @twilio/voice-sdk "$VOICE_SDK_VERSION" "$work/voice-sdk"
cp "$work/voice-sdk/package/dist/twilio.min.js" "$DEST/twilio-voice-${VOICE_SDK_VERSION}.min.js"
cp "$work/voice-sdk/package/LICENSE.md" "$DEST/twilio-voice-${VOICE_SDK_VERSION}.LICENSE"
echo "vendored @twilio/voice-sdk ${VOICE_SDK_VERSION} into ${DEST}"

# The UMD build defines window.Chart for a plain <script> tag (no bundler, no CDN).
CHART_DEST="contactcenter/performance/static/vendor"
mkdir -p "$CHART_DEST"
unpack chart.js "$CHART_JS_VERSION" "$work/chart.js"
cp "$work/chart.js/package/dist/chart.umd.min.js" "$CHART_DEST/chart-${CHART_JS_VERSION}.umd.min.js"
cp "$work/chart.js/package/LICENSE.md" "$CHART_DEST/chart-${CHART_JS_VERSION}.LICENSE"
echo "vendored chart.js ${CHART_JS_VERSION} into ${CHART_DEST}"

# One self-contained web component; the page sets load-fonts="false" (no font service).
DOCS_DEST="contactcenter/openapi/static/vendor"
mkdir -p "$DOCS_DEST"
unpack rapidoc "$RAPIDOC_VERSION" "$work/rapidoc"
sed '/^\/\/# sourceMappingURL=/d' "$work/rapidoc/package/dist/rapidoc-min.js" \
  > "$DOCS_DEST/rapidoc-${RAPIDOC_VERSION}.min.js"
cp "$work/rapidoc/package/LICENSE.txt" "$DOCS_DEST/rapidoc-${RAPIDOC_VERSION}.LICENSE"
echo "vendored rapidoc ${RAPIDOC_VERSION} into ${DOCS_DEST}"
