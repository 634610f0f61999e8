#!/usr/bin/env python3
"""A real POP3 client (Python's poplib) for Postern's integration tests.

    pop3_client.py login HOST PORT USER PASS [--method user|apop]
    pop3_client.py fail  HOST PORT USER PASS [--method user|apop]
    pop3_client.py raw   HOST PORT USER PASS   # USER/PASS on a raw socket, report every line

Each command prints one JSON object on stdout and exits 0 when the scenario
behaved as expected, 1 when it did not. Every socket has a timeout.
"""

import argparse
import json
import poplib
import socket
import sys
import time

TIMEOUT = 30.0


def report(ok, **fields):
    fields["ok"] = ok
    print(json.dumps(fields, sort_keys=True), flush=True)
    return 0 if ok else 1


def log_in(client, user, password, method):
    if method == "apop":
        # RFC 1939 §7: needs the <timestamp> in the greeting; poplib raises if absent.
        return client.apop(user, password)
    client.user(user)
    return client.pass_(password)


def cmd_login(args):
    client = poplib.POP3(args.host, args.port, timeout=TIMEOUT)
    greeting = client.getwelcome().decode("utf-8", "replace")
    log_in(client, args.user, args.password, args.method)
    count, size = client.stat()
    _, lines, _ = client.retr(1)
    subject = next((l.decode() for l in lines if l.lower().startswith(b"subject:")), "")
    client.quit()
    return report(True, greeting=greeting, count=count, size=size, subject=subject)


def cmd_fail(args):
    client = poplib.POP3(args.host, args.port, timeout=TIMEOUT)
    try:
        log_in(client, args.user, args.password, args.method)
    except poplib.error_proto as error:
        return report(True, error=str(error))
    except (OSError, EOFError) as error:
        return report(False, error=f"connection failed instead of -ERR: {error!r}")
    client.quit()
    return report(False, error="login succeeded with a wrong password")


def cmd_raw(args):
    sock = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    reader = sock.makefile("rb")
    deadline = time.monotonic() + 15
    greeting = reader.readline().decode("utf-8", "replace").rstrip("\r\n")
    lines, closed = [], False
    try:
        for command in (f"USER {args.user}", f"PASS {args.password}"):
            sock.sendall(command.encode() + b"\r\n")
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            line = reader.readline()
            if not line:
                closed = True
                break
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if not line.startswith(b"+OK"):
                break
        if not closed:
            sock.settimeout(2)
            if not reader.readline():
                closed = True
    except (TimeoutError, socket.timeout, ConnectionResetError):
        pass
    return report(True, greeting=greeting, lines=lines, closed=closed)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("login", "fail", "raw"):
        p = sub.add_parser(name)
        p.add_argument("host")
        p.add_argument("port", type=int)
        p.add_argument("user")
        p.add_argument("password")
        if name != "raw":
            p.add_argument("--method", default="user", choices=["user", "apop"])
    args = parser.parse_args()
    handler = {"login": cmd_login, "fail": cmd_fail, "raw": cmd_raw}[args.command]
    try:
        return handler(args)
    except Exception as error:
        return report(False, error=f"{type(error).__name__}: {error}")


if __name__ == "__main__":
    sys.exit(main())
