#!/usr/bin/env bash
# The slow-link replay benchmark (issue 14 item 3): defers N (default 100) payments in headless
# Chromium with the network down, then lets the service worker replay them to a local gateway
# (built with --profile server) through the fault proxy throttled to 128 kbit/s each way with
# 300 ms round trips — once one by one (the proxy answers 404 to the batch URL, as an older
# gateway does) and once batched — and prints the seconds, the bytes that crossed and the
# bytes-over-bandwidth lower bound for each. Usage: scripts/replay-benchmark.sh [N]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
scripts/build-app.sh
cargo build --quiet --profile server -p tolem-gateway
N="${1:-100}" TOLEM_DIST="$ROOT/dist" TOLEM_GATEWAY_BIN="$ROOT/target/server/tolem-gateway" \
  cargo run --quiet -p tolem-e2e --example replay_benchmark
