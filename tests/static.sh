#!/usr/bin/env bash
# The shipped binary is static and self-contained: copied alone into an empty
# directory it runs, creates its database, and serves pages and assets.
# Uses $OXIDESK_BIN (tests/run sets it). Exit 0 passed, 77 skipped, else failed.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${OXIDESK_BIN:?set OXIDESK_BIN to the binary to test (tests/run: the dist build)}
[ -x "$BIN" ] || fail "no binary at $BIN (the cargo-test suite builds it)"

work=$(mktemp -d)
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Static: no interpreter, no shared libraries.
info=$(file -L "$BIN")
echo "$info"
case "$info" in
*"statically linked"* | *"static-pie linked"*) ok "file says the binary is static" ;;
*) fail "file does not call $BIN static" ;;
esac
if ldd_out=$(ldd "$BIN" 2>&1); then
    case "$ldd_out" in
    *"statically linked"*) ok "ldd: $ldd_out" ;;
    *) fail "ldd lists libraries: $ldd_out" ;;
    esac
else
    ok "ldd: $ldd_out"
fi
size=$(stat -c %s "$BIN")
echo "size: $size bytes ($((size / 1024 / 1024)) MiB)"
[ "$size" -le $((30 * 1024 * 1024)) ] || fail "the binary is larger than 30 MB"
ok "size within 30 MB"

# No OpenSSL anywhere in the dependency tree (rustls everywhere).
if command -v cargo >/dev/null && [ -f "$ROOT/Cargo.toml" ]; then
    tree=$(cd "$ROOT" && cargo tree --locked --target all -e normal,build -i openssl-sys 2>&1) && rc=0 || rc=$?
    if [ "$rc" -eq 0 ] || ! grep -q 'did not match any packages' <<<"$tree"; then
        fail "openssl-sys is in the dependency tree (or cargo tree failed): $tree"
    fi
    ok "openssl-sys is not a dependency"
fi

# Alone in an empty directory, with an empty environment.
cp "$BIN" "$work/oxidesk"
cd "$work"
run_bare() { env -i PATH=/usr/bin:/bin HOME="$work" "$work/oxidesk" "$@"; }
version=$(run_bare --version)
echo "$version"
[[ "$version" =~ ^oxidesk\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-f]{7,}\)$ ]] ||
    fail "--version does not print a version and a commit: $version"
ok "--version prints version and commit"
run_bare migrate
[ -f "$work/oxidesk.db" ] || fail "migrate did not create ./oxidesk.db"
ok "migrate created its database beside it"

port=$(free_port)
env -i PATH=/usr/bin:/bin HOME="$work" OXIDESK_LISTEN="127.0.0.1:$port" "$work/oxidesk" serve \
    >"$work/serve.log" 2>&1 &
server=$!
if ! wait_http "http://127.0.0.1:$port/healthz" 30 "$server"; then
    cat "$work/serve.log"
    if grep -q 'not available in this build' "$work/serve.log"; then
        server=""
        skip "serve is not in this build yet"
    fi
    fail "serve did not answer /healthz"
fi
curl -fsS "http://127.0.0.1:$port/healthz"
echo
ok "/healthz answers"
login=$(curl -fsS "http://127.0.0.1:$port/login") || fail "/login did not load"
ok "/login loads ($(printf '%s' "$login" | wc -c) bytes)"
css=$(printf '%s' "$login" | grep -oE 'href="[^"]+\.css[^"]*"' | head -1 |
    sed 's/^href="//; s/"$//; s|&#x2F;|/|g; s|&#47;|/|g; s|&amp;|\&|g')
[ -n "$css" ] || fail "/login links no stylesheet"
ctype=$(curl -fsS -o "$work/asset.css" -w '%{content_type}' "http://127.0.0.1:$port$css") ||
    fail "the stylesheet $css did not load"
[ -s "$work/asset.css" ] || fail "the stylesheet $css is empty"
[[ "$ctype" == text/css* ]] || fail "the stylesheet $css is served as $ctype"
ok "stylesheet $css loads as $ctype"

# Graceful stop on SIGTERM.
kill -TERM "$server"
for _ in $(seq 1 100); do
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$server" 2>/dev/null; then
    fail "serve did not stop within 10 s of SIGTERM"
fi
wait "$server" || true
server=""
ok "serve stops on SIGTERM"
echo "static binary: all checks passed"
