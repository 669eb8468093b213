#!/usr/bin/env bash
# Builds Tolem and starts it: the gateway on http://127.0.0.1:8080 (override with --host/--port or
# TOLEM_HOST/TOLEM_PORT), an embedded SQLite database in data/ (TOLEM_DATABASE_URL to change),
# demo data, the release app served by the gateway, and a provider emulator (OSMP) on
# 127.0.0.1:8091 (TOLEM_EMULATOR_PORT) that the demo providers deliver their payments to, and
# a payment-service emulator (TipTop Pay's protocol, with its hosted card page and 3-D Secure) on
# 127.0.0.1:8092 (TOLEM_CARD_EMULATOR_PORT) that card bills are paid through.
# Extra arguments go to the gateway (change its port with TOLEM_PORT, so the card emulator's
# notifications find it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/build-app.sh
cargo build --profile server -p tolem-gateway -p tolem-providers -p tolem-card-payments

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

# The payment service for card bills: its notifications go to the gateway's /api/card/tiptop.
GATEWAY_URL="http://127.0.0.1:${TOLEM_PORT:-8080}"
CARD_PORT="${TOLEM_CARD_EMULATOR_PORT:-8092}"
CARD_SECRET="tiptop-demo-secret"
rm -f data/card-emulator.out
target/server/tolem-card-emulator --listen "127.0.0.1:${CARD_PORT}" \
  --public-url "http://127.0.0.1:${CARD_PORT}" --tiptop-secret "$CARD_SECRET" \
  --tiptop-notify-url "${GATEWAY_URL}/api/card/tiptop" \
  > data/card-emulator.out 2> data/card-emulator.log &
CARD_PID=$!
trap 'kill "$EMULATOR_PID" "$CARD_PID" 2>/dev/null || true' EXIT

# Wait for each emulator's "listening on" line, not for a fixed time.
wait_listening() { # name out-file log-file pid
  for _ in $(seq 1 100); do
    grep -q "listening on" "$2" 2>/dev/null && return 0
    kill -0 "$4" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.1
  done
  echo "$1 did not start" >&2
  exit 1
}
wait_listening "provider emulator" data/emulator.out data/emulator.log "$EMULATOR_PID"
wait_listening "payment-service emulator" data/card-emulator.out data/card-emulator.log "$CARD_PID"
echo "Provider emulator (OSMP): http://127.0.0.1:${EMULATOR_PORT}/osmp — unknown accounts: 701 999 99 99, 705 999 99 99, 707 999 99 99, 700 999 99 99"
echo "Payment service emulator (TipTop Pay): http://127.0.0.1:${CARD_PORT} — test cards: 4242 4242 4242 4242 (3-D Secure, paid), 4111 1111 1111 1111 (paid), 4012 8888 8888 1881 (insufficient funds); any future expiry, any CVC"

TOLEM_CARD_SECRET="$CARD_SECRET" target/server/tolem-gateway --demo --dist dist \
  --demo-provider-url "http://127.0.0.1:${EMULATOR_PORT}/osmp" \
  --card-service tiptop --card-api-url "http://127.0.0.1:${CARD_PORT}" \
  --card-login test_api_00000000000000000000001 "$@"
