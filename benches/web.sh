#!/usr/bin/env bash
# Web benchmark (issue 3). With a database of 1,000,000 generated tickets
# (about 5 entries each; seeded once and cached under benches/.cache/),
# starts `oxidesk serve` on a free loopback port, signs in through the login
# form (CSRF token, session cookie), and runs wrk, logged in, on: the Open
# queue page (50 rows), ticket views (rotating over 200 tickets) and search
# requests (rotating over a list of queries). The floor, in the same run and
# with the same wrk settings: nginx serving a static HTML file of the queue
# page's size on another loopback port. Reports req/s, p50/p90/p95/p99,
# errors and answers other than 200, and the server's RSS idle and under
# load (/proc/PID/status VmRSS, VmHWM). See benches/README.md.
#
# Environment:
#   OXIDESK_BIN  binary to test (default: the dist build, built niced)
#   TICKETS      tickets in the seeded database (default 1000000)
#   DURATION     wrk duration per target (default 15s)
#   THREADS      wrk threads (default 2)
#   CONNECTIONS  wrk connections (default 16)
#   WARMUP       wrk warm-up duration per target, not reported (default 3s)
#   TIMEOUT      wrk request timeout (default 10s, so slow answers are timed,
#                not dropped as timeouts)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="$here/.cache"
mkdir -p "$cache"
source "$here/lib.sh"

tickets="${TICKETS:-1000000}"
duration="${DURATION:-15s}"
threads="${THREADS:-2}"
conns="${CONNECTIONS:-16}"
warmup="${WARMUP:-3s}"
timeout="${TIMEOUT:-10s}"

for tool in wrk nginx curl sqlite3 python3; do
    command -v "$tool" >/dev/null || {
        echo "web.sh: $tool is required (apt-get install wrk nginx-light curl sqlite3 python3)" >&2
        exit 1
    }
done
nginx_bin="$(command -v nginx)"

bin="$(oxidesk_bin)"
echo "binary: $bin ($("$bin" --version))"
db="$(seeded_db "$bin" "$tickets")"
echo "database: $db ($(du -h "$db" | cut -f1))"

work="$cache/web-run"
rm -rf "$work"
mkdir -p "$work/static" "$work/tmp"
export OXIDESK_DB="$db"
export OXIDESK_LOG="${OXIDESK_LOG:-warn}"

srv=""
ngx=""
cleanup() {
    # Stop exactly the servers this script started.
    if [ -n "$srv" ] && kill -0 "$srv" 2>/dev/null; then
        kill -TERM "$srv" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$srv" 2>/dev/null || true
    fi
    if [ -n "$ngx" ] && kill -0 "$ngx" 2>/dev/null; then
        kill -TERM "$ngx" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$ngx" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$ngx" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM

# A staff account for the benchmark (an administrator: sees every ticket).
email="bench@bench.example"
password="bench-password-$(sha256sum <<<"$db" | cut -c1-8)"
if ! printf '%s\n' "$password" | "$bin" staff add "$email" --name "Bench Admin" --admin \
        --password-stdin >"$work/staff.log" 2>&1; then
    printf '%s\n' "$password" | "$bin" staff passwd "$email" --password-stdin >>"$work/staff.log" 2>&1 || {
        echo "web.sh: cannot create or update the staff account:" >&2
        cat "$work/staff.log" >&2
        exit 1
    }
fi

port="$(free_port)"
base="http://127.0.0.1:$port"
"$bin" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
srv=$!
for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
    kill -0 "$srv" 2>/dev/null || { echo "web.sh: the server exited:" >&2; cat "$work/serve.log" >&2; exit 1; }
    sleep 0.2
done
curl -fsS -o /dev/null "$base/healthz" || { echo "web.sh: no answer on $base/healthz" >&2; exit 1; }
echo "server: pid $srv on $base"

# Sign in through the form, as a browser does.
jar="$work/cookies.txt"
curl -fsS -c "$jar" -b "$jar" -o "$work/login.html" "$base/login"
csrf="$(grep -o 'name="_csrf" value="[^"]*"' "$work/login.html" | head -1 | sed 's/.*value="\([^"]*\)"/\1/')"
[ -n "$csrf" ] || { echo "web.sh: no CSRF token in the login form" >&2; exit 1; }
code="$(curl -sS -c "$jar" -b "$jar" -o "$work/login-post.html" -w '%{http_code}' \
    --data-urlencode "_csrf=$csrf" --data-urlencode "email=$email" \
    --data-urlencode "password=$password" "$base/login")"
session="$(awk '$6 == "oxd_session" { print $7 }' "$jar" | tail -1)"
if [ -z "$session" ]; then
    echo "web.sh: signing in failed (HTTP $code); no session cookie" >&2
    exit 1
fi
cookie="oxd_session=$session"
echo "signed in as $email (login answered HTTP $code)"

rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# Idle as an installation sits most of the day: started, an agent signed in,
# no page served yet.
sleep 1
signed_rss="$(rss "$srv" VmRSS)"
echo "server RSS idle (started, signed in): ${signed_rss} kB"

# Targets.
echo "/queues/open" >"$work/queue.paths"
sqlite3 "file:$db?mode=ro" "SELECT '/tickets/' || id FROM tickets WHERE id % 4999 = 7 LIMIT 200" \
    >"$work/ticket.paths"
python3 - "$work/search.paths" <<'EOF'
import sys, urllib.parse
queries = ["certificate", "refund", "WordPress", "mailbox full", "firewall", "nameservers",
           "cron", "SSH access", "newsletter", "junk folder", "PHP upgrade", "timed out",
           "سایت", "الموقع", "ኢሜይል", "backup restore", "invoice twice", "Gmail spam",
           "maryam", "ERR"]
with open(sys.argv[1], "w") as f:
    for q in queries:
        f.write("/search?q=" + urllib.parse.quote(q) + "\n")
EOF
echo "/queue.html" >"$work/nginx.paths"

# Check every target answers 200 with a real page before timing anything.
check() {
    local name="$1" paths="$2" marker="$3"
    local n=0 bad=0 bytes=0
    while read -r p; do
        n=$((n + 1))
        [ "$n" -gt 20 ] && break
        local out="$work/check.html"
        local c
        c="$(curl -sS -o "$out" -w '%{http_code}' -H "Cookie: $cookie" "$base$p")"
        if [ "$c" != 200 ] || ! grep -q -- "$marker" "$out"; then
            bad=$((bad + 1))
            echo "  $name: $p answered HTTP $c" >&2
        fi
        bytes=$(( $(stat -c %s "$out") > bytes ? $(stat -c %s "$out") : bytes ))
    done <"$paths"
    echo "check $name: $((n > 20 ? 20 : n)) paths, $bad not OK, largest page $bytes bytes"
    [ "$bad" = 0 ]
}
check queue "$work/queue.paths" 'href="/tickets/'
check ticket "$work/ticket.paths" '<html'
check search "$work/search.paths" '<html'
curl -fsS -H "Cookie: $cookie" -o "$work/static/queue.html" "$base/queues/open"
rows="$(grep -c 'data-href="/tickets/' "$work/static/queue.html" || true)"
echo "queue page: $(stat -c %s "$work/static/queue.html") bytes, $rows ticket rows"

# nginx floor: the queue page's bytes as a static file.
nport="$(free_port)"
cat >"$work/nginx.conf" <<EOF
user root;
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type text/html;
    keepalive_requests 1000000;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    server {
        listen 127.0.0.1:$nport;
        root $work/static;
        location / { try_files \$uri =404; }
    }
}
EOF
"$nginx_bin" -p "$work" -c "$work/nginx.conf" >"$work/nginx.log" 2>&1 &
ngx=$!
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$nport/queue.html" 2>/dev/null && break
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$nport/queue.html" || { echo "web.sh: nginx did not start" >&2; cat "$work/nginx-error.log" >&2; exit 1; }
echo "nginx: pid $ngx on 127.0.0.1:$nport"

# Idle again after the check's pages: each pooled connection now holds
# the pages it read in its cache.
sleep 1
idle_rss="$(rss "$srv" VmRSS)"
echo "server RSS idle (after the check's pages): ${idle_rss} kB"

# One request at a time: each search query's own latency (after one warm-up
# request), so a slow query shows by name.
probe() {
    local paths="$1"
    while read -r p; do
        curl -sS -o /dev/null -H "Cookie: $cookie" "$base$p" || true
        curl -sS -o /dev/null -w "%{http_code} %{time_total} $p\n" -H "Cookie: $cookie" "$base$p" || true
    done <"$paths"
}
probe "$work/search.paths" >"$work/search-probe.txt"
python3 - "$work/search-probe.txt" <<'EOF'
import sys, urllib.parse
rows = []
for line in open(sys.argv[1]):
    code, t, path = line.split(" ", 2)
    rows.append((float(t) * 1000, code, urllib.parse.unquote(path.strip())))
rows.sort()
ts = [r[0] for r in rows]
if ts:
    print(f"search, one request at a time ({len(ts)} queries): median {ts[len(ts) // 2]:.0f} ms, "
          f"max {ts[-1]:.0f} ms; slowest: " + ", ".join(f"{p} {t:.0f} ms" for t, _, p in rows[-3:]))
EOF


# run NAME URL PATHS [COOKIE]: warm up, then measure while sampling RSS.
run() {
    local name="$1" url="$2" paths="$3" ck="${4:-}"
    PATHS="$paths" COOKIE="$ck" wrk -t"$threads" -c"$conns" -d"$warmup" --timeout "$timeout" \
        -s "$here/tools/paths.lua" "$url" >/dev/null 2>&1 || true
    local peak=0 out="$work/wrk-$name.txt"
    PATHS="$paths" COOKIE="$ck" wrk -t"$threads" -c"$conns" -d"$duration" --timeout "$timeout" --latency \
        -s "$here/tools/paths.lua" "$url" >"$out" 2>&1 &
    local w=$!
    while kill -0 "$w" 2>/dev/null; do
        local r
        r="$(rss "$srv" VmRSS 2>/dev/null || echo 0)"
        [ "${r:-0}" -gt "$peak" ] && peak="$r"
        sleep 0.5
    done
    wait "$w" || true
    local json
    json="$(grep '^{' "$out" | tail -1)"
    [ -n "$json" ] || { echo "web.sh: wrk gave no summary for $name:" >&2; cat "$out" >&2; exit 1; }
    echo "$name $peak $json" >>"$work/results.txt"
    echo "measured $name"
}
: >"$work/results.txt"
run nginx-static "http://127.0.0.1:$nport" "$work/nginx.paths"
run queue-open "$base" "$work/queue.paths" "$cookie"
run ticket-view "$base" "$work/ticket.paths" "$cookie"
run search "$base" "$work/search.paths" "$cookie"
hwm="$(rss "$srv" VmHWM)"
sleep 2
after_rss="$(rss "$srv" VmRSS)"
# Idle for good: the server frees its connections' caches after 20 s
# without a request (src/web/idle.rs).
sleep 28
quiet_rss="$(rss "$srv" VmRSS)"

python3 - "$work/results.txt" "$idle_rss" "$after_rss" "$hwm" "$threads" "$conns" "$duration" "$signed_rss" "$quiet_rss" <<'EOF'
import json, sys
rows = []
for line in open(sys.argv[1]):
    name, peak, js = line.split(" ", 2)
    rows.append((name, int(peak), json.loads(js)))
idle, after, hwm = (int(x) for x in sys.argv[2:5])
signed, quiet = int(sys.argv[8]), int(sys.argv[9])
floor = next(r for n, _, r in rows if n == "nginx-static")
print(f"\nwrk -t{sys.argv[5]} -c{sys.argv[6]} -d{sys.argv[7]} --latency, loopback, logged in\n")
hdr = (f"{'target':14} {'req/s':>9} {'p50 ms':>7} {'p90 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
       f"{'max ms':>7} {'errors':>6} {'non-200':>7} {'vs nginx':>8} {'RSS peak MB':>11}")
print(hdr)
print("-" * len(hdr))
for name, peak, r in rows:
    errs = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    ratio = r["rps"] / floor["rps"] if floor["rps"] else 0
    print(f"{name:14} {r['rps']:>9.0f} {r['p50_ms']:>7.2f} {r['p90_ms']:>7.2f} {r['p95_ms']:>7.2f} "
          f"{r['p99_ms']:>7.2f} {r['max_ms']:>7.1f} {errs:>6} {r['non200']:>7} "
          f"{'1/' + format(1 / ratio, '.1f') if ratio else '-':>8} "
          f"{(peak / 1024 if name != 'nginx-static' else 0):>11.1f}")
print(f"\nserver RSS: idle {signed / 1024:.1f} MB (signed in, no page yet), "
      f"{idle / 1024:.1f} MB (after the check's pages), peak sampled under load "
      f"{max(p for n, p, _ in rows if n != 'nginx-static') / 1024:.1f} MB, "
      f"VmHWM {hwm / 1024:.1f} MB, after load {after / 1024:.1f} MB, "
      f"30 s after load {quiet / 1024:.1f} MB")
res = {n: r for n, _, r in rows}
def verdict(ok):
    return "PASS" if ok else "FAIL"
for n in ("queue-open", "ticket-view"):
    r = res[n]
    if r["non200"] or r["err_timeout"]:
        print(f"target {n}: FAIL ({r['non200']} non-200 answers, {r['err_timeout']} timeouts)")
        continue
    print(f"target {n}: >= 1/8 nginx {verdict(r['rps'] >= floor['rps'] / 8)}, "
          f">= 2000 req/s {verdict(r['rps'] >= 2000)}, p99 <= 25 ms {verdict(r['p99_ms'] <= 25)}")
s = res["search"]
s_ok = s["requests"] > 0 and s["non200"] == 0 and s["err_timeout"] == 0 and s["p95_ms"] <= 50
print(f"target search: p95 <= 50 ms {verdict(s_ok)} ({s['p95_ms']:.1f} ms over "
      f"{s['requests']} requests, {s['err_timeout']} timeouts)")
print(f"target RSS: idle <= 25 MB {verdict(signed <= 25 * 1024)} signed in with no page yet, "
      f"{verdict(idle <= 25 * 1024)} 1 s after the check's pages, "
      f"{verdict(quiet <= 25 * 1024)} 30 s after the load; under load <= 80 MB "
      f"{verdict(hwm <= 80 * 1024)}")
bad = sum(r["non200"] for r in res.values())
if bad:
    print(f"WARNING: {bad} answers other than 200: those runs did not time real pages")
EOF
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "raw wrk output and logs: $work"
