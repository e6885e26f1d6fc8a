#!/usr/bin/env bash
# Round trips to PostgreSQL per append, counted rather than timed (load does not change them):
# one `warroom serve` on PostgreSQL (and a second replica beside it), strace on the first
# counting the messages it sends to the database (each send is followed by a wait for the
# answer: a round trip) while the floor tool appends with 1 writer, then with 8.
# Counts everything the server sends: the append path (token lookup and the write transaction),
# its fan-out tailer and the pool's pings.
#
# Usage (from the project root, after `cargo build --release`; needs strace):
#   WARROOM_BENCH_PG=postgres://warroom:warroom@127.0.0.1:5432/warroom_x benches/pg_round_trips.sh
# The database's warroom tables are DROPPED. Env: BIN, N (appends per run, default 400).
set -u
PG=${WARROOM_BENCH_PG:?set WARROOM_BENCH_PG to a PostgreSQL URL whose warroom tables may be dropped}
FT=${FLOOR_TARGET:-${TMPDIR:-/tmp}/warroom-floor-target}
cargo build --release -q --manifest-path "${FLOOR_SRC:-$(cd "$(dirname "$0")/../../shared/bench/sse-floor" 2>/dev/null && pwd)}/Cargo.toml" --target-dir "$FT" || exit 1
FLOOR=$FT/release/sse_fanout
BIN=${BIN:-$(pwd)/target/release/warroom}
N=${N:-400}
T=$(mktemp -d /tmp/pgrt.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export HOME=$T WARROOM_DATA_DIR=$T/data WARROOM_CONFIG_DIR=$T/config
mkdir -p "$WARROOM_CONFIG_DIR"
printf '[serve.limits]\nwrites_per_sec = 1000000\nwrite_burst = 1000000\nevents_per_sec = 1000000\nevent_burst = 1000000\nbytes_per_sec = 1000000000\nbyte_burst = 1000000000\n' >"$WARROOM_CONFIG_DIR/config.toml"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
psql "$PG" -qc "SET client_min_messages = warning; DROP TABLE IF EXISTS events, incidents, tokens, sessions, audit, deliveries, _sqlx_migrations CASCADE" || exit 1
start() {
  PORT=$(port)
  "$BIN" serve --db "$PG" --listen 127.0.0.1:$PORT >"$T/serve-$PORT.log" 2>&1 & PID=$!
  PIDS+=("$PID")
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "warroom serve did not start" >&2; exit 1
}
start; A=$PORT; APID=$PID
start
TOK=$("$BIN" token create --db "$PG" --name perf --role admin | tail -1)
INC=$(WARROOM_SERVER=http://127.0.0.1:$A WARROOM_TOKEN=$TOK "$BIN" declare --severity SEV-3 --title perf | tail -1)
for w in 1 8; do
  strace -f -qq -yy -e trace=sendto,sendmsg,write,writev -o "$T/trace" -p "$APID" & SPID=$!
  sleep 1
  "$FLOOR" appends http://127.0.0.1:$A "$TOK" "$INC" $w $((N / w)) >/dev/null
  sleep 0.5
  kill -INT $SPID; wait $SPID 2>/dev/null
  sends=$(grep -c ':5432\]' "$T/trace")
  awk -v w=$w -v n=$N -v s="$sends" 'BEGIN { printf "writers=%d appends=%d sends_to_postgres=%d per_append=%.2f\n", w, n, s, s / n }'
done
