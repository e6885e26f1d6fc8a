#!/usr/bin/env bash
# Fuzzes the HTTP API with schemathesis (PyPI) against a fresh server, from its own OpenAPI
# document at /api/v1/openapi.json. Bounded: a few examples per operation and a time budget.
# Fails on any 5xx, crash, or response that does not match the schema (`--checks all`).
#
#   .ci/schemathesis.sh                    # defaults below
#   ST_MAX_EXAMPLES=50 ST_MAX_TIME=300 .ci/schemathesis.sh
#
# The server is the ignored test `api_fuzz_server::serve_for_fuzzing` of the integration test
# binary (tests/it/api_fuzz_server.rs: real router, real SQLite file in a temp dir, an admin
# token), built by cargo and selected by its exact name. /api/v1/stream is excluded (an
# endless stream).
# `positive_data_acceptance` is off: the server validates what a JSON schema cannot say (the
# severity must be a level of the server's practice, a declare must be a `declared` event, an
# incident's status may not go back, a correction must target an entry of the same incident,
# Alertmanager's groupKey must be set). Each such refusal is a 4xx JSON error, which the other
# checks hold it to. The response time limit is 90 s: `GET /events?wait=60` is a long poll.
# One worker: with two, a run here once died inside hypothesis under CPython 3.11 ("SystemError:
# AST constructor recursion depth mismatch" from ast.parse while two worker threads ran), a
# schemathesis runtime error that says nothing about the API.
# Schemathesis goes into a venv (~/.cache/warroom-schemathesis, or $ST_VENV); `ST=/path/to/st`
# uses an existing one. It runs in a temp dir, so its cache stays out of the repository.
set -euo pipefail

cd "$(dirname "$0")/.."
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-25}"
MAX_TIME="${ST_MAX_TIME:-240}"
ST_VERSION="${ST_VERSION:-schemathesis>=4.1,<5}"
SEED="${ST_SEED:-$RANDOM}"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# 1. schemathesis
if [[ -z "${ST:-}" ]]; then
    venv="${ST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/warroom-schemathesis}"
    if [[ ! -x "$venv/bin/st" ]]; then
        echo "== installing $ST_VERSION into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --upgrade pip
        "$venv/bin/pip" install --quiet "$ST_VERSION"
    fi
    ST="$venv/bin/st"
fi
echo "== $("$ST" --version)"

# 2. the server
echo "== building the fuzz server"
cargo test --quiet --no-run --test it
WARROOM_FUZZ_INFO="$work/info" WARROOM_FUZZ_SECS=$((MAX_TIME + 300)) \
    cargo test --quiet --test it -- --ignored --exact api_fuzz_server::serve_for_fuzzing --nocapture \
    >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
    [[ -s "$work/info" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "the fuzz server died" >&2; exit 1; }
    sleep 0.1
done
[[ -s "$work/info" ]] || { cat "$work/server.log"; echo "the fuzz server did not start" >&2; exit 1; }
read -r base token <"$work/info"
echo "== server at $base (seed $SEED, $MAX_EXAMPLES examples per operation, at most ${MAX_TIME}s)"

# 3. the run
set +e
cd "$work"
timeout --signal=INT $((MAX_TIME + 120)) "$ST" run "$base/api/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-response-time 90 \
    --exclude-path /api/v1/stream \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --seed "$SEED" \
    --request-timeout 90 \
    --workers 1 \
    --no-color 2>&1
status=$?
set -e
if [[ $status -ne 0 ]]; then
    echo "== schemathesis failed (exit $status); server log tail:" >&2
    tail -n 50 server.log >&2
fi
exit $status
