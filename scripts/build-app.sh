#!/usr/bin/env bash
# Builds the release cashier app and its service worker into dist/, finished and precompressed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

# Trunk is told to stay offline: everything it needs is on PATH, and it must not try GitHub.
cargo fetch --quiet
# The module is split (issue 14 item 1): every screen but the main menu becomes chunks loaded
# on first use. scripts/split/wasm-bindgen says why it stands in for Trunk's wasm-bindgen.
TOLEM_WASM_BINDGEN="$(command -v wasm-bindgen)"
export TOLEM_WASM_BINDGEN
export TOLEM_SPLIT_DIR="$ROOT/target/wasm-split"
# The module is built by a pinned nightly (scripts/setup.sh installs it) that compiles the
# standard library with the app, optimised for size like the rest, and makes a panic abort at
# once instead of formatting its message for the console (-Cpanic=immediate-abort): measured
# 367.3 → 338.5 KiB for a first visit, brotli (issue 14; 360.1 with the standard library built
# but panics kept, 353.0 with panics kept without their file and line). The price: a panic
# shows in the browser's console as "RuntimeError: unreachable", without its message; the wasm
# tests and any debug build still print it. Cargo adds the target's rustflags given here to
# .cargo/config.toml's (its `erase_components` stays).
PATH="$ROOT/scripts/split:$PATH" \
  RUSTUP_TOOLCHAIN="$TOLEM_APP_TOOLCHAIN" \
  CARGO_UNSTABLE_BUILD_STD="std,panic_abort" \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" \
  trunk build --release --offline
# Trunk optimises the main module; the chunks get the same wasm-opt, read from index.html.
opt_level="$(sed -n 's/.*data-wasm-opt="\([^"]*\)".*/\1/p' index.html)"
opt_params="$(sed -n 's/.*data-wasm-opt-params="\([^"]*\)".*/\1/p' index.html)"
for chunk in "$TOLEM_SPLIT_DIR"/*.wasm; do
  [ "$(basename "$chunk")" = main.wasm ] && continue
  # shellcheck disable=SC2086 # the parameters are words
  wasm-opt "-O$opt_level" $opt_params "$chunk" -o "$chunk"
done
cargo run --quiet -p xtask -- finish-dist dist --split="$TOLEM_SPLIT_DIR"
