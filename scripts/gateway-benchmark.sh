#!/usr/bin/env bash
# The gateway benchmark (issue 14): the release gateway on SQLite and on PostgreSQL, N pre-signed
# pay requests (default 5 000) from 32 concurrent connections; prints payments/s and latency
# p50/p95/p99 next to this machine's limits measured in the same run (Ed25519 checks and
# signatures per second per core; durable commits per second of each database), and the ratios.
# Usage: scripts/gateway-benchmark.sh [N]   (tests/e2e/examples/gateway_benchmark.rs)
# DATABASES=sqlite or DATABASES=postgres runs only that one. STATEMENTS=1 also prints where the
# PostgreSQL server's time went during the measured requests (pg_stat_statements; it costs the
# server a little, so leave it off when comparing payments/s); STATEMENTS=40 lists 40 statements
# instead of 15. PROVIDER_DELAY_MS=100 has the provider emulator answer each delivery 100 ms
# late, as a provider across a network does (default 0: at once, so the deliveries take every
# processor cycle they can get beside the payments). PROVIDER_TEMPORARY_RATE=1 has it answer
# every payment "later" (OSMP 90), as a provider in an outage does: each delivery attempt is then
# a retry to record beside the payments (the drain is then "not measured": nothing is delivered).
# MIXED=1 sends the payments to four providers in turn, under daily limits on every point and
# dealer (default: all to one provider, no limits).
# DEALERS=4 spreads the payments over four dealers, a point and a phone each (default 1: every
# payment waits for the one dealer's row, the hardest case for the writer's pace).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
# The harness starts the gateway serving an app build (any will do: the benchmark only pays); the
# key is certified in the console by headless Chromium, as the dealer's admin would.
[[ -f dist/index.html ]] || scripts/build-app.sh
cargo build --quiet --profile server -p tolem-gateway
if [[ -n "${STATEMENTS:-}" ]]; then
  export POSTGRES_EXTRA_OPTIONS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
fi
N="${1:-5000}" TOLEM_DIST="$ROOT/dist" TOLEM_GATEWAY_BIN="$ROOT/target/server/tolem-gateway" \
  cargo run --quiet --profile server -p tolem-e2e --example gateway_benchmark
