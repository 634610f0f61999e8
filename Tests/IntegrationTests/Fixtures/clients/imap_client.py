#!/usr/bin/env python3
"""A real IMAP client (Python's imaplib) for Postern's integration tests.

    imap_client.py login  HOST PORT USER PASS [--method login|plain|auth-login|cram-md5]
    imap_client.py fail   HOST PORT USER PASS [--method ...]
    imap_client.py large  HOST PORT USER PASS FOLDER SHA256
    imap_client.py idle   HOST PORT USER PASS
    imap_client.py raw    HOST PORT USER PASS   # LOGIN on a raw socket, report every line

Each command prints one JSON object on stdout and exits 0 when the scenario
behaved as expected, 1 when it did not (the JSON says why). Every socket has a
timeout, so a stuck proxy fails the test instead of hanging it.
"""

import argparse
import hashlib
import hmac
import imaplib
import json
import socket
import sys
import time

TIMEOUT = 30.0


def report(ok, **fields):
    fields["ok"] = ok
    print(json.dumps(fields, sort_keys=True), flush=True)
    return 0 if ok else 1


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def log_in(client, user, password, method):
    """Logs in with the given method; imaplib.authenticate drives the SASL exchange."""
    if method == "login":
        return client.login(user, password)
    if method == "plain":
        return client.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
    if method == "auth-login":
        # AUTHENTICATE LOGIN: the server prompts "Username:" then "Password:".
        answers = iter([user.encode(), password.encode()])
        return client.authenticate("LOGIN", lambda _: next(answers))
    if method == "cram-md5":
        def respond(challenge):
            digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
            return f"{user} {digest}".encode()
        return client.authenticate("CRAM-MD5", respond)
    raise ValueError(f"unknown method {method}")


def connect(args):
    return imaplib.IMAP4(args.host, args.port, timeout=TIMEOUT)


def cmd_login(args):
    client = connect(args)
    greeting = text(client.welcome)
    typ, data = log_in(client, args.user, args.password, args.method)
    typ, count = client.select("INBOX", readonly=True)
    typ, listing = client.list()
    typ, fetched = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subject = text(fetched[0][1]).strip() if fetched and isinstance(fetched[0], tuple) else ""
    client.logout()
    return report(True, greeting=greeting, exists=int(count[0]), subject=subject,
                  folders=[text(f) for f in listing])


def cmd_fail(args):
    client = connect(args)
    try:
        log_in(client, args.user, args.password, args.method)
    except imaplib.IMAP4.error as error:
        return report(True, error=str(error))
    except (OSError, EOFError) as error:
        return report(False, error=f"connection failed instead of NO: {error!r}")
    client.logout()
    return report(False, error="login succeeded with a wrong password")


def cmd_large(args):
    client = connect(args)
    client.login(args.user, args.password)
    typ, count = client.select(args.folder, readonly=True)
    started = time.monotonic()
    typ, fetched = client.fetch("1", "(BODY.PEEK[])")
    seconds = time.monotonic() - started
    body = fetched[0][1]
    digest = hashlib.sha256(body).hexdigest()
    client.logout()
    return report(digest == args.sha256, size=len(body), sha256=digest, seconds=round(seconds, 3))


class Line:
    """A raw IMAP connection reading CRLF lines, for IDLE (imaplib 3.11 has no idle())."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.buffer = b""

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def read_line(self, deadline):
        while b"\r\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no complete line before the deadline")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def until(self, prefix, seconds=TIMEOUT):
        """Reads lines until one starts with prefix; returns all lines read."""
        deadline = time.monotonic() + seconds
        seen = []
        for _ in range(1000):
            line = self.read_line(deadline)
            seen.append(line)
            if line.startswith(prefix):
                return seen
        raise RuntimeError(f"no line starting {prefix!r} in 1000 lines")


def quoted(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cmd_idle(args):
    conn = Line(args.host, args.port)
    conn.until("* OK")
    conn.send(f"a1 LOGIN {quoted(args.user)} {quoted(args.password)}")
    if not conn.until("a1 ")[-1].startswith("a1 OK"):
        return report(False, error="login failed")
    conn.send("a2 SELECT INBOX")
    before = [l for l in conn.until("a2 ") if l.endswith(" EXISTS")]
    conn.send("a3 IDLE")
    conn.until("+")
    # A second session adds a message; the idling one must hear of it through the proxy.
    other = imaplib.IMAP4(args.host, args.port, timeout=TIMEOUT)
    other.login(args.user, args.password)
    message = b"Subject: idle wakeup\r\n\r\nnew mail while idling\r\n"
    other.append("INBOX", None, None, message)
    other.logout()
    seen = conn.until("* ", seconds=15)
    while not seen[-1].endswith(" EXISTS"):
        seen += conn.until("* ", seconds=15)
    conn.send("DONE")
    done = conn.until("a3 ")[-1]
    conn.send("a4 LOGOUT")
    conn.until("a4 ")
    return report(done.startswith("a3 OK"), before=before, notified=seen[-1], done=done)


def cmd_raw(args):
    """For failure paths: what exactly does the server say to LOGIN, and does it close?"""
    conn = Line(args.host, args.port)
    deadline = time.monotonic() + 15
    greeting = conn.read_line(deadline)
    conn.send(f"a1 LOGIN {quoted(args.user)} {quoted(args.password)}")
    lines, closed = [], False
    try:
        for _ in range(100):
            line = conn.read_line(deadline)
            lines.append(line)
            if line.startswith("a1 "):
                break
    except EOFError:
        closed = True
    except (TimeoutError, socket.timeout, ConnectionResetError):
        pass
    return report(True, greeting=greeting, lines=lines, closed=closed)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("login", "fail", "large", "idle", "raw"):
        p = sub.add_parser(name)
        p.add_argument("host")
        p.add_argument("port", type=int)
        p.add_argument("user")
        p.add_argument("password")
        if name in ("login", "fail"):
            p.add_argument("--method", default="login",
                           choices=["login", "plain", "auth-login", "cram-md5"])
        if name == "large":
            p.add_argument("folder")
            p.add_argument("sha256")
    args = parser.parse_args()
    handler = {"login": cmd_login, "fail": cmd_fail, "large": cmd_large, "idle": cmd_idle, "raw": cmd_raw}[args.command]
    try:
        return handler(args)
    except Exception as error:  # any failure is a test failure with a reason, never a hang
        return report(False, error=f"{type(error).__name__}: {error}")


if __name__ == "__main__":
    sys.exit(main())
