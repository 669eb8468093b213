# Sourced by the measuring scripts (scripts/lighthouse.sh, scripts/start-tasks.sh): starts the
# debug gateway serving dist/ on a fresh database and a free port, and waits until it answers.
# `serve_app [LOG]` sets `port` and `url` (the app's address); the gateway's log goes to LOG, or
# next to its data. With TLS=1 it serves HTTPS (HTTP/2) with a throw-away certificate from
# `lan-certificate`, which a browser must be told to accept (scripts/lighthouse.sh does). The
# gateway and its data go away when the script exits. The debug gateway, which the test command
# builds anyway, serves the app's precompressed files from disk, so its own speed does not show
# in what these scripts measure.
# shellcheck shell=bash

serve_app() {
  cargo build --quiet -p tolem-gateway
  serve_app_data=$(mktemp -d)
  local log="${1:-$serve_app_data/gateway.log}"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local tls=()
  url="http://127.0.0.1:$port"
  if [[ "${TLS:-}" == 1 ]]; then
    target/debug/tolem-gateway lan-certificate --dir "$serve_app_data/lan" >/dev/null
    tls=(--tls-cert "$serve_app_data/lan/server.crt" --tls-key "$serve_app_data/lan/server.key")
    url="https://127.0.0.1:$port"
  fi
  target/debug/tolem-gateway --dist dist --port "$port" --database-url "sqlite://$serve_app_data/tolem.db" \
    --gateway-key-file "$serve_app_data/gateway.key" --mail-dir "$serve_app_data/mail" "${tls[@]}" > "$log" 2>&1 &
  serve_app_gateway=$!
  trap 'kill $serve_app_gateway 2>/dev/null || true; rm -rf "$serve_app_data"' EXIT
  for _ in $(seq 1 300); do
    curl -kfsS "$url/api/health" >/dev/null 2>&1 && return 0
    kill -0 "$serve_app_gateway" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "serve-app: the gateway did not answer on port $port (see $log)" >&2
  exit 1
}
