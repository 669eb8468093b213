#!/usr/bin/env bash
# The app's start on a slow phone's processor (issue 14): its long tasks, blocking time and the
# wasm V8 compiles on first call, traced in Debian's Chromium with the processor really slowed 4×
# (tools/lighthouse/start-tasks.mjs). Lighthouse (scripts/lighthouse.sh) simulates the same
# slowdown from one fast run, so its blocking time moves by more than a change does; this
# measures it. Usage: scripts/start-tasks.sh [RUNS] (default 5).
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
cargo build --quiet -p tolem-gateway

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/debug/tolem-gateway --dist dist --port "$port" --database-url "sqlite://$data/tolem.db" \
  --gateway-key-file "$data/gateway.key" --mail-dir "$data/mail" > "$data/gateway.log" 2>&1 &
gateway=$!
trap 'kill $gateway 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break
  kill -0 "$gateway" 2>/dev/null || { cat "$data/gateway.log" >&2; exit 1; }
  sleep 0.1
done
CHROME_PATH=/usr/lib/chromium/chromium node tools/lighthouse/start-tasks.mjs "http://127.0.0.1:$port/" "$RUNS"
