"""A small SMTP server for the outbound tests: STARTTLS or implicit TLS,
AUTH PLAIN/LOGIN required before MAIL, each message written to OUTDIR.

usage: tls_smtp_server.py PORT starttls|tls CERT KEY OUTDIR USER PASSWORD
Prints "ready" once listening.
"""

import base64
import os
import socket
import ssl
import sys
import threading

port, mode, cert, key, outdir, user, password = sys.argv[1:8]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)


class Session:
    def __init__(self, sock):
        self.sock = sock
        self.tls = False
        if mode == "tls":
            self.start_tls()
        self.f = self.sock.makefile("rwb")
        self.authed = False

    def start_tls(self):
        self.sock = ctx.wrap_socket(self.sock, server_side=True)
        self.tls = True
        self.f = self.sock.makefile("rwb")

    def send(self, line):
        self.f.write(line.encode() + b"\r\n")
        self.f.flush()

    def line(self):
        raw = self.f.readline()
        return raw.decode("utf-8", "replace").rstrip("\r\n") if raw else None

    def run(self):
        self.send("220 tls-test ESMTP")
        while True:
            cmd = self.line()
            if cmd is None:
                return
            up = cmd.upper()
            if up.startswith("EHLO") or up.startswith("HELO"):
                caps = ["tls-test"]
                if not self.tls:
                    caps.append("STARTTLS")
                else:
                    caps.append("AUTH PLAIN LOGIN")
                caps.append("8BITMIME")
                for i, c in enumerate(caps):
                    self.send(("250 " if i == len(caps) - 1 else "250-") + c)
            elif up == "STARTTLS" and not self.tls:
                self.send("220 2.0.0 ready to start TLS")
                self.start_tls()
            elif up.startswith("AUTH PLAIN"):
                parts = cmd.split(" ", 2)
                blob = parts[2] if len(parts) > 2 else None
                if blob is None:
                    self.send("334 ")
                    blob = self.line() or ""
                fields = base64.b64decode(blob).split(b"\0")
                self.check(fields[1].decode(), fields[2].decode())
            elif up.startswith("AUTH LOGIN"):
                self.send("334 " + base64.b64encode(b"Username:").decode())
                u = base64.b64decode(self.line() or "").decode()
                self.send("334 " + base64.b64encode(b"Password:").decode())
                p = base64.b64decode(self.line() or "").decode()
                self.check(u, p)
            elif up.startswith("MAIL FROM"):
                if not self.tls:
                    self.send("530 5.7.0 Must issue a STARTTLS command first")
                elif not self.authed:
                    self.send("530 5.7.0 Authentication required")
                else:
                    self.send("250 2.1.0 ok")
            elif up.startswith("RCPT TO"):
                self.send("250 2.1.5 ok")
            elif up == "DATA":
                self.send("354 end with <CRLF>.<CRLF>")
                data = []
                while True:
                    raw = self.f.readline()
                    if not raw or raw in (b".\r\n", b".\n"):
                        break
                    data.append(raw[1:] if raw.startswith(b"..") else raw)
                name = os.path.join(outdir, "%d-%d.eml" % (os.getpid(), len(os.listdir(outdir))))
                with open(name + ".tmp", "wb") as out:
                    out.write(b"".join(data))
                os.rename(name + ".tmp", name)
                self.send("250 2.0.0 Ok: queued as TLSTEST")
            elif up == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("250 2.0.0 ok")

    def check(self, u, p):
        if u == user and p == password:
            self.authed = True
            self.send("235 2.7.0 Authentication successful")
        else:
            self.send("535 5.7.8 Authentication credentials invalid")


def serve(conn):
    try:
        Session(conn).run()
    except (ssl.SSLError, OSError, IndexError, ValueError):
        pass
    finally:
        conn.close()


srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(port)))
srv.listen(8)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
