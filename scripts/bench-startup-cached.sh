#!/usr/bin/env bash
# The console's start with its local cache (#17): like ../shared/bench/startup.sh (time from
# starting a console in tmux to its first war-room frame showing the last of N events, default
# 10,000), three times on one data dir: cold (no cache), warm (cached, server up), and cached
# with the server down. Then the console's RSS. Usage, from the project root after
# `cargo build --release`: scripts/bench-startup-cached.sh [N]
set -u
N=${1:-10000}
BIN=${BIN:-$(pwd)/target/release/warroom}
T=$(mktemp -d /tmp/start.XXXXXX)
export HOME=$T XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config WARROOM_DATA_DIR=$T/data/warroom WARROOM_CONFIG_DIR=$T/config/warroom
mkdir -p "$WARROOM_CONFIG_DIR"
printf '[serve.limits]\nwrites_per_sec = 100000\nwrite_burst = 100000\n' >"$WARROOM_CONFIG_DIR/config.toml"
P=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$BIN" serve --listen 127.0.0.1:$P >"$T/serve.log" 2>&1 & SP=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$P/healthz" >/dev/null && break; sleep 0.1; done
export WARROOM_SERVER=http://127.0.0.1:$P WARROOM_TOKEN=$("$BIN" token create --name ic --role admin | tail -1)
INC=$("$BIN" declare --severity SEV-1 --title "startup" | tail -1)
python3 - "$WARROOM_SERVER" "$WARROOM_TOKEN" "$INC" "$N" <<'PY'
import json, sys, urllib.request, uuid, time, datetime, os
base, tok, inc, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def uid():  # uuid v7
    ms = int(time.time()*1000); r = int.from_bytes(os.urandom(10), 'big')
    v = (ms << 80) | (0x7 << 76) | ((r >> 68) & 0xfff) << 64 | (0b10 << 62) | (r & ((1<<62)-1))
    return str(uuid.UUID(int=v))
at = datetime.datetime.now(datetime.timezone.utc).isoformat().replace('+00:00','Z')
for start in range(0, n, 500):
    evs = [{"id": uid(), "occurred_at": at, "kind": "note", "text": f"entry {i} " + "x"*60} for i in range(start, min(n, start+500))]
    req = urllib.request.Request(f"{base}/api/v1/incidents/{inc}/events", data=json.dumps({"events": evs}).encode(),
        headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(req).read()
PY
TM="tmux -L startup-cached"
run() {  # $1 = label
  local t0 t1
  t0=$(date +%s%N)
  $TM new-session -d -s c -x 200 -y 50 "env WARROOM_SERVER=$WARROOM_SERVER WARROOM_TOKEN=$WARROOM_TOKEN $BIN --open $INC"
  while ! $TM capture-pane -p -t c 2>/dev/null | grep -q "entry $((N-1))"; do sleep 0.005; [ $(( ($(date +%s%N)-t0)/1000000 )) -gt 20000 ] && break; done
  t1=$(date +%s%N)
  echo "$1: first war-room frame with the last of $N events: $(( (t1-t0)/1000000 )) ms (incl. tmux start)"
}
quit() {
  sleep 1
  local CP; CP=$(pgrep -f -n -x "$BIN --open $INC")
  echo "  console RSS $(grep VmRSS /proc/$CP/status | awk '{print $2}') kB"
  $TM send-keys -t c q; sleep 0.3; $TM send-keys -t c q
  while $TM has-session -t c 2>/dev/null; do sleep 0.05; done
}
run "cold (no cache)"; quit
run "warm (cache, server up)"; quit
kill $SP; wait $SP 2>/dev/null
run "cache, server down"; quit
t0=$(date +%s%N); $TM new-session -d -s e -x 80 -y 24 "sleep 30"; while ! $TM has-session -t e 2>/dev/null; do sleep 0.005; done; echo "tmux start alone: $(( ($(date +%s%N)-t0)/1000000 )) ms"
echo "cache: $(du -sh "$WARROOM_DATA_DIR/cache" | cut -f1)"
$TM kill-server; [ -n "${KEEP:-}" ] && echo "kept $T token $WARROOM_TOKEN" || rm -rf "$T"
