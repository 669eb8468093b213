#!/usr/bin/env bash
# Builds Tolem and starts it: the gateway on http://127.0.0.1:8080 (override with --host/--port or
# TOLEM_HOST/TOLEM_PORT), an embedded SQLite database in data/ (TOLEM_DATABASE_URL to change),
# demo data, and the release app served by the gateway. Extra arguments go to the gateway.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/build-app.sh
cargo build --profile server -p tolem-gateway
exec target/server/tolem-gateway --demo --dist dist "$@"
