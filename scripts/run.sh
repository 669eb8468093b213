#!/usr/bin/env bash
# Builds Tolem and starts it: the gateway on http://127.0.0.1:8080 (override with --host/--port or
# TOLEM_HOST/TOLEM_PORT), an embedded SQLite database in data/ (TOLEM_DATABASE_URL to change),
# demo data, the release app served by the gateway, and a provider emulator (OSMP) on
# 127.0.0.1:8091 (TOLEM_EMULATOR_PORT) that the demo providers deliver their payments to, and
# a payment-service emulator (TipTop Pay's protocol, with its hosted card page and 3-D Secure) on
# 127.0.0.1:8092 (TOLEM_CARD_EMULATOR_PORT) that card bills are paid through.
# Extra arguments go to the gateway (change its port with TOLEM_PORT, so the card emulator's
# notifications find it).
#
# scripts/run.sh --lan: for trying Tolem on a phone on the same network. A phone's browser gives
# the app its service worker and WebCrypto only over HTTPS, so the gateway serves HTTPS on every
# address of this machine (0.0.0.0, port TOLEM_PORT, default 8443) with a certificate signed by
# a local certificate authority made once and kept in data/lan/ (`tolem-gateway lan-certificate`;
# the certificate is made again when this machine's addresses change), redirects plain HTTP on
# port TOLEM_HTTP_REDIRECT_PORT (default 8080) to HTTPS, and prints the app's URL as a QR code and
# how to trust the authority on Android and iOS. The emulators stay on 127.0.0.1; the card
# emulator notifies the gateway over HTTPS on 127.0.0.1, trusting the same authority.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LAN=0
if [[ "${1:-}" == "--lan" ]]; then
  LAN=1
  shift
fi
scripts/build-app.sh
cargo build --profile server -p tolem-gateway -p tolem-providers -p tolem-card-payments

GATEWAY_PORT="${TOLEM_PORT:-8080}"
GATEWAY_URL="http://127.0.0.1:${GATEWAY_PORT}"
NOTIFY_CA=()
GATEWAY_LAN=()
if [[ "$LAN" == 1 ]]; then
  GATEWAY_PORT="${TOLEM_PORT:-8443}"
  REDIRECT_PORT="${TOLEM_HTTP_REDIRECT_PORT:-8080}"
  # This machine's addresses on its networks (no loopback, no link-local); the first IPv4 one
  # goes into the QR code.
  read -r -a ADDRESSES <<< "$(hostname -I 2>/dev/null || true)"
  PHONE_IP=""
  for ip in "${ADDRESSES[@]}"; do
    if [[ "$ip" != *:* ]]; then PHONE_IP="$ip"; break; fi
  done
  if [[ -z "$PHONE_IP" && ${#ADDRESSES[@]} -gt 0 ]]; then PHONE_IP="[${ADDRESSES[0]}]"; fi
  if [[ -z "$PHONE_IP" ]]; then
    echo "run.sh --lan: this machine has no network address (hostname -I printed none); join the phone's network first" >&2
    exit 1
  fi
  IP_ARGS=()
  for ip in "${ADDRESSES[@]}"; do IP_ARGS+=(--ip "$ip"); done
  target/server/tolem-gateway lan-certificate --dir data/lan "${IP_ARGS[@]}"
  GATEWAY_URL="https://127.0.0.1:${GATEWAY_PORT}"
  NOTIFY_CA=(--notify-ca-file data/lan/ca.crt)
  GATEWAY_LAN=(--host 0.0.0.0 --port "$GATEWAY_PORT"
    --tls-cert data/lan/server.crt --tls-key data/lan/server.key
    --http-redirect-port "$REDIRECT_PORT" --lan-ca-file data/lan/ca.crt
    --public-url "https://${PHONE_IP}:${GATEWAY_PORT}")
fi

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
CARD_PORT="${TOLEM_CARD_EMULATOR_PORT:-8092}"
CARD_SECRET="tiptop-demo-secret"
rm -f data/card-emulator.out
target/server/tolem-card-emulator --listen "127.0.0.1:${CARD_PORT}" \
  --public-url "http://127.0.0.1:${CARD_PORT}" --tiptop-secret "$CARD_SECRET" \
  --tiptop-notify-url "${GATEWAY_URL}/api/card/tiptop" "${NOTIFY_CA[@]}" \
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
  --card-login test_api_00000000000000000000001 --card-test "${GATEWAY_LAN[@]}" "$@"
