#!/usr/bin/env bash
# How fast a returning cashier reaches the payment screens, which are a chunk of the module
# (issue 14, src/pages/lazy.rs): opened at /pay, and a tap on Payments in the menu, with the
# processor really slowed 4× and the line throttled to slow 4G (tools/lighthouse/pay-open.mjs).
# Usage: scripts/pay-open.sh [RUNS] (default 5).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS="${1:-5}"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
if [ ! -d tools/lighthouse/node_modules/puppeteer-core ]; then
  echo "pay-open: installing puppeteer-core from npm (tools/lighthouse)"
  npm ci --prefix tools/lighthouse --no-audit --no-fund
fi
scripts/build-app.sh
# shellcheck source=scripts/serve-app.sh
source scripts/serve-app.sh
serve_app
CHROME_PATH=/usr/lib/chromium/chromium node tools/lighthouse/pay-open.mjs "http://127.0.0.1:$port/" "$RUNS"
