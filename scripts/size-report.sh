#!/usr/bin/env bash
# Builds the release app and prints what a first visit downloads: raw, gzip and brotli bytes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/build-app.sh" >&2
cd "$ROOT" && cargo run --quiet -p xtask -- size-report dist
