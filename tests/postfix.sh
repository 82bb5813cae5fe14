#!/usr/bin/env bash
# The main path, for real: a Postfix instance from Debian's package, on
# loopback with its own configuration and queue, wired by install.sh
# --with-postfix (a pipe transport running `oxidesk pipe` as the oxidesk
# user). An SMTP conversation to support@ becomes a ticket; with the database
# write-locked Postfix defers the next message (exit 75, EX_TEMPFAIL) and
# delivers it on the retry after the lock is released, exactly once.
# Needs root. Exit 0 passed, 77 skipped, else failed.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${OXIDESK_BIN:?set OXIDESK_BIN to the binary to test (tests/run: the dist build)}
[ -x "$BIN" ] || fail "no binary at $BIN (the cargo-test suite builds it)"
[ "$(id -u)" -eq 0 ] || skip "starting Postfix needs root"
command -v postfix >/dev/null || skip "Postfix is not installed"

for cmd in pipe "ticket list --json"; do
    # shellcheck disable=SC2086 # split the subcommand words
    out=$("$BIN" --db /nonexistent/x.db $cmd </dev/null 2>&1 || true)
    if grep -q 'not available in this build' <<<"$out"; then
        skip "oxidesk $cmd is not in this build yet"
    fi
done

W=$(mktemp -d)
chmod 0755 "$W"
CF=$W/postfix
P=$W/root
LOG=$W/maillog
DB=$P/var/lib/oxidesk/oxidesk.db
CONF=$P/etc/oxidesk/oxidesk.toml
started=0
locker=""
cleanup() {
    local rc=$?
    [ -n "$locker" ] && kill "$locker" 2>/dev/null
    [ "$started" -eq 1 ] && postfix -c "$CF" stop >/dev/null 2>&1
    if [ "$rc" -ne 0 ] && [ -f "$LOG" ]; then
        echo "--- mail log"
        tail -n 40 "$LOG"
    fi
    rm -rf "$W"
}
trap cleanup EXIT

port=$(free_port)
mkdir -p "$CF" "$W/spool" "$W/data"
chown postfix: "$W/data"
cat >"$CF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $W/spool
data_directory = $W/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = \$myhostname
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = yes
maillog_file = $LOG
maillog_file_prefixes = $W
syslog_name = postfix-oxidesk-test
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# Nothing leaves this machine (bounces included).
default_transport = error:outbound mail is disabled in this test
EOF
# Debian's services, no chroot (the queue is a fresh directory), smtpd on a
# loopback test port.
awk -v port="$port" '
    /^smtp +inet/ { print "127.0.0.1:" port " inet n - n - - smtpd"; next }
    /^[a-z]/ && NF >= 8 { $5 = "n" }
    { print }
' /usr/share/postfix/master.cf.dist >"$CF/master.cf"

"$ROOT/install.sh" --prefix "$P" --binary "$BIN" --no-systemd \
    --with-postfix support@example.test --postfix-config "$CF" >"$W/install.log" 2>&1 || {
    cat "$W/install.log"
    fail "install.sh --with-postfix failed"
}
# Fail fast, not after Postfix's 5 s wait per attempt.
sed -i 's/^\[database\]$/[database]\nbusy_timeout_ms = 1000/' "$CONF"

postfix -c "$CF" check 2>&1 | grep -v 'not owned by\|group or other writable' || true
postfix -c "$CF" start >/dev/null 2>&1 || postfix -c "$CF" start
started=1
wait_for 20 grep -qs 'daemon started' "$LOG" || fail "Postfix did not start"
ok "Postfix started on 127.0.0.1:$port with the oxidesk pipe transport"

send() { # send TOKEN: one SMTP conversation to support@example.test
    python3 - "$port" "$1" <<'EOF'
import smtplib, sys
from email.message import EmailMessage
port, token = int(sys.argv[1]), sys.argv[2]
m = EmailMessage()
m["From"] = "Customer <customer@example.org>"
m["To"] = "support@example.test"
m["Subject"] = f"Cannot log in {token}"
m["Message-ID"] = f"<{token}@example.org>"
m.set_content("سلام، I cannot log in to my account since this morning.\n")
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.send_message(m)
EOF
}

# How many tickets have TOKEN in their subject, read straight from SQLite
# (works while another connection holds the write lock).
tickets_with() {
    python3 - "$DB" "$1" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
print(c.execute("SELECT COUNT(*) FROM tickets WHERE subject LIKE ?", (f"%{sys.argv[2]}%",)).fetchone()[0])
EOF
}

# How many tickets in `oxidesk ticket list --json` mention TOKEN.
listed_with() {
    local json
    json=$(runuser -u oxidesk -- "$P/usr/local/bin/oxidesk" --config "$CONF" ticket list --json) || return 1
    python3 -c '
import json, sys
data = json.loads(sys.stdin.read())
if isinstance(data, dict):
    data = next((v for v in data.values() if isinstance(v, list)), [])
print(sum(1 for t in data if sys.argv[1] in json.dumps(t, ensure_ascii=False)))
' "$1" <<<"$json"
}

sent_count() { grep -c 'to=<support@example.test>.*relay=oxidesk.*status=sent' "$LOG" || true; }
sent_at_least() { [ "$(sent_count)" -ge "$1" ]; }

token1=T1$RANDOM$RANDOM
send "$token1"
wait_for 30 sent_at_least 1 || fail "Postfix did not deliver the first message to oxidesk"
[ "$(listed_with "$token1")" = 1 ] || fail "the ticket is not in oxidesk ticket list --json"
ok "SMTP to support@ -> Postfix -> oxidesk pipe -> ticket listed"

# Hold the write lock as the oxidesk user, as a long write would.
runuser -u oxidesk -- python3 - "$DB" "$W/release" >"$W/locker.log" 2>&1 <<'EOF' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.1)
c.execute("COMMIT")
EOF
locker=$!
wait_for 10 grep -q locked "$W/locker.log" || fail "could not lock the database"

token2=T2$RANDOM$RANDOM
send "$token2"
wait_for 30 grep -q 'to=<support@example.test>.*relay=oxidesk.*status=deferred' "$LOG" ||
    fail "Postfix did not defer the message while the database was locked"
grep 'status=deferred' "$LOG" | tail -n 1
[ "$(tickets_with "$token2")" = 0 ] || fail "a ticket was filed while the database was locked"
[ "$(sent_count)" = 1 ] || fail "a second delivery was reported while locked"
ok "database locked: oxidesk pipe exits 75 and Postfix defers"

touch "$W/release"
wait "$locker" || fail "the locking transaction did not commit"
locker=""
postfix -c "$CF" flush
wait_for 30 sent_at_least 2 || fail "Postfix did not deliver the deferred message after the lock was released"
sleep 3 # a duplicate delivery would show up here
[ "$(sent_count)" = 2 ] || fail "expected 2 deliveries, saw $(sent_count)"
[ "$(listed_with "$token2")" = 1 ] || fail "the retried message is not exactly one ticket"
[ "$(listed_with "$token1")" = 1 ] || fail "the first ticket is not exactly one ticket any more"
postqueue -c "$CF" -p | grep -q 'Mail queue is empty' || fail "mail is left in the queue"
ok "lock released: delivered on the retry, exactly once, queue empty"
echo "postfix: all checks passed"
