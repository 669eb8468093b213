#!/usr/bin/env bash
# Prints deliveries per second from the gateway to a provider emulator on this machine, the
# queue's latency (p50/p95), and the gateway's own accept rate, side by side in one run
# (gateway/tests/delivery_benchmark.rs). `scripts/delivery-benchmark.sh [N]`: N payments per
# phase (default 2 000). Release build: the numbers are the product's, not a debug build's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOLEM_BENCH_PAYMENTS="${1:-2000}" cargo test --release -p tolem-gateway --test delivery_benchmark \
  -- --ignored --nocapture --test-threads=1
