#!/usr/bin/env bash
# Bytes on the wire for a console's catch-up of an N-event incident (default 10,000): the
# `/events` pages a resuming console reads (1,000 events a page) and the incident snapshot with
# its events, each without and with `Accept-Encoding: gzip`, against a real `warroom serve`.
# Usage (from the project root, after `cargo build --release`): benches/catchup_bytes.sh [N]
# BIN=path/to/warroom picks another binary (e.g. an older build, for a before/after).
set -eu
N=${1:-10000}
BIN=${BIN:-$(pwd)/target/release/warroom}
T=$(mktemp -d /tmp/wire.XXXXXX)
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
export HOME=$T WARROOM_DATA_DIR=$T/data WARROOM_CONFIG_DIR=$T/config
mkdir -p "$WARROOM_CONFIG_DIR"
printf '[serve.limits]\nwrites_per_sec = 100000\nwrite_burst = 100000\n' >"$WARROOM_CONFIG_DIR/config.toml"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$BIN" serve --listen 127.0.0.1:$PORT >"$T/serve.log" 2>&1 & PID=$!
B=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$B/healthz" >/dev/null && break; sleep 0.1; done
TOK=$("$BIN" token create --name wire --role admin | tail -1)
INC=$(WARROOM_SERVER=$B WARROOM_TOKEN=$TOK "$BIN" declare --severity SEV-2 --title "wire bytes" | tail -1)
# N-1 notes in batches of 1,000, texts like a real timeline's.
python3 - "$B" "$TOK" "$INC" "$N" <<'PY'
import json, sys, uuid, datetime, urllib.request
base, tok, inc, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
words = "checkout latency p99 rising on eu-west pods restarted rollback of v2.41 started db replica lag 4s cache hit rate down".split()
left, i = n - 1, 0
while left > 0:
    k = min(1000, left)
    evs = []
    for _ in range(k):
        text = " ".join(words[(i * 7 + j * 3) % len(words)] for j in range(8 + i % 9)) + f" ({i})"
        at = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
        evs.append({"id": str(uuid.uuid4()), "occurred_at": at, "kind": "note", "text": text})
        i += 1
    req = urllib.request.Request(f"{base}/api/v1/incidents/{inc}/events", json.dumps({"events": evs}).encode(),
                                 {"Authorization": f"Bearer {tok}", "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    left -= k
PY
wire() { # url [encoding] -> bytes of the body as sent
  if [ -n "${2:-}" ]; then curl -sf -H "Accept-Encoding: $2" -H "Authorization: Bearer $TOK" -o /dev/null -w '%{size_download}' "$1"
  else curl -sf -H "Authorization: Bearer $TOK" -o /dev/null -w '%{size_download}' "$1"; fi
}
catchup() { local total=0 after=0 b
  while [ "$after" -lt "$N" ]; do b=$(wire "$B/api/v1/events?after=$after&limit=1000" "${1:-}"); total=$((total + b)); after=$((after + 1000)); done
  echo $total; }
plain=$(catchup); gz=$(catchup gzip)
snap=$(wire "$B/api/v1/incidents/$INC?events=true"); snapgz=$(wire "$B/api/v1/incidents/$INC?events=true" gzip)
enc=$(curl -sf -D - -o /dev/null -H 'Accept-Encoding: gzip' -H "Authorization: Bearer $TOK" "$B/api/v1/events?after=0&limit=1000" | tr -d '\r' | grep -i '^content-encoding' || echo 'content-encoding: (none)')
echo "catch-up of $N events (/events, 1,000 a page): identity $plain bytes, gzip asked $gz bytes ($(python3 -c "print(f'{$gz/$plain:.3f}')")x); $enc"
echo "snapshot with events (/incidents/$INC?events=true): identity $snap bytes, gzip asked $snapgz bytes ($(python3 -c "print(f'{$snapgz/$snap:.3f}')")x)"
