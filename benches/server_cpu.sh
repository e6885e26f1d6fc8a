#!/usr/bin/env bash
# CPU instructions the server spends per durable append, counted by callgrind (repeatable on a
# busy machine, unlike wall times): `warroom serve` under valgrind, 1 writer x 200 appends then
# 8 concurrent writers x 50 (the floor tool's `appends` phase of ../shared/bench/side-by-side.sh),
# start-up and a warm-up left out. Prints the server's instructions per append.
# Usage (from the project root, after `cargo build --release`): benches/server_cpu.sh
# BIN=path/to/warroom picks another binary (e.g. main's, for a before/after); OUT= keeps the
# callgrind file for `callgrind_annotate --inclusive=yes`.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=${BENCH:-$HERE/../../shared/bench}
FT=${FLOOR_TARGET:-${TMPDIR:-/tmp}/warroom-floor-target}
cargo build --release -q --manifest-path "$BENCH/sse-floor/Cargo.toml" --target-dir "$FT" || exit 1
FLOOR=$FT/release/sse_fanout
BIN=${BIN:-$(pwd)/target/release/warroom}
T=$(mktemp -d /tmp/cpu.XXXXXX)
OUT=${OUT:-$T/callgrind.out}
export HOME=$T XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config WARROOM_DATA_DIR=$T/data/warroom WARROOM_CONFIG_DIR=$T/config/warroom
mkdir -p "$WARROOM_CONFIG_DIR"
printf '[serve.limits]\nwrites_per_sec = 100000\nwrite_burst = 100000\nstreams_per_token = 100000\n' >"$WARROOM_CONFIG_DIR/config.toml"
WP=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" serve --listen 127.0.0.1:$WP >"$T/serve.log" 2>&1 & WPID=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$WP/healthz" >/dev/null && break; sleep 0.2; done
TOK=$("$BIN" token create --name perf --role admin | tail -1)
INC=$(WARROOM_SERVER=http://127.0.0.1:$WP WARROOM_TOKEN=$TOK "$BIN" declare --severity SEV-3 --title perf | tail -1)
"$FLOOR" appends http://127.0.0.1:$WP "$TOK" "$INC" 1 20 >/dev/null
callgrind_control -z $WPID >/dev/null 2>&1
"$FLOOR" appends http://127.0.0.1:$WP "$TOK" "$INC" 1 200 >/dev/null
"$FLOOR" appends http://127.0.0.1:$WP "$TOK" "$INC" 8 50 >/dev/null
kill -TERM $WPID; wait $WPID 2>/dev/null
IR=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "server instructions: $IR for 600 appends = $((IR / 600)) per append (callgrind, $BIN)"
[ "$OUT" = "$T/callgrind.out" ] && rm -rf "$T" || rm -rf "$T/data"
