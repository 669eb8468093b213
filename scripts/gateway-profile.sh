#!/usr/bin/env bash
# Where the gateway's processor time goes under the gateway benchmark (issue 14): builds the
# release gateway with frame pointers (in target/profile-fp, so the normal builds stay as they
# are), runs `scripts/gateway-benchmark.sh`'s harness on SQLite with `perf record` attached to the
# gateway, and prints the functions that take the most time themselves and the gateway's own
# functions with everything they call. Also prints context switches per payment (`perf stat`).
# Usage: scripts/gateway-profile.sh [N]   (default 8000 payments, after the harness's warm-up)
# DATABASES=postgres profiles the gateway on PostgreSQL instead (N 40000 measures it well).
# Needs Linux `perf` (Debian: linux-perf) and a kernel that lets this user record its own
# processes (`/proc/sys/kernel/perf_event_paranoid` at 2 or less).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${1:-8000}"
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

if ! command -v perf >/dev/null; then
  echo "gateway-profile: needs perf (Debian: apt-get install linux-perf)" >&2
  exit 1
fi
[[ -f dist/index.html ]] || scripts/build-app.sh

out="$ROOT/target/profile-fp/report"
mkdir -p "$out"
# Frame pointers make the call stacks readable without debug information (perf --call-graph=fp).
CARGO_TARGET_DIR="$ROOT/target/profile-fp" RUSTFLAGS="-C force-frame-pointers=yes" \
  cargo build --quiet --profile server -p tolem-gateway
cargo build --quiet --profile server -p tolem-e2e --example gateway_benchmark

# The harness starts the gateway itself: a wrapper attaches perf to its own process id, which
# the gateway keeps across exec, and perf ends when the harness stops the gateway.
wrapper="$out/gateway-under-perf.sh"
cat > "$wrapper" <<EOF
#!/usr/bin/env bash
perf record --quiet -F 999 --call-graph=fp -p \$\$ -o "$out/perf.data" >"$out/perf-record.log" 2>&1 &
perf stat -e context-switches,task-clock -p \$\$ -o "$out/perf-stat.txt" >/dev/null 2>&1 &
# Until both are attached: the warm-up that follows is not measured by the harness anyway.
sleep 1
exec "$ROOT/target/profile-fp/server/tolem-gateway" "\$@"
EOF
chmod +x "$wrapper"

N="$N" DATABASES="${DATABASES:-sqlite}" TOLEM_DIST="$ROOT/dist" TOLEM_GATEWAY_BIN="$wrapper" \
  "$ROOT/target/server/examples/gateway_benchmark" | tee "$out/benchmark.txt"
# perf writes its files when the gateway it follows has gone.
for _ in $(seq 1 100); do
  [[ -s "$out/perf-stat.txt" ]] && ! pgrep -f "perf record.*$out" >/dev/null && break
  sleep 0.2
done

# The harness's header names its warm-up, which the gateway served too.
warm_up=$(sed -n 's/.*after a warm-up of \([0-9]*\).*/\1/p' "$out/benchmark.txt")
payments=$((N + warm_up))
switches=$(awk '/context-switches/ { gsub(/[^0-9]/, "", $1); print $1 }' "$out/perf-stat.txt")
echo
echo "context switches in the gateway: $switches for $payments payments (warm-up included):" \
  "$((switches / payments)) a payment"
echo
echo "most time in the function itself (% of the gateway's samples):"
perf report -i "$out/perf.data" --no-children --sort symbol -g none --percent-limit 0.7 2>/dev/null |
  grep -v '^#' | grep -v '^$' | sed 's/  */ /g' | cut -c1-150 | head -30
echo
echo "the gateway's own functions with what they call (% of the gateway's samples):"
perf report -i "$out/perf.data" --children --sort symbol -g none --percent-limit 1 2>/dev/null |
  grep -v '^#' | grep 'tolem_' | grep -v '{{closure}}::{{closure}}' | sed 's/  */ /g' |
  cut -c1-150 | head -40
echo
echo "full profile: perf report -i $out/perf.data"
