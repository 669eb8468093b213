#!/usr/bin/env bash
# Builds Tolem and starts it: the gateway on http://127.0.0.1:8080 (override with --host/--port or
# TOLEM_HOST/TOLEM_PORT), an embedded SQLite database in data/ (TOLEM_DATABASE_URL to change),
# demo data, the release app served by the gateway, and a provider emulator (OSMP) on
# 127.0.0.1:8091 (TOLEM_EMULATOR_PORT) that the demo providers deliver their payments to.
# Extra arguments go to the gateway.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/build-app.sh
cargo build --profile server -p tolem-gateway -p tolem-providers

# The emulator: every well-formed account exists, except the ones below (the provider refuses a
# payment to them, and the gateway refunds it); a name for the check answer on one number.
EMULATOR_PORT="${TOLEM_EMULATOR_PORT:-8091}"
mkdir -p data
rm -f data/emulator.out
target/server/tolem-provider-emulator --listen "127.0.0.1:${EMULATOR_PORT}" --open \
  --account "7011234567=Иванов И." \
  --missing 7019999999 --missing 7059999999 --missing 7079999999 --missing 7009999999 \
  --missing 1234567890 --missing 999999 > data/emulator.out 2> data/emulator.log &
EMULATOR_PID=$!
trap 'kill "$EMULATOR_PID" 2>/dev/null || true' EXIT
# Wait for its "listening on" line, not for a fixed time.
for _ in $(seq 1 100); do
  grep -q "listening on" data/emulator.out 2>/dev/null && break
  kill -0 "$EMULATOR_PID" 2>/dev/null || { cat data/emulator.log >&2; exit 1; }
  sleep 0.1
done
grep -q "listening on" data/emulator.out || { echo "provider emulator did not start" >&2; exit 1; }
echo "Provider emulator (OSMP): http://127.0.0.1:${EMULATOR_PORT}/osmp — unknown accounts: 701 999 99 99, 705 999 99 99, 707 999 99 99, 700 999 99 99"

target/server/tolem-gateway --demo --dist dist \
  --demo-provider-url "http://127.0.0.1:${EMULATOR_PORT}/osmp" "$@"
