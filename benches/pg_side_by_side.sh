#!/usr/bin/env bash
# PostgreSQL against SQLite, side by side in one run (issue #17, the PostgreSQL part):
#   - durable appends, 1 and 8 concurrent writers, no readers: `warroom serve` on SQLite, then
#     two `warroom serve` replicas on one PostgreSQL database with the writers on replica A;
#     then 4 writers on each replica at once;
#   - propagation (POST start -> receipt on every console), N consoles (default 100), one writer
#     at RATE/s on replica A: consoles streaming from A itself (single server), then from
#     replica B (cross-replica: B learns of the commit through LISTEN/NOTIFY and reads the rows).
# Prints the two ratios the issue asks for: PG/SQLite appends at 8 writers (target >= 0.5) and
# cross-replica/single-server propagation p99 (target <= 1.5).
#
# Usage (from the project root, after `cargo build --release`):
#   WARROOM_BENCH_PG=postgres://warroom:warroom@127.0.0.1:5432/warroom_x benches/pg_side_by_side.sh
# The database's warroom tables are DROPPED. Env: BIN (warroom binary), CONSOLES (100),
# MSGS (200), RATE (20/s), ROUNDS (2 propagation runs of each kind, alternating), APPENDS (1600).
# The measuring tool is the floor tool of ../shared/bench (sse-floor); the cross-replica run uses
# a copy of it whose consoles stream from READ_BASE, built into the same target dir.
set -u
PG=${WARROOM_BENCH_PG:?set WARROOM_BENCH_PG to a PostgreSQL URL whose warroom tables may be dropped}
ulimit -n 65536 2>/dev/null || true
SRC=${FLOOR_SRC:-$(cd "$(dirname "$0")/../../shared/bench/sse-floor" 2>/dev/null && pwd)}
FT=${FLOOR_TARGET:-${TMPDIR:-/tmp}/warroom-floor-target}
BIN=${BIN:-$(pwd)/target/release/warroom}
CONSOLES=${CONSOLES:-100}; MSGS=${MSGS:-200}; RATE=${RATE:-20}; ROUNDS=${ROUNDS:-2}; APPENDS=${APPENDS:-1600}
T=$(mktemp -d /tmp/pgsbs.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

# The floor tool, and a copy whose `warroom` consoles stream from $READ_BASE (else from the
# writer's base): the same measuring code for both propagation runs.
cargo build --release -q --manifest-path "$SRC/Cargo.toml" --target-dir "$FT" || exit 1
FLOOR=$FT/release/sse_fanout
mkdir -p "$T/xr/src"
cp "$SRC/Cargo.toml" "$SRC/Cargo.lock" "$T/xr/"
sed -i 's/^name = "sse_fanout"/name = "sse_fanout_xr"/' "$T/xr/Cargo.toml"
sed 's|format!("{base}/api/v1/stream?after={after}")|format!("{}/api/v1/stream?after={after}", std::env::var("READ_BASE").unwrap_or_else(\|_\| base.clone()))|' \
  "$SRC/src/main.rs" >"$T/xr/src/main.rs"
grep -q READ_BASE "$T/xr/src/main.rs" || { echo "could not patch the floor tool's stream URL" >&2; exit 1; }
cargo build --release -q --manifest-path "$T/xr/Cargo.toml" --target-dir "$FT" || exit 1
XR=$FT/release/sse_fanout_xr

export HOME=$T WARROOM_DATA_DIR=$T/data WARROOM_CONFIG_DIR=$T/config
mkdir -p "$WARROOM_CONFIG_DIR"
cat >"$WARROOM_CONFIG_DIR/config.toml" <<TOML
[serve.limits]
writes_per_sec = 1000000
write_burst = 1000000
streams_per_token = 100000
events_per_sec = 1000000
event_burst = 1000000
bytes_per_sec = 1000000000
byte_burst = 1000000000
long_polls_per_token = 100000
TOML
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# serve LOG [ARGS...]: starts `warroom serve`, waits for /healthz; sets PORT and PID.
serve() {
  local log=$1; shift
  PORT=$(port)
  "$BIN" serve --listen 127.0.0.1:$PORT "$@" >"$T/$log" 2>&1 & PID=$!
  PIDS+=("$PID")
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "warroom serve did not start ($log):" >&2; tail -5 "$T/$log" >&2; exit 1
}
per_s() { sed -n 's/.*per_s=\([0-9.]*\).*/\1/p'; }

echo "== SQLite: durable appends (warroom serve, no streaming clients)"
serve sqlite.log; SQ=$PORT; SQPID=$PID
TOK=$("$BIN" token create --name perf --role admin | tail -1)
INC=$(WARROOM_SERVER=http://127.0.0.1:$SQ WARROOM_TOKEN=$TOK "$BIN" declare --severity SEV-3 --title perf | tail -1)
SQ1=$("$FLOOR" appends http://127.0.0.1:$SQ "$TOK" "$INC" 1 "$APPENDS"); echo "sqlite   $SQ1"
SQ8=$("$FLOOR" appends http://127.0.0.1:$SQ "$TOK" "$INC" 8 $((APPENDS / 8))); echo "sqlite   $SQ8"
kill "$SQPID"; wait "$SQPID" 2>/dev/null

echo "== PostgreSQL: two replicas on one database, writers on replica A"
psql "$PG" -qc "SET client_min_messages = warning; DROP TABLE IF EXISTS events, incidents, tokens, sessions, audit, deliveries, _sqlx_migrations CASCADE" || exit 1
serve pg-a.log --db "$PG"; A=$PORT; APID=$PID
serve pg-b.log --db "$PG"; B=$PORT; BPID=$PID
TOK=$("$BIN" token create --db "$PG" --name perf --role admin | tail -1)
INC=$(WARROOM_SERVER=http://127.0.0.1:$A WARROOM_TOKEN=$TOK "$BIN" declare --severity SEV-3 --title perf | tail -1)
PG1=$("$FLOOR" appends http://127.0.0.1:$A "$TOK" "$INC" 1 "$APPENDS"); echo "postgres $PG1"
# CPU time (user + system, from /proc) of both replicas and of every postgres process during the
# 8-writer run, per append.
ticks() { local s=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$s"; }
W0=$(ticks "$APID" "$BPID"); D0=$(ticks $(pgrep -x postgres))
PG8=$("$FLOOR" appends http://127.0.0.1:$A "$TOK" "$INC" 8 $((APPENDS / 8))); echo "postgres $PG8"
W1=$(ticks "$APID" "$BPID"); D1=$(ticks $(pgrep -x postgres))
HZ=$(getconf CLK_TCK)
echo "cpu per append, 8 writers: warroom (both replicas) $(awk -v t=$((W1 - W0)) -v n="$APPENDS" -v hz="$HZ" 'BEGIN {printf "%.3f", t * 1000 / hz / n}') ms, postgres $(awk -v t=$((D1 - D0)) -v n="$APPENDS" -v hz="$HZ" 'BEGIN {printf "%.3f", t * 1000 / hz / n}') ms"
# Both replicas taking writes at once, 4 writers on each: the lock shares the turns, and a
# replica's memory of its last commit is out of date whenever the other wrote (such a group runs
# again the long way: warroom_write_group_reruns_total).
"$FLOOR" appends http://127.0.0.1:$A "$TOK" "$INC" 4 $((APPENDS / 8)) >"$T/both-a" & WA=$!
"$FLOOR" appends http://127.0.0.1:$B "$TOK" "$INC" 4 $((APPENDS / 8)) >"$T/both-b"; wait "$WA"
groups() { curl -sf -H "Authorization: Bearer $TOK" "http://127.0.0.1:$1/metrics" | awk '/^warroom_write_group(s|_requests|_reruns)_total /{sub("warroom_write_", "", $1); printf " %s=%s", $1, $2}'; }
echo "postgres both replicas writing (4 writers each): A $(per_s <"$T/both-a")/s, B $(per_s <"$T/both-b")/s"
echo "  so far, A:$(groups "$A")"
echo "  so far, B:$(groups "$B")"

echo "== PostgreSQL propagation: $CONSOLES consoles, $MSGS messages at $RATE/s posted to replica A"
single=(); cross=()
for r in $(seq "$ROUNDS"); do
  out=$("$XR" warroom http://127.0.0.1:$A "$TOK" "$INC" "$CONSOLES" "$MSGS" "$RATE" "$APID")
  echo "single (consoles on A) $out"; single+=("$(sed -n 's/.* p50_ms=\([0-9.]*\) p99_ms=\([0-9.]*\).*/\1 \2/p' <<<"$out")")
  out=$(READ_BASE=http://127.0.0.1:$B "$XR" warroom http://127.0.0.1:$A "$TOK" "$INC" "$CONSOLES" "$MSGS" "$RATE" "$BPID")
  echo "cross  (consoles on B) $out"; cross+=("$(sed -n 's/.* p50_ms=\([0-9.]*\) p99_ms=\([0-9.]*\).*/\1 \2/p' <<<"$out")")
done

mean() { printf '%s\n' "$@" | awk -v f="$COL" '{s += $f; n++} END {if (n) printf "%.2f", s / n; else print "nan"}'; }
COL=1; S50=$(mean "${single[@]}"); X50=$(mean "${cross[@]}")
COL=2; S99=$(mean "${single[@]}"); X99=$(mean "${cross[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
echo "== ratios (this run)"
echo "appends 1 writer:  postgres $(per_s <<<"$PG1")/s, sqlite $(per_s <<<"$SQ1")/s -> $(ratio "$(per_s <<<"$PG1")" "$(per_s <<<"$SQ1")")x"
echo "appends 8 writers: postgres $(per_s <<<"$PG8")/s, sqlite $(per_s <<<"$SQ8")/s -> $(ratio "$(per_s <<<"$PG8")" "$(per_s <<<"$SQ8")")x (target >= 0.5)"
echo "propagation, mean of $ROUNDS: single p50/p99 $S50/$S99 ms, cross-replica $X50/$X99 ms -> p99 $(ratio "$X99" "$S99")x (target <= 1.5)"
