#!/usr/bin/env python3
"""Pipe benchmark driver (issue 2): pipes a set of varied messages into
`oxidesk pipe`, one process per message as an MTA does, and into a floor of
one `sqlite3` CLI process per message inserting the raw bytes into a WAL
database; then the same with 4 concurrent workers. `oxidesk pipe` runs
twice each time: with `--direct` (each process opens the database, as
when `oxidesk serve` is not running) and with `oxidesk serve` running (the
process hands the message to the server over the intake socket, as in
production). Reports messages/s,
p50/p99 wall time per message and peak RSS (exact per child via wait4's
rusage), retries (exit 75), failures, and verifies that nothing was lost or
duplicated.

Only talks to local files and child processes. Every loop is bounded.
Run through benches/pipe.sh, which prepares the binary and the seeded
database.
"""

import argparse
import base64
import email.charset
import email.utils
import hashlib
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

MAX_RETRIES = 20          # per message, for exit 75 (what an MTA would retry)
CHILD_TIMEOUT_S = 60      # a single pipe process taking longer is a failure
EX_TEMPFAIL = 75

# --------------------------------------------------------------------------
# Message generation
# --------------------------------------------------------------------------

EN_LINES = [
    "Hello, our website has been down since this morning.",
    "I cannot send mail from Outlook, it keeps asking for the password.",
    "The invoice was charged twice, please refund one of them.",
    "Could you please check the DNS records for our domain?",
    "The SSL certificate expired yesterday and customers see a warning.",
    "Thanks for the quick help, everything works again.",
    "Unfortunately the problem came back after the update.",
    "Attached is a screenshot of the error message.",
]
INTL = {
    "fa": ("utf-8", "مشکل در ارسال ایمیل", [
        "سلام، از امروز صبح سایت ما باز نمی‌شود.",
        "لطفاً وضعیت سرور ایمیل را بررسی کنید.",
        "فاکتور ما دو بار پرداخت شده است.",
    ]),
    "ar": ("utf-8", "مشكلة في البريد الإلكتروني", [
        "السلام عليكم، الموقع لا يعمل منذ الصباح.",
        "أرجو التحقق من إعدادات النطاق.",
        "شكراً جزيلاً على المساعدة السريعة.",
    ]),
    "am": ("utf-8", "ኢሜይል መላክ አልቻልኩም", [
        "ሰላም፣ ድረ-ገጻችን ከዛሬ ጠዋት ጀምሮ አይሰራም።",
        "እባካችሁ አገልጋዩን ፈትሹልን።",
    ]),
    "ar-1256": ("windows-1256", "مشكلة في الفاتورة", [
        "السلام عليكم، تم خصم الفاتورة مرتين.",
        "أرجو إعادة المبلغ في أقرب وقت.",
    ]),
    "de": ("iso-8859-1", "Größenänderung des Postfachs", [
        "Sehr geehrte Damen und Herren, unser Postfach ist voll.",
        "Könnten Sie bitte die Größe ändern? Grüße aus Köln.",
    ]),
    "ru": ("koi8-r", "Не работает почта", [
        "Здравствуйте, с утра не отправляются письма.",
        "Пожалуйста, проверьте сервер.",
    ]),
    "ru-1251": ("windows-1251", "Счёт на оплату", [
        "Добрый день, прошу выставить счёт.",
    ]),
    "ja": ("iso-2022-jp", "メールが届きません", [
        "お世話になっております。メールが届きません。",
        "確認をお願いいたします。",
    ]),
    "ja-sjis": ("shift_jis", "サーバーが遅い", [
        "サーバーの応答がとても遅いです。",
    ]),
    "zh": ("gb18030", "网站无法访问", [
        "您好，我们的网站从今天早上开始无法访问。",
    ]),
    "pl": ("iso-8859-2", "Zażółć gęślą jaźń", [
        "Dzień dobry, mamy problem z pocztą.",
    ]),
}


def body_text(rng, lines, min_len, max_len):
    target = rng.randint(min_len, max_len)
    out = []
    size = 0
    for _ in range(10_000):  # bounded
        if size >= target:
            break
        line = rng.choice(lines)
        out.append(line)
        size += len(line.encode("utf-8")) + 1
    return "\n".join(out) + "\n"


def pick_size(rng):
    r = rng.random()
    if r < 0.6:
        return 80, 1_500
    if r < 0.9:
        return 1_500, 12_000
    return 12_000, 80_000


class Gen:
    def __init__(self, rng, seeded, run_tag):
        self.rng = rng
        self.seeded = seeded
        self.tag = run_tag
        self.n = 0

    def mid(self):
        self.n += 1
        return f"<bench.{self.tag}.{self.n}.{self.rng.getrandbits(40):x}@sender.example>"

    def sender(self):
        rng = self.rng
        if self.seeded["emails"] and rng.random() < 0.5:
            addr = rng.choice(self.seeded["emails"])
        else:
            addr = f"new.customer.{rng.randint(1, 10**9)}@mail{rng.randint(1, 50)}.example"
        name = rng.choice(["Anna Schmidt", "Reza Karimi", "علی رضایی", "ليلى خالد",
                           "ሰላም ተስፋዬ", "José Núñez", ""])
        return name, addr

    def headers(self, msg, subject, charset="utf-8", in_reply_to=None, refs=None):
        name, addr = self.sender()
        if name:
            msg["From"] = email.utils.formataddr((str(Header(name, "utf-8")), addr))
        else:
            msg["From"] = addr
        msg["To"] = "support@helpdesk.example"
        try:
            subject.encode("ascii")
            msg["Subject"] = subject
        except UnicodeEncodeError:
            msg["Subject"] = Header(subject, charset if charset != "iso-2022-jp" else "iso-2022-jp")
        msg["Date"] = email.utils.formatdate(localtime=False)
        m = self.mid()
        msg["Message-ID"] = m
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
            msg["References"] = refs or in_reply_to
        return m

    def text_part(self, lang, lo, hi):
        charset, subject, lines = INTL.get(lang, ("utf-8", None, EN_LINES))
        text = body_text(self.rng, lines, lo, hi)
        if charset == "utf-8":
            part = MIMEText(text, "plain", "utf-8")
        else:
            part = MIMEText(text.encode(charset).decode(charset), "plain", charset)
        return part, subject, charset

    def new_ticket(self, kind, in_reply_to=None, refs=None, subject_override=None):
        rng = self.rng
        lo, hi = pick_size(rng)
        lang = "en"
        if kind == "intl":
            lang = rng.choice(list(INTL))
        part, subj, charset = self.text_part(lang, lo, hi)
        subject = subject_override or subj or rng.choice(
            ["Website down", "Mailbox full", "Invoice question", "SSL renewal",
             "Cannot log in", "Slow server", "Refund please"]) + f" {rng.randint(1, 99999)}"
        if kind == "html":
            msg = MIMEMultipart("alternative")
            msg.attach(part)
            text = part.get_payload(decode=True).decode(charset, "replace")
            html = "<html><body>" + "".join(
                f"<p style=\"color:#333\">{line}</p>" for line in text.splitlines()
            ) + "<script>alert(1)</script></body></html>"
            msg.attach(MIMEText(html, "html", "utf-8"))
        elif kind == "attach":
            msg = MIMEMultipart("mixed")
            msg.attach(part)
            for i in range(rng.randint(1, 3)):
                size = rng.choice([20_000, 80_000, 300_000, 1_200_000])
                data = rng.randbytes(size)
                if rng.random() < 0.5:
                    att = MIMEImage(b"\x89PNG\r\n\x1a\n" + data, "png")
                    fname = rng.choice(["screenshot.png", "تصویر.png", "ስዕል.png"])
                else:
                    att = MIMEApplication(b"%PDF-1.4\n" + data, "pdf")
                    fname = rng.choice(["invoice.pdf", "Größe.pdf", "فاتورة.pdf"])
                att.add_header("Content-Disposition", "attachment",
                               filename=("utf-8", "", fname))
                msg.attach(att)
        else:
            msg = part
        m = self.headers(msg, subject, charset, in_reply_to, refs)
        if kind == "auto":
            msg["Auto-Submitted"] = "auto-replied"
            msg["X-Autoreply"] = "yes"
        return m, msg.as_bytes()


def build_messages(corpus_dir, seeded, count, seed):
    """Groups of messages (a conversation's messages, in order). Returns
    (groups, stats) where each group is a list of (label, bytes)."""
    rng = random.Random(seed)
    gen = Gen(rng, seeded, f"{seed}")
    groups = []
    labels = {}

    def add(group, label, data):
        group.append((label, data))
        labels[label] = labels.get(label, 0) + 1

    corpus = []
    if corpus_dir and Path(corpus_dir).is_dir():
        for p in sorted(Path(corpus_dir).rglob("*")):
            if p.is_file() and not p.name.endswith((".yml", ".md", ".tsv")) \
                    and not p.name.startswith("."):
                corpus.append(p.read_bytes())
    for data in corpus:
        g = []
        add(g, "corpus", data)
        groups.append(g)
    total = len(corpus)
    for _ in range(100_000):  # bounded
        if total >= count:
            break
        r = rng.random()
        g = []
        if r < 0.30:
            add(g, "plain", gen.new_ticket("plain")[1])
        elif r < 0.45:
            add(g, "intl-charset", gen.new_ticket("intl")[1])
        elif r < 0.58:
            add(g, "html", gen.new_ticket("html")[1])
        elif r < 0.65:
            add(g, "attachments", gen.new_ticket("attach")[1])
        elif r < 0.73 and seeded["message_ids"]:
            parent = "<" + rng.choice(seeded["message_ids"]) + ">"
            add(g, "reply-by-header", gen.new_ticket("plain", in_reply_to=parent)[1])
        elif r < 0.80 and seeded["numbers"]:
            num = rng.choice(seeded["numbers"])
            add(g, "reply-by-token",
                gen.new_ticket("plain", subject_override=f"Re: [#{num}] still broken")[1])
        elif r < 0.90:
            # A conversation inside the run: new ticket, then 1-3 replies.
            mid, data = gen.new_ticket("plain")
            add(g, "thread-start", data)
            refs = mid
            for _ in range(rng.randint(1, 3)):
                if total + len(g) >= count:
                    break
                m2, d2 = gen.new_ticket("plain", in_reply_to=mid, refs=refs)
                add(g, "thread-reply", d2)
                refs = refs + " " + m2
                mid = m2
        elif r < 0.93:
            add(g, "auto-reply", gen.new_ticket("auto")[1])
        else:
            # Redelivery of an earlier message (an MTA retry after a timeout).
            if groups:
                src = rng.choice(groups)
                label, data = rng.choice(src)
                add(src, "redelivery", data)
                total += 1
                continue
            add(g, "plain", gen.new_ticket("plain")[1])
        groups.append(g)
        total += len(g)
    # Trim to exactly `count` messages, from the end.
    while sum(len(g) for g in groups) > count:
        groups[-1].pop()
        if not groups[-1]:
            groups.pop()
    # Interleave groups deterministically but keep each group's order.
    order = list(range(len(groups)))
    rng.shuffle(order)
    groups = [groups[i] for i in order]
    return groups, labels


def flatten(groups):
    """A sequential delivery order: round-robin through groups so replies
    come after the message they answer but not right after it."""
    out = []
    queues = [list(g) for g in groups]
    for _ in range(10_000):  # bounded rounds
        progressed = False
        for q in queues:
            if q:
                out.append(q.pop(0))
                progressed = True
        if not progressed:
            break
    return out


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------

def run_set(name, argv, workers_msgs, env, work, launcher, stdin_mode, log_path):
    """Run every worker's messages through the launcher; collect stats."""
    jobs = work / f"jobs-{len(workers_msgs)}.tsv"
    with open(jobs, "w") as f:
        for w, msgs in enumerate(workers_msgs):
            for path in msgs:
                f.write(f"{w}\t{path}\n")
    with open(log_path, "ab") as log:
        proc = subprocess.run([launcher, "--jobs", str(jobs), "--workers",
                               str(len(workers_msgs)), "--stdin", stdin_mode,
                               "--retry-code", str(EX_TEMPFAIL), "--max-retries",
                               str(MAX_RETRIES), "--timeout-s", str(CHILD_TIMEOUT_S),
                               "--"] + argv,
                              env=env, stdout=subprocess.PIPE, stderr=log, check=True)
    (work / f"launch-{name.replace(' ', '_').replace(',', '').replace('/', '')}.jsonl").write_bytes(
        proc.stdout)
    walls, rss, fail_codes = [], [], {}
    ok = retries = failures = gave_up = 0
    total_us = 0
    for line in proc.stdout.decode().splitlines():
        rec = json.loads(line)
        if "total_us" in rec:
            total_us = rec["total_us"]
            continue
        walls.append(rec["us"] / 1e6)
        rss.append(rec["rss_kb"])
        code = rec["code"]
        if code == 0:
            ok += 1
        elif code == EX_TEMPFAIL:
            if rec["attempt"] >= MAX_RETRIES:
                gave_up += 1
            else:
                retries += 1
        else:
            failures += 1
            fail_codes[code] = fail_codes.get(code, 0) + 1
    total = total_us / 1e6
    n = sum(len(m) for m in workers_msgs)
    walls.sort()
    rss.sort()
    return {"name": name, "messages": n, "total_s": total, "per_s": n / total if total else 0,
            "p50_ms": pct(walls, 50) * 1000, "p99_ms": pct(walls, 99) * 1000,
            "max_ms": (walls[-1] * 1000 if walls else 0), "workers": len(workers_msgs),
            "rss": rss[-1] if rss else 0, "rss_p50_kb": pct(rss, 50), "ok": ok,
            "retries": retries, "failures": failures, "fail_codes": fail_codes,
            "gave_up": gave_up}


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0
    k = min(len(sorted_vals) - 1, max(0, round(p / 100 * (len(sorted_vals) - 1))))
    return sorted_vals[k]


def split_workers(groups, n):
    """Conversations go whole to one worker (round-robin), so a reply is
    never piped before the message it answers; each worker interleaves its
    conversations like the sequential order does."""
    per = [[] for _ in range(n)]
    for i, g in enumerate(groups):
        per[i % n].append(g)
    return [flatten(gs) for gs in per]


def db_counts(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        out = {}
        for table in ("tickets", "entries", "raw_messages", "attachments", "customers"):
            try:
                out[table] = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            except sqlite3.Error:
                out[table] = None
        try:
            out["raw_by_status"] = dict(con.execute(
                "SELECT status, COUNT(*) FROM raw_messages GROUP BY status").fetchall())
        except sqlite3.Error:
            out["raw_by_status"] = {}
        return out
    finally:
        con.close()


def message_id_hits(path, mids):
    """How many entries carry each generated Message-ID."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        res = {}
        for m in mids:
            res[m] = con.execute("SELECT COUNT(*) FROM entries WHERE message_id = ?",
                                 (m,)).fetchone()[0]
        return res
    finally:
        con.close()


def seeded_refs(db, rng_seed, limit=300):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rng = random.Random(rng_seed)
        max_id = con.execute("SELECT MAX(id) FROM tickets").fetchone()[0] or 0
        ids = [rng.randint(1, max_id) for _ in range(limit)] if max_id else []
        numbers, mids, emails = [], [], []
        for tid in ids:
            row = con.execute("SELECT number FROM tickets WHERE id = ?", (tid,)).fetchone()
            if row:
                numbers.append(row[0])
            row = con.execute("SELECT message_id FROM entries WHERE ticket_id = ? AND "
                              "message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
                              (tid,)).fetchone()
            if row:
                mids.append(row[0])
            row = con.execute("SELECT email FROM customer_identities WHERE id = ?",
                              (tid,)).fetchone()
            if row:
                emails.append(row[0])
        return {"numbers": numbers, "message_ids": mids, "emails": emails}
    finally:
        con.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid, key):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_server(args, oenv, odb, work, tag):
    """`oxidesk serve` on the copy, as in production: `pipe` then hands its
    messages to it over the intake socket beside the database."""
    port = free_port()
    log = open(work / f"serve-{tag}.log", "ab")
    srv = subprocess.Popen([args.bin, "serve", "--listen", f"127.0.0.1:{port}"], env=oenv,
                           stdout=log, stderr=log)
    sock = Path(os.path.realpath(odb) + "-intake.sock")
    deadline = time.time() + 60
    while not sock.exists():
        if srv.poll() is not None or time.time() > deadline:
            srv.kill()
            sys.exit(f"pipe_driver: oxidesk serve did not open {sock}; see {log.name}")
        time.sleep(0.05)
    return srv


def stop_server(srv):
    srv.terminate()
    try:
        srv.wait(timeout=30)
    except subprocess.TimeoutExpired:
        srv.kill()
        srv.wait()


def run_oxidesk(args, variant, mode, wl, env, work, seq, distinct, gen_mids, checks):
    """One timed run of `oxidesk pipe` into a fresh copy of the seeded
    database: `direct` (each process opens the database) or `served` (a
    running `oxidesk serve` files what the processes hand it)."""
    odb = work / "oxidesk.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(odb) + suffix).unlink(missing_ok=True)
    subprocess.run(["cp", args.seeded_db, str(odb)], check=True)
    oenv = dict(env, OXIDESK_DB=str(odb))
    # Migrations newer than the cached seed are applied before timing,
    # as an upgraded installation does at its first start; the copy it
    # saves first is removed at once.
    subprocess.run([args.bin, "migrate"], env=oenv, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for bak in work.glob("oxidesk.db.pre-*.bak"):
        bak.unlink()
    srv = start_server(args, oenv, odb, work, f"{variant}-{len(wl)}") if variant == "served" else None
    # The copy leaves hundreds of MB of dirty pages: write them out now,
    # or the first fsync of the timed run pays for flushing them.
    os.sync()
    before = db_counts(odb)
    if srv:
        srv_rss_before = proc_status(srv.pid, "VmRSS")
        name, argv = f"oxidesk pipe → serve, {mode}", [args.bin, "pipe"]
    else:
        name, argv = f"oxidesk pipe --direct, {mode}", [args.bin, "pipe", "--direct"]
    r = run_set(name, argv, wl, oenv, work, args.launcher, "pipe",
                work / f"oxidesk-{variant}-{len(wl)}.log")
    if srv:
        r["server_rss_before_kb"] = srv_rss_before
        r["server_rss_after_kb"] = proc_status(srv.pid, "VmRSS")
        r["server_hwm_kb"] = proc_status(srv.pid, "VmHWM")
        stop_server(srv)
        checks.append(
            f"oxidesk serve during '{name}': RSS {r['server_rss_before_kb'] / 1024:.1f} MB before, "
            f"{r['server_rss_after_kb'] / 1024:.1f} MB after, peak {r['server_hwm_kb'] / 1024:.1f} MB")
    after = db_counts(odb)
    delta = {k: (after[k] - before[k]) if isinstance(after[k], int)
             and isinstance(before[k], int) else None
             for k in ("tickets", "entries", "raw_messages", "attachments", "customers")}
    r["db_delta"] = delta
    r["raw_by_status"] = after["raw_by_status"]
    hits = message_id_hits(odb, gen_mids)
    lost = [m for m, c in hits.items() if c == 0]
    dup = [m for m, c in hits.items() if c > 1]
    checks.append(
        f"{name}: new tickets {delta['tickets']}, new entries {delta['entries']}, "
        f"raw messages +{delta['raw_messages']} (expected {len(distinct)} distinct), "
        f"generated Message-IDs: {len(gen_mids) - len(lost) - len(dup)} once, "
        f"{len(lost)} missing, {len(dup)} duplicated")
    r["lost_mids"] = len(lost)
    r["dup_mids"] = len(dup)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--launcher", required=True, help="benches/tools/spawn.rs, built")
    ap.add_argument("--seeded-db", required=True, help="template DB (copied per run)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--corpus", default="")
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", default="")
    ap.add_argument("--skip-oxidesk", action="store_true",
                    help="only the floor (when `pipe` is not available yet)")
    args = ap.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    seeded = seeded_refs(args.seeded_db, args.seed)
    groups, labels = build_messages(args.corpus, seeded, args.messages, args.seed)
    # Write every message to a file once (untimed); runs refer to paths.
    msgdir = work / "messages"
    msgdir.mkdir(exist_ok=True)
    paths = {}
    for g in groups:
        for j, (label, data) in enumerate(g):
            h = hashlib.sha256(data).hexdigest()[:16]
            p = msgdir / f"{h}.eml"
            if h not in paths:
                p.write_bytes(data)
                paths[h] = p
            g[j] = (label, data, p)
    seq = flatten(groups)
    par = [[p for _, _, p in w] for w in split_workers(groups, args.workers)]
    seq_paths = [p for _, _, p in seq]
    seq = [(label, data) for label, data, _ in seq]
    distinct = {hashlib.sha256(d).hexdigest() for _, d in seq}
    total_bytes = sum(len(d) for _, d in seq)
    print(f"messages: {len(seq)} ({len(distinct)} distinct, {total_bytes / 1e6:.1f} MB); "
          + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())), flush=True)
    gen_mids = []
    for label, d in seq:
        if label in ("plain", "intl-charset", "html", "attachments", "thread-start",
                     "thread-reply", "reply-by-header", "reply-by-token", "auto-reply"):
            head = d.split(b"\n\n", 1)[0]
            for line in head.split(b"\n"):
                if line.lower().startswith(b"message-id:"):
                    gen_mids.append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
    gen_mids = sorted(set(gen_mids))

    results = []
    checks = []
    env = dict(os.environ)
    env.setdefault("OXIDESK_LOG", "info")

    # Floor: sqlite3 CLI, one process per message, raw insert into WAL.
    floor_argv = lambda db: ["sqlite3", "-cmd", ".timeout 10000", str(db),
                             "PRAGMA synchronous=NORMAL; "
                             "INSERT INTO raw(data) VALUES (readfile('/dev/stdin'));"]

    def fresh_floor(db):
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        subprocess.run(["sqlite3", str(db),
                        "PRAGMA journal_mode=WAL; CREATE TABLE raw(data BLOB);"],
                       check=True, stdout=subprocess.DEVNULL)

    # Spawn cost alone, for scale.
    r = run_set("spawn only (/bin/true)", ["/bin/true"], [seq_paths], env, work,
                args.launcher, "file", work / "true.log")
    results.append(r)

    for mode, wl in (("1 worker", [seq_paths]), (f"{args.workers} workers", par)):
        fdb = work / "floor.db"
        fresh_floor(fdb)
        os.sync()
        r = run_set(f"floor sqlite3, {mode}", floor_argv(fdb), wl, env, work,
                    args.launcher, "file", work / "floor.log")
        rows = sqlite3.connect(str(fdb)).execute("SELECT COUNT(*) FROM raw").fetchone()[0]
        checks.append(f"floor {mode}: {rows} rows for {len(seq)} deliveries "
                      f"({'OK' if rows == len(seq) else 'MISMATCH'})")
        results.append(r)
        if args.skip_oxidesk:
            continue
        for variant in ("direct", "served"):
            r = run_oxidesk(args, variant, mode, wl, env, work, seq, distinct, gen_mids, checks)
            results.append(r)

    # Table.
    floor1 = next((x for x in results if x["name"].startswith("floor") and x["workers"] == 1), None)
    print()
    hdr = (f"{'run':34} {'msgs':>5} {'total s':>8} {'msg/s':>7} {'p50 ms':>7} "
           f"{'p99 ms':>7} {'max ms':>7} {'peak RSS MB':>11} {'retries':>7} {'fail':>5} "
           f"{'vs floor':>8}")
    print(hdr)
    print("-" * len(hdr))
    for x in results:
        same_floor = next((f for f in results if f["name"].startswith("floor")
                           and f["workers"] == x["workers"]), floor1)
        ratio = x["total_s"] / same_floor["total_s"] if same_floor and same_floor["total_s"] else 0
        print(f"{x['name']:34} {x['messages']:>5} {x['total_s']:>8.2f} {x['per_s']:>7.1f} "
              f"{x['p50_ms']:>7.1f} {x['p99_ms']:>7.1f} {x['max_ms']:>7.1f} "
              f"{x['rss'] / 1024:>11.1f} {x['retries']:>7} {x['failures'] + x['gave_up']:>5} "
              f"{ratio:>7.2f}x")
    print()
    for c in checks:
        print(c)
    for variant in ("--direct", "→ serve"):
        ox1 = next((x for x in results if x["name"] == f"oxidesk pipe {variant}, 1 worker"), None)
        oxn = next((x for x in results if x["name"].startswith(f"oxidesk pipe {variant}")
                    and x["workers"] > 1), None)
        if ox1 and oxn:
            print(f"scaling ({variant}): {oxn['workers']} workers give "
                  f"{oxn['per_s'] / ox1['per_s']:.2f}x the throughput of 1 worker")
        if ox1:
            print(f"targets (pipe {variant}, 1 worker): total within 2x of floor: "
                  f"{'PASS' if ox1['total_s'] <= 2 * floor1['total_s'] else 'FAIL'} "
                  f"({ox1['total_s'] / floor1['total_s']:.2f}x); p99 <= 25 ms: "
                  f"{'PASS' if ox1['p99_ms'] <= 25 else 'FAIL'} ({ox1['p99_ms']:.1f} ms); "
                  f"peak RSS <= 30 MB: {'PASS' if ox1['rss'] <= 30 * 1024 else 'FAIL'} "
                  f"({ox1['rss'] / 1024:.1f} MB per pipe process)")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "checks": checks,
                                               "labels": labels}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
