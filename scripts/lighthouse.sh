#!/usr/bin/env bash
# Lighthouse on the release app as a phone meets it (issue 14): mobile form factor, simulated
# slow 4G and a 4× slower CPU (Lighthouse's defaults), Debian's Chromium, served by the gateway
# (brotli, as in production). Prints the performance score and its metrics; the full report is
# left in target/lighthouse/. Usage: scripts/lighthouse.sh [RUNS] (default 3; the median counts).
# TLS=1 serves the app over HTTPS (HTTP/2), as a phone meets it; Lighthouse's simulation then
# counts each connection's TLS handshake too.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS="${1:-3}"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
if [ ! -x tools/lighthouse/node_modules/.bin/lighthouse ]; then
  echo "lighthouse: installing lighthouse from npm (tools/lighthouse)"
  npm ci --prefix tools/lighthouse --no-audit --no-fund
fi
scripts/build-app.sh
# shellcheck source=scripts/serve-app.sh
source scripts/serve-app.sh

out="$ROOT/target/lighthouse"
rm -rf "$out" && mkdir -p "$out"
serve_app "$out/gateway.log"

for run in $(seq 1 "$RUNS"); do
  # The throw-away certificate of TLS=1 is trusted by nothing; the flag only matters then.
  CHROME_PATH=/usr/lib/chromium/chromium tools/lighthouse/node_modules/.bin/lighthouse \
    "$url/" --quiet --only-categories=performance \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-background-networking --disable-component-update --disable-sync --no-first-run --ignore-certificate-errors" \
    --output=json --output-path="$out/run-$run.json"
done

python3 - "$out" "$RUNS" <<'PY'
import json, os, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
reports = [json.load(open(f"{out}/run-{i}.json")) for i in range(1, runs + 1)]
def median(f):
    return statistics.median(f(r) for r in reports)
audit = lambda key: (lambda r: r["audits"][key]["numericValue"])
over = "HTTPS, HTTP/2" if os.environ.get("TLS") == "1" else "plain HTTP/1.1"
print(f"lighthouse mobile (simulated slow 4G, 4x CPU, {over}), median of {runs} runs:")
print(f"  performance score        {median(lambda r: r['categories']['performance']['score'] * 100):.0f}   (goal >= 98)")
print(f"  first contentful paint   {median(audit('first-contentful-paint')) / 1000:.2f} s")
print(f"  largest contentful paint {median(audit('largest-contentful-paint')) / 1000:.2f} s   (goal <= 2.0 s)")
print(f"  time to interactive      {median(audit('interactive')) / 1000:.2f} s   (goal <= 2.0 s)")
print(f"  total blocking time      {median(audit('total-blocking-time')):.0f} ms")
print(f"  cumulative layout shift  {median(audit('cumulative-layout-shift')):.3f}")
print(f"  bytes transferred        {median(audit('total-byte-weight')) / 1024:.1f} KiB")
PY
