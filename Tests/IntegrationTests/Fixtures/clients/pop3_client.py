#!/usr/bin/env python3
"""A real POP3 client (Python's poplib) for Postern's integration tests.

    pop3_client.py login HOST PORT USER PASS [--method user|apop|plain|plain-ir|login|cram-md5|external]
    pop3_client.py fail  HOST PORT USER PASS [--method ...]
    pop3_client.py capa  HOST PORT                # greeting, CAPA and a bare AUTH
    pop3_client.py errors HOST PORT               # invalid commands until the server closes
    pop3_client.py raw   HOST PORT USER PASS      # USER/PASS on a raw socket, report every line

Each command prints one JSON object on stdout and exits 0 when the scenario
behaved as expected, 1 when it did not (the JSON says why). Every socket has a
timeout, so a stuck proxy fails the test instead of hanging it.
"""

import argparse
import base64
import hashlib
import hmac
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


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def b64(data):
    return base64.b64encode(data).decode()


def log_in(client, user, password, method):
    """Logs in with one method; poplib has no AUTH, so SASL runs over _shortcmd."""
    if method == "user":
        client.user(user)
        return client.pass_(password)
    if method == "apop":
        return client.apop(user, password)
    if method == "plain":
        # Without initial response: the server answers "+ " and waits for the blob.
        client._shortcmd("AUTH PLAIN")
        return client._shortcmd(b64(f"\0{user}\0{password}".encode()))
    if method == "plain-ir":
        return client._shortcmd("AUTH PLAIN " + b64(f"\0{user}\0{password}".encode()))
    if method == "login":
        client._shortcmd("AUTH LOGIN")
        client._shortcmd(b64(user.encode()))
        return client._shortcmd(b64(password.encode()))
    if method == "cram-md5":
        challenge = client._shortcmd("AUTH CRAM-MD5")
        salt = base64.b64decode(challenge[2:].strip())
        digest = hmac.new(password.encode(), salt, hashlib.md5).hexdigest()
        return client._shortcmd(b64(f"{user} {digest}".encode()))
    if method == "external":
        # RFC 4422 EXTERNAL with the authorization identity as initial response.
        return client._shortcmd("AUTH EXTERNAL " + b64(user.encode()))
    raise ValueError(f"unknown method {method}")


def connect(args):
    return poplib.POP3(args.host, args.port, timeout=TIMEOUT)


def cmd_login(args):
    client = connect(args)
    greeting = text(client.getwelcome())
    reply = text(log_in(client, args.user, args.password, args.method))
    count, size = client.stat()
    subject = ""
    if count:
        _, lines, _ = client.top(1, 0)
        subject = next((text(l) for l in lines if l.lower().startswith(b"subject:")), "")
    client.quit()
    return report(True, greeting=greeting, reply=reply, count=count, size=size, subject=subject)


def cmd_fail(args):
    client = connect(args)
    try:
        log_in(client, args.user, args.password, args.method)
    except poplib.error_proto as error:
        return report(True, error=str(error))
    except (OSError, EOFError) as error:
        return report(False, error=f"connection failed instead of -ERR: {error!r}")
    client.quit()
    return report(False, error="login succeeded")


def cmd_capa(args):
    client = connect(args)
    greeting = text(client.getwelcome())
    capa = {k: v for k, v in client.capa().items()}
    client._putcmd("AUTH")
    first = text(client._getline()[0])
    methods = []
    while True:
        line = text(client._getline()[0])
        if line == ".":
            break
        methods.append(line)
    client.quit()
    return report(True, greeting=greeting, capa=capa, auth_reply=first, auth_methods=methods)


def cmd_errors(args):
    client = connect(args)
    replies = []
    for _ in range(20):
        try:
            client._putcmd("BOGUS")
            replies.append(text(client._getline()[0]))
        except (poplib.error_proto, EOFError, OSError):
            break
    return report(0 < len(replies) < 20, replies=replies)


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
    parser.add_argument("command", choices=["login", "fail", "capa", "errors", "raw"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("user", nargs="?")
    parser.add_argument("password", nargs="?")
    parser.add_argument("--method", default="user")
    args = parser.parse_args()
    try:
        return {"login": cmd_login, "fail": cmd_fail, "capa": cmd_capa, "errors": cmd_errors, "raw": cmd_raw}[args.command](args)
    except Exception as error:  # the JSON carries the failure to the Swift test
        return report(False, error=f"{type(error).__name__}: {error}")


if __name__ == "__main__":
    sys.exit(main())
