#!/usr/bin/env bash
# Runs every Tolem test suite; installs what they need first (scripts/setup.sh).
#   0. rustfmt and clippy on every crate, native and wasm
#   1. native crates (protocol, gateway, build tools): cargo test; then the gateway's suites
#      again on a real PostgreSQL server (a throw-away cluster this script starts and stops);
#      then the API contract: schemathesis fuzzes a live gateway against /api/openapi.json
#   2. browser code (app, service worker): wasm-bindgen-test in headless Chromium (what the
#      cashiers' Android phones run), then again in headless Firefox
#   3. end to end: the release app, its service worker and a real gateway in headless Chromium
#      (and Firefox, for the tests that say so)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
start=$(date +%s)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format and lints (native and wasm, warnings are errors)"
cargo fmt --all --check
cargo clippy --workspace --exclude tolem --exclude tolem-sw --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown -p tolem -p tolem-sw -p tolem-outbox --all-targets -- -D warnings

step "native tests"
cargo test --workspace --exclude tolem --exclude tolem-sw --exclude tolem-e2e

step "the gateway's suites on PostgreSQL (throw-away cluster)"
pg_dir="/tmp/tolem-test-pg-$$"
trap 'scripts/postgres.sh stop "$pg_dir"' EXIT
pg_url=$(scripts/postgres.sh start "$pg_dir")
# Every test empties that one database, so one test at a time.
TOLEM_TEST_POSTGRES_URL="$pg_url" cargo test -p tolem-gateway -- --test-threads=1
scripts/postgres.sh stop "$pg_dir"
trap - EXIT

step "API contract (schemathesis against a live gateway and its /api/openapi.json)"
scripts/contract.sh

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# wasm-bindgen-test-runner takes the first driver it finds named, GECKODRIVER before
# CHROMEDRIVER (setup.sh exports both): each run names one.
step "browser tests (wasm-bindgen-test, headless Chromium)"
env -u GECKODRIVER cargo test --target wasm32-unknown-unknown -p tolem -p tolem-sw -p tolem-outbox
step "browser tests (wasm-bindgen-test, headless Firefox)"
env -u CHROMEDRIVER cargo test --target wasm32-unknown-unknown -p tolem -p tolem-sw -p tolem-outbox

step "end-to-end tests (release build, real gateway, headless Chromium)"
scripts/build-app.sh
# What a first visit downloads, against the budget in xtask/src/size_report.rs (issue 14).
cargo run --quiet -p xtask -- size-report dist --check
cargo build -p tolem-gateway
TOLEM_DIST="$ROOT/dist" TOLEM_GATEWAY_BIN="$ROOT/target/debug/tolem-gateway" \
  cargo test -p tolem-e2e -- --test-threads=1

step "all suites passed in $(( $(date +%s) - start )) s"
