#!/usr/bin/env bash
# The API contract test (issue 15): a live gateway fuzzed by schemathesis against its own
# OpenAPI description (/api/openapi.json). Fails on any 5xx answer and on any answer that does
# not match the description. Bounded and seeded, so a run takes the same few minutes each time.
#
# Uses target/debug/tolem-gateway on a throw-away SQLite database and
# a free port, and schemathesis from the venv scripts/setup.sh makes in tools/schemathesis.
#   TOLEM_CONTRACT_EXAMPLES   test cases per operation and phase (default 40)
#   TOLEM_CONTRACT_SEED       hypothesis seed (default 15)
#   TOLEM_CONTRACT_CHECKS     schemathesis checks (default: no 5xx, answers match the schema)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
schemathesis="$ROOT/tools/schemathesis/bin/schemathesis"
[ -x "$schemathesis" ] || { echo "contract.sh: no schemathesis: run scripts/setup.sh" >&2; exit 1; }
gateway="$ROOT/target/debug/tolem-gateway"
# Built (a no-op when current) so the contract is checked against this source, not an old binary.
cargo build --quiet -p tolem-gateway

work=$(mktemp -d /tmp/tolem-contract.XXXXXX)
pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
# A stand-in for the built app: without an index.html the gateway answers every page with 503
# ("not built"), which is right for a person but not what this test is about.
mkdir -p "$work/dist"
echo '<!doctype html><title>Tolem</title>' >"$work/dist/index.html"
# A clean environment for the gateway: no TOLEM_* setting of the caller's shell leaks in.
# --demo: a provider catalogue to serve, as on a real gateway.
env $(env | grep -o '^TOLEM_[A-Z0-9_]*' | sed 's/^/-u /') \
  RUST_LOG="${RUST_LOG:-info}" \
  "$gateway" --host 127.0.0.1 --port "$port" \
  --database-url "sqlite://$work/tolem.db" --gateway-key-file "$work/gateway.key" \
  --dist "$work/dist" --demo >"$work/gateway.log" 2>&1 &
pid=$!

# Up when /api/health answers ok (migrations and the demo seed done), or fail with its log.
for _ in $(seq 1 600); do
  if curl -fsS "$url/api/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "contract.sh: the gateway stopped:" >&2; cat "$work/gateway.log" >&2; exit 1
  fi
  sleep 0.1
done
curl -fsS "$url/api/health" >/dev/null || { echo "contract.sh: no /api/health after 60 s" >&2; cat "$work/gateway.log" >&2; exit 1; }

# Not stateful (no sequence of calls can get past a signature it cannot make); every other
# phase: the description's own examples, the coverage of each field's edges, then fuzzing.
status=0
# From the throw-away directory: schemathesis keeps a cache of past failures in the working
# directory and replays them, which would make one run depend on the one before.
(cd "$work" && "$schemathesis" run "$url/api/openapi.json" \
  --checks "${TOLEM_CONTRACT_CHECKS:-not_a_server_error,response_schema_conformance}" \
  --phases examples,coverage,fuzzing \
  --max-examples "${TOLEM_CONTRACT_EXAMPLES:-40}" \
  --seed "${TOLEM_CONTRACT_SEED:-15}" \
  --workers 2 \
  --request-timeout 20 \
  --generation-database none \
  --suppress-health-check all \
  --no-color) || status=$?

# A 5xx schemathesis did not see (a failure inside a handler that still answered) is logged.
if grep -q ' ERROR ' "$work/gateway.log"; then
  echo "contract.sh: the gateway logged errors:" >&2
  grep ' ERROR ' "$work/gateway.log" | head -20 >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  mkdir -p "$ROOT/target"
  cp "$work/gateway.log" "$ROOT/target/contract-gateway.log"
  echo "contract.sh: the gateway's log is in target/contract-gateway.log" >&2
fi
exit "$status"
