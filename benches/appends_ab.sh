#!/usr/bin/env bash
# Durable appends of two builds, alternating (the disk's fsync rate swings between runs, so each
# round measures raw SQLite next to both): 1 and 8 concurrent writers on `warroom serve` and raw
# single-row SQLite commits, ROUNDS times (default 3). Needs the floor tool that
# ../shared/bench/side-by-side.sh builds. Usage, from the project root:
#   BEFORE=/path/to/old/warroom AFTER=target/release/warroom benches/appends_ab.sh
set -u
FLOOR=${FLOOR:-${FLOOR_TARGET:-${TMPDIR:-/tmp}/warroom-floor-target}/release/sse_fanout}
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
one() { # $1 label $2 bin
  T=$(mktemp -d /tmp/app.XXXXXX)
  export HOME=$T WARROOM_DATA_DIR=$T/data WARROOM_CONFIG_DIR=$T/config
  mkdir -p $WARROOM_CONFIG_DIR
  printf '[serve.limits]\nwrites_per_sec = 100000\nwrite_burst = 100000\nstreams_per_token = 100000\nevents_per_sec = 1000000\nevent_burst = 1000000\nbytes_per_sec = 1000000000\nbyte_burst = 1000000000\n' > $WARROOM_CONFIG_DIR/config.toml
  P=$(port); "$2" serve --listen 127.0.0.1:$P >$T/s.log 2>&1 & S=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$P/healthz >/dev/null && break; sleep 0.1; done
  TOK=$("$2" token create --name perf --role admin | tail -1)
  INC=$(WARROOM_SERVER=http://127.0.0.1:$P WARROOM_TOKEN=$TOK "$2" declare --severity SEV-3 --title perf | tail -1)
  for w in 1 8; do echo "$1 $($FLOOR appends http://127.0.0.1:$P "$TOK" "$INC" $w $((1600 / w)))"; done
  echo "$1 $($FLOOR sqlite $T/raw.db 1600)"
  kill $S; wait $S 2>/dev/null; rm -rf $T
}
for r in $(seq ${ROUNDS:-3}); do one before "$BEFORE"; one after "$AFTER"; done
