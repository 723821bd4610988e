#!/usr/bin/env bash
# Profile `wasmwatch serve` under the ingest load with py-spy (pip install py-spy into .venv).
#
#   bench/ingest/profile.sh bulk|single [SECONDS] [CONNECTIONS]
#
# Starts a server on a fresh data dir, drives it with wrk + ingest.lua, records py-spy raw
# (collapsed) stacks of every thread for SECONDS (default 12) in the middle of the load, and
# prints the top frames by self and inclusive time (bench/ingest/stacks.py). Output in
# $OUT (default /tmp/wwprofile-$$): server.log, wrk.out, LOAD.raw (flamegraph-ready).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOAD="${1:-bulk}"
SECS="${2:-12}"
OUT="${OUT:-/tmp/wwprofile-$$}"
mkdir -p "$OUT"
if [ "$LOAD" = bulk ]; then CONNS="${3:-64}"; PER=1000; else CONNS="${3:-128}"; PER=1; fi
PORT=${PORT:-$("$ROOT/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}

"$ROOT/.venv/bin/python" - "$OUT" <<'EOF'
import sys, pathlib
sys.path.insert(0, str(pathlib.Path("bench/ingest").resolve()))
import run
run.write_templates(pathlib.Path(sys.argv[1]))
EOF

WASMWATCH_INGEST_KEY=benchkey WASMWATCH_ADMIN_TOKEN=t WASMWATCH_RATE_LIMIT=100000000 \
  WASMWATCH_KEY_RATE_LIMIT=0 WASMWATCH_ADDRESS_RATE_LIMIT=0 \
  "$ROOT/.venv/bin/wasmwatch" serve --port "$PORT" --data-dir "$OUT/data" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
RUN=$((SECS + 6))
wrk -t1 -c"$CONNS" -d"$((RUN + 3))s" --timeout 30s -s "$ROOT/bench/ingest/ingest.lua" \
  "http://127.0.0.1:$PORT" -- "$OUT/$LOAD.tmpl" p "$RUN" "/api/v1/ingest?key=benchkey" "$PER" \
  >"$OUT/wrk.out" 2>&1 &
WRK=$!
sleep 3
# NATIVE=1 adds C/Rust frames (DuckDB, msgspec, granian); waiting threads then show too
"$ROOT/.venv/bin/py-spy" record -p "$SERVER" -d "$SECS" -r 250 --threads \
  $([ "${NATIVE:-0}" = 1 ] && echo --native) -f raw -o "$OUT/$LOAD.raw" >/dev/null
wait $WRK
grep WWRESULT "$OUT/wrk.out" | cut -c1-400
"$ROOT/.venv/bin/python" "$ROOT/bench/ingest/stacks.py" "$OUT/$LOAD.raw"
echo "profile in $OUT"
