#!/usr/bin/env bash
# The app's start on a slow phone (issue 14): its long tasks, blocking time and the wasm V8
# compiles on first call, traced in Debian's Chromium with the processor really slowed 4× and the
# line throttled to slow 4G (tools/lighthouse/start-tasks.mjs), and when the app's screen replaces
# the first paint. Lighthouse (scripts/lighthouse.sh) simulates the same slowdown from one fast
# run, so its blocking time moves by more than a change does; this measures it. Then, the same
# way, how fast a returning cashier reaches the payment screens, which are a chunk of the module
# (tools/lighthouse/pay-open.mjs): the app opened at /pay, and a tap on Payments in the menu.
# Usage: scripts/start-tasks.sh [RUNS] (default 5).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS="${1:-5}"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
if [ ! -d tools/lighthouse/node_modules/puppeteer-core ]; then
  echo "start-tasks: installing puppeteer-core from npm (tools/lighthouse)"
  npm ci --prefix tools/lighthouse --no-audit --no-fund
fi
scripts/build-app.sh
# shellcheck source=scripts/serve-app.sh
source scripts/serve-app.sh
serve_app
CHROME_PATH=/usr/lib/chromium/chromium node tools/lighthouse/start-tasks.mjs "http://127.0.0.1:$port/" "$RUNS"
CHROME_PATH=/usr/lib/chromium/chromium node tools/lighthouse/pay-open.mjs "http://127.0.0.1:$port/" "$RUNS"
