#!/usr/bin/env bash
# Builds the release cashier app and its service worker into dist/, finished and precompressed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

# Trunk is told to stay offline: everything it needs is on PATH, and it must not try GitHub.
cargo fetch --quiet
trunk build --release --offline
cargo run --quiet -p xtask -- finish-dist dist
