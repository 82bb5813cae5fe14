#!/usr/bin/env bash
# install.sh end to end into a throwaway prefix (root needed: it creates the
# oxidesk system user and sets owners): install with Postfix wiring, a second
# run changes nothing, --uninstall keeps the data, --uninstall --purge
# removes it. Exit 0 passed, 77 skipped, else failed.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${OXIDESK_BIN:?set OXIDESK_BIN to the binary to test (tests/run: the dist build)}
[ -x "$BIN" ] || fail "no binary at $BIN (the cargo-test suite builds it)"
[ "$(id -u)" -eq 0 ] || skip "install.sh needs root"
command -v postconf >/dev/null || skip "Postfix is not installed"

P=$(mktemp -d)
chmod 0755 "$P"
trap 'rm -rf "$P"' EXIT
# A Postfix configuration to wire into, as Debian ships it.
mkdir -p "$P/etc/postfix"
cp /usr/share/postfix/main.cf.debian "$P/etc/postfix/main.cf"
cp /usr/share/postfix/master.cf.dist "$P/etc/postfix/master.cf"
postconf -c "$P/etc/postfix" -e "mydestination = localhost" "transport_maps = hash:/etc/postfix/other"

install_it() {
    "$ROOT/install.sh" --prefix "$P" --binary "$BIN" --listen 127.0.0.1:8099 \
        --with-postfix support@example.test --postfix-config "$P/etc/postfix"
}

# Every file with its mode, owner and content hash (the database by content).
snapshot() {
    (cd "$P" && find . -printf '%p %M %u:%g\n' | sort)
    (cd "$P" && find . -type f ! -name '*.db' ! -name '*.db-*' -print0 | sort -z | xargs -0 sha256sum)
    sqlite3 "$P/var/lib/oxidesk/oxidesk.db" .dump | sha256sum
}

mode_owner() { stat -c '%a %U:%G' "$1"; }

out=$(install_it 2>&1) || {
    echo "$out"
    fail "the first install failed"
}
echo "$out"
grep -q "URL: *http://127.0.0.1:8099/" <<<"$out" || fail "install.sh did not print the URL"
grep -Eq "First admin: +admin@localhost / [0-9a-f]{20} " <<<"$out" || fail "install.sh did not print the first admin login"
[ "$(mode_owner "$P/usr/local/bin/oxidesk")" = "755 root:root" ] || fail "binary mode/owner: $(mode_owner "$P/usr/local/bin/oxidesk")"
cmp -s "$BIN" "$P/usr/local/bin/oxidesk" || fail "the installed binary differs"
[ "$(mode_owner "$P/etc/oxidesk")" = "750 root:oxidesk" ] || fail "config dir: $(mode_owner "$P/etc/oxidesk")"
[ "$(mode_owner "$P/etc/oxidesk/oxidesk.toml")" = "640 root:oxidesk" ] || fail "config: $(mode_owner "$P/etc/oxidesk/oxidesk.toml")"
[ "$(mode_owner "$P/var/lib/oxidesk")" = "750 oxidesk:oxidesk" ] || fail "data dir: $(mode_owner "$P/var/lib/oxidesk")"
[ "$(stat -c %U "$P/var/lib/oxidesk/oxidesk.db")" = oxidesk ] || fail "the database is not owned by oxidesk"
grep -Eq '^secret = "[0-9a-f]{64}"$' "$P/etc/oxidesk/oxidesk.toml" || fail "no generated secret in the config"
runuser -u oxidesk -- "$P/usr/local/bin/oxidesk" --config "$P/etc/oxidesk/oxidesk.toml" staff list | grep -q admin@localhost ||
    fail "the first admin is not in staff list"
ok "installed: binary, user, directories, config with secrets, database, first admin"

unit=$P/etc/systemd/system/oxidesk.service
for key in ProtectSystem=strict ProtectHome=true NoNewPrivileges=true PrivateTmp=true \
    ReadWritePaths=/var/lib/oxidesk CapabilityBoundingSet= RestrictAddressFamilies= \
    SystemCallFilter=@system-service User=oxidesk; do
    grep -q "^$key" "$unit" || fail "the unit lacks $key"
done
if command -v systemd-analyze >/dev/null && [ -d /run/systemd/system ]; then
    systemd-analyze verify "$unit" || fail "systemd-analyze rejects the unit"
fi
ok "hardened systemd unit written"

pf=$P/etc/postfix
grep -q "^oxidesk *unix .* pipe$" "$pf/master.cf" || fail "no oxidesk pipe service in master.cf"
grep -q "flags=DR user=oxidesk argv=$P/usr/local/bin/oxidesk --config $P/etc/oxidesk/oxidesk.toml pipe" "$pf/master.cf" ||
    fail "the pipe service does not run oxidesk pipe as oxidesk"
[ "$(postconf -c "$pf" -h transport_maps)" = "hash:$pf/oxidesk_transport, hash:/etc/postfix/other" ] ||
    fail "transport_maps: $(postconf -c "$pf" -h transport_maps)"
[ "$(postmap -c "$pf" -q support@example.test "hash:$pf/oxidesk_transport")" = "oxidesk:" ] || fail "the transport map does not route the address"
postconf -c "$pf" -h mydestination | grep -qw example.test || fail "example.test is not a destination"
ok "Postfix wired: pipe transport as oxidesk, transport map, destination"

before=$(snapshot)
out=$(install_it 2>&1) || {
    echo "$out"
    fail "the second install failed"
}
after=$(snapshot)
if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after") || true
    fail "the second run changed files"
fi
grep -c "^oxidesk *unix" "$pf/master.cf" | grep -qx 1 || fail "the pipe service appears twice"
ok "a second run changes nothing"

# Upgrade: a different binary replaces the installed one, data stays.
cp "$BIN" "$P/newer"
printf 'x' >>"$P/newer"
"$ROOT/install.sh" --prefix "$P" --binary "$P/newer" --no-systemd >/dev/null
cmp -s "$P/newer" "$P/usr/local/bin/oxidesk" || fail "an upgrade did not replace the binary"
rm -f "$P/newer"
ok "a new binary replaces the installed one"

out=$("$ROOT/install.sh" --prefix "$P" --postfix-config "$pf" --uninstall 2>&1) || {
    echo "$out"
    fail "--uninstall failed"
}
echo "$out"
[ ! -e "$P/usr/local/bin/oxidesk" ] || fail "--uninstall left the binary"
[ ! -e "$unit" ] || fail "--uninstall left the unit"
[ -f "$P/var/lib/oxidesk/oxidesk.db" ] || fail "--uninstall removed the database"
[ -f "$P/etc/oxidesk/oxidesk.toml" ] || fail "--uninstall removed the configuration"
! grep -q oxidesk "$pf/master.cf" || fail "--uninstall left the pipe service in master.cf"
[ "$(postconf -c "$pf" -h transport_maps)" = "hash:/etc/postfix/other" ] || fail "transport_maps after uninstall: $(postconf -c "$pf" -h transport_maps)"
ok "--uninstall removed binary, unit and Postfix wiring; kept data and config"

"$ROOT/install.sh" --prefix "$P" --postfix-config "$pf" --uninstall --purge >/dev/null ||
    fail "--uninstall --purge failed"
[ ! -e "$P/var/lib/oxidesk" ] || fail "--purge left the data"
[ ! -e "$P/etc/oxidesk" ] || fail "--purge left the configuration"
ok "--uninstall --purge removed data and configuration"

if "$ROOT/install.sh" --bogus >/dev/null 2>&1; then fail "an unknown option was accepted"; fi
"$ROOT/install.sh" --help | grep -q -- --with-postfix || fail "--help does not describe --with-postfix"
ok "options checked"
echo "install.sh: all checks passed"
