#!/usr/bin/env bash
# Takes the README's pictures again (docs/screenshots/*.png): the release app, its worker and a
# real gateway in headless Chromium on a 320 × 640 phone (tests/e2e/examples/screenshots.rs).
# Review them with `git diff --stat docs/screenshots` and look before committing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
scripts/build-app.sh
cargo build -p tolem-gateway
TOLEM_DIST="$ROOT/dist" TOLEM_GATEWAY_BIN="$ROOT/target/debug/tolem-gateway" \
  cargo run --quiet -p tolem-e2e --example screenshots -- "$ROOT/docs/screenshots"
