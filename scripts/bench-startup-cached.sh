#!/usr/bin/env bash
# The console's start with its local cache (#17). Seeds a server with one incident of N events
# (default 10,000), then starts `warroom --open INC` on a 200x50 pseudo-terminal (no tmux: its
# own start would be most of the figure) with WARROOM_BENCH_FIRST_FRAME set, so the console
# leaves right after its first war-room frame that shows the timeline and reports:
#   main:  from the first instant of `main` to that frame written to the terminal;
#   exec:  from just before the driver forks the process (so dynamic loading is counted too).
# Three cases on one data dir: cold (no cache, the timeline from the server; the cache is
# removed before each run), cached with the server up, cached with the server down. Each run's
# output is checked for the last event's text. Prints p50 and max of RUNS runs (default 20)
# and the phases of the median cached run (milliseconds since main).
# Usage, from the project root after `cargo build --release`:
#   scripts/bench-startup-cached.sh [N] [RUNS]
set -eu
N=${1:-10000}
RUNS=${2:-20}
BIN=${BIN:-$(pwd)/target/release/warroom}
T=$(mktemp -d /tmp/start.XXXXXX)
export HOME=$T XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config WARROOM_DATA_DIR=$T/data/warroom WARROOM_CONFIG_DIR=$T/config/warroom
mkdir -p "$WARROOM_CONFIG_DIR"
printf '[serve.limits]\nwrites_per_sec = 100000\nwrite_burst = 100000\nevents_per_sec = 100000\nevent_burst = 100000\nbytes_per_sec = 1000000000\nbyte_burst = 1000000000\n' >"$WARROOM_CONFIG_DIR/config.toml"
P=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$BIN" serve --listen 127.0.0.1:$P >"$T/serve.log" 2>&1 & SP=$!
trap 'kill $SP 2>/dev/null; [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$P/healthz" >/dev/null && break; sleep 0.1; done
export WARROOM_SERVER=http://127.0.0.1:$P WARROOM_TOKEN=$("$BIN" token create --name ic --role admin | tail -1)
printf 'export WARROOM_SERVER=%s WARROOM_TOKEN=%s\n' "$WARROOM_SERVER" "$WARROOM_TOKEN" >"$T/env"
INC=$("$BIN" declare --severity SEV-1 --title "startup" | tail -1)
python3 - "$BIN" "$INC" "$N" "$RUNS" "$SP" "$T" <<'PY'
import datetime, fcntl, json, os, pty, re, shutil, signal, statistics, struct, sys, termios, time
import urllib.request, uuid
BIN, INC, N, RUNS, SP, T = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
base, tok = os.environ["WARROOM_SERVER"], os.environ["WARROOM_TOKEN"]

def uid():  # uuid v7
    ms = int(time.time() * 1000); r = int.from_bytes(os.urandom(10), "big")
    v = (ms << 80) | (0x7 << 76) | ((r >> 68) & 0xfff) << 64 | (0b10 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))

at = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
for start in range(0, N, 500):
    evs = [{"id": uid(), "occurred_at": at, "kind": "note", "text": f"entry {i} " + "x" * 60}
           for i in range(start, min(N, start + 500))]
    req = urllib.request.Request(f"{base}/api/v1/incidents/{INC}/events", data=json.dumps({"events": evs}).encode(),
                                 headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(req).read()

report = os.path.join(T, "first-frame.txt")
env = dict(os.environ, WARROOM_BENCH_FIRST_FRAME=report, TERM="xterm-256color")

def once():
    if os.path.exists(report):
        os.remove(report)
    t0 = time.time_ns()
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        os.execve(BIN, [BIN, "--open", INC], env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    line = open(report).read().split()
    fields = dict(f.split("=", 1) for f in line)
    shown = re.search(rb"entry %d(?!\d)" % (N - 1), out) is not None
    if not shown:
        open(os.path.join(T, "missing.out"), "wb").write(out)
    return float(fields["first_frame_ms"]), (int(fields["wall_ns"]) - t0) / 1e6, shown, line[2:]

def case(label, runs, before=None):
    got = []
    for _ in range(runs):
        if before:
            before()
        got.append(once())
    main = sorted(g[0] for g in got); exe = sorted(g[1] for g in got)
    missing = sum(1 for g in got if not g[2])
    print(f"{label:<28} main->frame p50 {statistics.median(main):7.1f} ms  max {main[-1]:7.1f} ms | "
          f"exec->frame p50 {statistics.median(exe):7.1f} ms  max {exe[-1]:7.1f} ms  ({runs} runs"
          + (f", {missing} without the last event on screen!" if missing else "") + ")")
    return sorted(got)[len(got) // 2]

cache = os.path.join(os.environ["WARROOM_DATA_DIR"], "cache")
print(f"console start, {N} events, 200x50, {BIN}")
case("cold (no cache, server up)", max(3, RUNS // 4), lambda: shutil.rmtree(cache, ignore_errors=True))
once()  # leaves the cache for the runs below
med = case("cached, server up", RUNS)
os.kill(SP, signal.SIGTERM)
time.sleep(0.5)
case("cached, server down", RUNS)
print("phases of the median cached run (ms since main):", " ".join(med[3]))
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cache) for f in fs)
print(f"cache on disk: {size / 1024:.0f} KiB")
PY
