#!/usr/bin/env bash
# Installs what building and testing Tolem needs, from crates.io, npm and Debian only.
# Idempotent: each step first checks what is there, so a second run installs nothing.
# Sourced by run.sh and test.sh (it exports PATH, CHROMEDRIVER and GECKODRIVER for them); runnable alone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

TRUNK_VERSION="0.21.14"
# wasm-bindgen's CLI must match the library in Cargo.lock exactly, or Trunk tries to download one.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock")"

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# The wasm target (rust-toolchain.toml lists it too; this covers rustups that do not add it).
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The release app's toolchain (scripts/build-app.sh says why): a pinned nightly with the
# standard library's source, which it compiles with the app. Everything else builds and tests
# on rust-toolchain.toml's stable toolchain. Its standard library's own dependencies are
# fetched too, since Trunk builds offline.
APP_TOOLCHAIN="nightly-2026-05-20"
if ! rustup component list --toolchain "$APP_TOOLCHAIN" --installed 2>/dev/null | grep -qx rust-src; then
  say "installing Rust $APP_TOOLCHAIN with rust-src (the release app's build; about a minute)"
  rustup toolchain install "$APP_TOOLCHAIN" --profile minimal --component rust-src
fi
APP_STD_MANIFEST="$(rustc "+$APP_TOOLCHAIN" --print sysroot)/lib/rustlib/src/rust/library/Cargo.toml"
cargo "+$APP_TOOLCHAIN" fetch --quiet --manifest-path "$APP_STD_MANIFEST"
export TOLEM_APP_TOOLCHAIN="$APP_TOOLCHAIN"

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION (about 8 minutes on 2 cores)"
  cargo install "trunk@$TRUNK_VERSION" --locked
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 5 minutes)"
  # Not --locked: one of its locked dependencies is no longer in the registry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# wasm-split (issue 14 item 1): splits the release module into the app and its lazy chunks
# (scripts/split/wasm-bindgen). xtask finish-dist reads the loader it writes: keep the version.
WASM_SPLIT_VERSION="0.2.4"
if ! cargo install --list | grep -x "wasm_split_cli_support v$WASM_SPLIT_VERSION:" >/dev/null; then
  say "installing wasm-split-cli $WASM_SPLIT_VERSION (about 5 minutes)"
  cargo install wasm_split_cli_support --version "$WASM_SPLIT_VERSION" --features build-binary --locked
fi

# wasm-opt from npm's binaryen: Debian's older one produces modules that fail in the browser;
# terser minifies the JS glue (xtask/src/minify.rs).
if ! "$ROOT/tools/npm/node_modules/.bin/wasm-opt" --version >/dev/null 2>&1 \
  || ! "$ROOT/tools/npm/node_modules/.bin/terser" --version >/dev/null 2>&1; then
  say "installing binaryen (wasm-opt) and terser from npm"
  npm ci --prefix "$ROOT/tools/npm" --no-audit --no-fund
fi

if ! dpkg -s chromium chromium-driver >/dev/null 2>&1; then
  say "installing chromium and chromium-driver from Debian"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
fi

# PostgreSQL's server (Debian): the gateway's suites run against a throw-away cluster too
# (scripts/postgres.sh), beside the embedded SQLite.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  say "installing postgresql from Debian (the gateway's PostgreSQL test runs)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql
fi

# Firefox ESR (Debian) and its WebDriver, geckodriver (crates.io): the browser without
# Background Sync, in which the end-to-end suite runs the offline shell, a payment and the
# replay of deferred payments.
GECKODRIVER_VERSION="0.37.1"
if ! dpkg -s firefox-esr >/dev/null 2>&1; then
  say "installing firefox-esr from Debian (end-to-end tests in Firefox)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq firefox-esr
fi
case "$("$HOME/.cargo/bin/geckodriver" --version 2>/dev/null || true)" in
  "geckodriver $GECKODRIVER_VERSION"[[:space:]]*) ;;
  *) say "installing geckodriver $GECKODRIVER_VERSION (about 3 minutes)"
     cargo install "geckodriver@$GECKODRIVER_VERSION" --locked ;;
esac

# HAProxy (Debian): the balancer in front of three gateways in the end-to-end cluster test
# (tests/e2e/tests/three_gateways.rs), run by the test itself as a child process.
if ! command -v haproxy >/dev/null 2>&1 && ! [ -x /usr/sbin/haproxy ]; then
  say "installing haproxy from Debian (the end-to-end test of several gateways)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq haproxy
fi

# aiosmtpd (PyPI): the real SMTP server the gateway's mail tests start.
python3 -c 'import aiosmtpd' 2>/dev/null || { say "installing aiosmtpd from PyPI (gateway mail tests)"; PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check aiosmtpd; }

# schemathesis (PyPI), pinned, in its own venv: the API contract test (scripts/contract.sh)
# fuzzes a live gateway against its OpenAPI description.
SCHEMATHESIS_VERSION="4.32.5"
if [ "$("$ROOT/tools/schemathesis/bin/schemathesis" --version 2>/dev/null | grep -o '[0-9][0-9.]*$')" != "$SCHEMATHESIS_VERSION" ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into tools/schemathesis (API contract test)"
  if ! python3 -m venv --clear "$ROOT/tools/schemathesis"; then
    # Debian's python3 makes venvs only with python3-venv.
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv
    python3 -m venv --clear "$ROOT/tools/schemathesis"
  fi
  "$ROOT/tools/schemathesis/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

export PATH="$ROOT/tools/npm/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export GECKODRIVER="${GECKODRIVER:-$HOME/.cargo/bin/geckodriver}"
