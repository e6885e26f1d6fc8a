#!/usr/bin/env bash
# Builds the portable Linux binary for jump hosts and checks it.
#
#   scripts/build-portable.sh                 # build and check dist/warroom-<version>-x86_64-linux-gnu
#   scripts/build-portable.sh --check FILE    # only check a binary built before (or downloaded)
#
# The binary is for x86_64 Linux with glibc 2.17 or newer (RHEL/CentOS 7, Ubuntu 14.04 and
# later): cargo-zigbuild links it against glibc 2.17's symbols with zig as the C compiler and
# linker, using the installed Rust toolchain (no rustup download). Install the two tools with
#   pip install cargo-zigbuild ziglang
# The cargo profile is `dist` (Cargo.toml: release at opt-level "s", fat LTO, one codegen unit,
# symbols stripped).
#
# Checks, each fatal:
#   - the highest GLIBC symbol version the binary needs is at most 2.17 (objdump -T);
#   - it is at most 15 MB (15,000,000 bytes);
#   - it runs: `--version`, then a round trip against itself: `token create`, `serve` on
#     127.0.0.1 (a free port, SQLite in a temp dir), `declare`, `log`, and `export` shows the
#     entry.
# Writes dist/<name> and dist/<name>.sha256 (check on the jump host with `sha256sum -c`).
#
# aarch64: not built here. The installed toolchain has no aarch64 standard library and rustup
# cannot download one on this machine; with `rustup target add aarch64-unknown-linux-gnu`
# elsewhere, TARGET=aarch64-unknown-linux-gnu.2.17 builds it the same way (the run checks then
# need qemu-user).
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_BYTES=15000000
MAX_GLIBC=2.17
TARGET="${TARGET:-x86_64-unknown-linux-gnu.2.17}"
PROFILE=dist
triple="${TARGET%.2.*}"
arch="${triple%%-*}"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
name="warroom-${version}-${arch}-linux-gnu"

die() { echo "build-portable: $*" >&2; exit 1; }
failed=0
fail() { echo "FAILED: $*" >&2; failed=1; }

if [[ "${1:-}" == "--check" ]]; then
    [[ -n "${2:-}" ]] || die "usage: $0 --check FILE"
    bin="$2"
else
    command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild is missing: pip install cargo-zigbuild ziglang"
    command -v zig >/dev/null || python3 -m ziglang version >/dev/null 2>&1 ||
        die "zig is missing: pip install ziglang (cargo-zigbuild runs zig from PATH or python3 -m ziglang)"
    echo "== cargo zigbuild --profile $PROFILE --target $TARGET"
    start=$(date +%s)
    cargo zigbuild --locked --profile "$PROFILE" --target "$TARGET" --bin warroom
    echo "== built in $(( $(date +%s) - start )) s"
    mkdir -p dist
    bin="dist/$name"
    cp "${CARGO_TARGET_DIR:-target}/$triple/$PROFILE/warroom" "$bin"
    (cd dist && sha256sum "$name" > "$name.sha256")
    echo "== $bin ($(cut -d' ' -f1 "dist/$name.sha256"))"
fi
[[ -x "$bin" ]] || die "$bin is not an executable file"

# 1. glibc: the newest symbol version any dynamic symbol needs.
glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
[[ -n "$glibc" ]] || die "no GLIBC symbol versions found in $bin (not a glibc binary?)"
newest=$(printf '%s\n%s\n' "$glibc" "$MAX_GLIBC" | sort -V | tail -1)
if [[ "$newest" == "$MAX_GLIBC" ]]; then
    echo "ok: needs glibc $glibc at most (limit $MAX_GLIBC)"
else
    fail "$bin needs GLIBC_$glibc (at most $MAX_GLIBC allowed)"
fi

# 2. size.
size=$(stat -c %s "$bin")
if (( size <= MAX_BYTES )); then
    echo "ok: $size bytes (limit $MAX_BYTES)"
else
    fail "$bin is $size bytes (at most $MAX_BYTES allowed)"
fi

# 3. it runs.
"$bin" --version | grep -q "^warroom $version" || die "$bin --version does not say warroom $version"
echo "ok: $("$bin" --version)"

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
export WARROOM_DATA_DIR="$work/data" WARROOM_CONFIG_DIR="$work/config"
unset WARROOM_SERVER WARROOM_TOKEN
db="sqlite://$work/data/warroom.db"
token=$("$bin" token create --name ci --role commander --db "$db" </dev/null)
"$bin" serve --listen 127.0.0.1:0 --db "$db" >"$work/serve.out" 2>"$work/serve.err" </dev/null &
server_pid=$!
url=""
for _ in $(seq 1 100); do
    url=$(sed -n 's/^warroom: listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/serve.out")
    [[ -n "$url" ]] && break
    kill -0 "$server_pid" 2>/dev/null || die "serve exited: $(cat "$work/serve.err")"
    sleep 0.1
done
[[ -n "$url" ]] || die "serve did not say where it listens: $(cat "$work/serve.out" "$work/serve.err")"
export WARROOM_SERVER="$url" WARROOM_TOKEN="$token"
incident=$("$bin" declare --severity SEV-2 --title "portable build check" </dev/null)
[[ "$incident" =~ ^INC-[0-9]+$ ]] || die "declare printed '$incident', not an incident id"
"$bin" log --incident "$incident" --kind finding "round trip from the portable binary" </dev/null
"$bin" export "$incident" --format json </dev/null | grep -q "round trip from the portable binary" ||
    die "the logged entry is not in $incident's export"
echo "ok: serve, declare ($incident), log and export round trip on $url"
(( failed == 0 )) || die "$bin failed a check (above)"
echo "== build-portable: all checks passed for $bin"
