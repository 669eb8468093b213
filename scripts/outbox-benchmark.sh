#!/usr/bin/env bash
# The outbox benchmark: defers N (default 1000) payments in headless Chromium with the network
# down, lets the service worker replay them to a local gateway (built with --profile server), and
# prints the time per deferral (median, p95) and the replay's throughput; it verifies the gateway
# holds exactly N payments. Usage: scripts/outbox-benchmark.sh [N]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
scripts/build-app.sh
cargo build --quiet --profile server -p tolem-gateway
N="${1:-1000}" TOLEM_DIST="$ROOT/dist" TOLEM_GATEWAY_BIN="$ROOT/target/server/tolem-gateway" \
  cargo run --quiet -p tolem-e2e --example outbox_benchmark
