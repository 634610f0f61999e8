#!/usr/bin/env python3
"""Real TLS mail clients (imaplib, poplib, smtplib and raw sockets wrapped by
Python's ssl module) for Postern's TLS integration tests.

    tls_client.py login  PROTO MODE HOST PORT USER PASS --ca CA [--servername N]
                         [--cert C --key K] [--method plain|external]
        PROTO imap|pop3|smtp; MODE ssl (implicit TLS) or starttls. Logs in and,
        for IMAP, selects the INBOX. Reports capabilities before and after TLS.
    tls_client.py inject PROTO HOST PORT --ca CA
        Sends STARTTLS and a second command in one write, does the handshake,
        and reports whether the second command was ever answered.
    tls_client.py plain  PROTO HOST PORT USER PASS
        No TLS: reports the capabilities and the answer to a login attempt.
    tls_client.py large  HOST PORT USER PASS FOLDER --ca CA
        IMAP on implicit TLS: fetches message 1 of FOLDER, reports size and SHA-256.
    tls_client.py cert   HOST PORT --ca CA [--cert C --key K]
        IMAP on implicit TLS with an optional client certificate: reports the
        first line the proxy sends and whether AUTHENTICATE EXTERNAL succeeds.

Each command prints one JSON object and exits 0 when it ran to the end (the
JSON carries what was seen; the Swift test judges it). Every socket has a timeout.
"""

import argparse
import base64
import hashlib
import imaplib
import json
import poplib
import smtplib
import socket
import ssl
import sys
import time

TIMEOUT = 20.0


def report(**fields):
    print(json.dumps(fields, sort_keys=True), flush=True)
    return 0


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def context(args):
    """A verifying context that checks (and sends in SNI) the name the test
    gives, whatever host the library connects to (127.0.0.1)."""
    ctx = ssl.create_default_context(cafile=args.ca)
    if getattr(args, "cert", None):
        ctx.load_cert_chain(args.cert, args.key)
    name = getattr(args, "servername", None) or "mail.test"
    wrap = ctx.wrap_socket

    def wrap_with_name(sock, *rest, server_hostname=None, **options):
        return wrap(sock, *rest, server_hostname=name, **options)

    ctx.wrap_socket = wrap_with_name
    return ctx


def imap_login(args):
    ctx = context(args)
    if args.mode == "ssl":
        client = imaplib.IMAP4_SSL(args.host, args.port, ssl_context=ctx, timeout=TIMEOUT)
        before = []
    else:
        client = imaplib.IMAP4(args.host, args.port, timeout=TIMEOUT)
        before = sorted(client.capabilities)
        client.starttls(ssl_context=ctx)
    peer = client.sock.getpeercert()
    after = sorted(client.capabilities) if args.mode == "ssl" else sorted(text(c) for c in imap_caps(client))
    if args.method == "external":
        typ, data = client.authenticate("EXTERNAL", lambda _: args.user.encode())
    else:
        typ, data = client.login(args.user, args.password)
    typ, data = client.select("INBOX", readonly=True)
    exists = int(data[0]) if typ == "OK" else -1
    cipher, reused = client.sock.cipher()[0], client.sock.session_reused
    client.logout()
    return report(proto="imap", mode=args.mode, before=before, after=after, exists=exists,
                  subject=dict(x[0] for x in peer.get("subject", ())).get("commonName", ""),
                  cipher=cipher, reused=reused)


def imap_caps(client):
    typ, data = client.capability()
    return text(data[0]).split()


def pop3_login(args):
    ctx = context(args)
    if args.mode == "ssl":
        client = poplib.POP3_SSL(args.host, args.port, context=ctx, timeout=TIMEOUT)
        before = []
    else:
        client = poplib.POP3(args.host, args.port, timeout=TIMEOUT)
        before = sorted(client.capa().keys())
        client.stls(context=ctx)
    after = sorted(client.capa().keys())
    client.user(args.user)
    client.pass_(args.password)
    count, _ = client.stat()
    client.quit()
    return report(proto="pop3", mode=args.mode, before=before, after=after, exists=count)


def smtp_login(args):
    ctx = context(args)
    if args.mode == "ssl":
        client = smtplib.SMTP_SSL(args.host, args.port, context=ctx, timeout=TIMEOUT)
        client.ehlo("client.test")
        before = []
    else:
        client = smtplib.SMTP(args.host, args.port, timeout=TIMEOUT)
        client.ehlo("client.test")
        before = sorted(client.esmtp_features.keys())
        client.starttls(context=ctx)
        client.ehlo("client.test")
    after = sorted(client.esmtp_features.keys())
    client.login(args.user, args.password)
    code, _ = client.noop()
    client.quit()
    return report(proto="smtp", mode=args.mode, before=before, after=after, exists=code)


def login(args):
    return {"imap": imap_login, "pop3": pop3_login, "smtp": smtp_login}[args.proto](args)


def read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def read_for(sock, seconds):
    """Everything the peer sends within `seconds` (until it closes or goes quiet)."""
    sock.settimeout(seconds)
    data = b""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, ssl.SSLWantReadError):
            break
        except (ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def inject(args):
    """RFC 3207 §4.2 / the 2011 STARTTLS injection: the second command sent in
    the same packet as STARTTLS must be thrown away, never answered over TLS."""
    commands = {
        "imap": (b"a STARTTLS\r\nb CAPABILITY\r\n", b"c NOOP\r\n", b"b "),
        "pop3": (b"STLS\r\nCAPA\r\n", b"NOOP\r\n", None),
        "smtp": (b"STARTTLS\r\nRSET\r\n", b"NOOP\r\n", None),
    }
    first, probe, injected_tag = commands[args.proto]
    sock = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    greeting = read_line(sock)
    if args.proto == "smtp":
        sock.sendall(b"EHLO client.test\r\n")
        while True:
            line = read_line(sock)
            if not line or line[3:4] == b" ":
                break
    sock.sendall(first)
    answer = read_line(sock)
    tls = context(args).wrap_socket(sock, server_hostname="mail.test")
    # Anything the proxy sends now, unasked, would be the answer to the injected command.
    unasked = read_for(tls, 1.5)
    tls.settimeout(TIMEOUT)
    tls.sendall(probe)
    probe_answer = read_for(tls, 2.0)
    if injected_tag is not None:
        injected_answered = any(line.startswith(injected_tag) for line in (unasked + probe_answer).split(b"\r\n"))
    else:
        # POP3/SMTP have no tags: exactly one reply must come, to the probe.
        replies = [line for line in (unasked + probe_answer).split(b"\r\n") if line and not line.startswith(b" ")]
        injected_answered = bool(unasked) or len(replies) != 1
    tls.close()
    return report(greeting=text(greeting), starttls_answer=text(answer), unasked=text(unasked),
                  probe_answer=text(probe_answer), injected_answered=injected_answered)


def plain(args):
    sock = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    greeting = text(read_line(sock))
    if args.proto == "imap":
        sock.sendall(b"a CAPABILITY\r\n")
        caps = text(read_line(sock)) + text(read_line(sock))
        sock.sendall(b"b LOGIN " + args.user.encode() + b" " + args.password.encode() + b"\r\n")
        login_answer = text(read_line(sock))
        sock.sendall(b"c AUTHENTICATE PLAIN\r\n")
        auth_answer = text(read_line(sock))
    elif args.proto == "pop3":
        sock.sendall(b"CAPA\r\n")
        caps = text(read_for(sock, 1.0))
        sock.sendall(b"USER " + args.user.encode() + b"\r\n")
        login_answer = text(read_line(sock))
        sock.sendall(b"AUTH PLAIN\r\n")
        auth_answer = text(read_line(sock))
    else:
        sock.sendall(b"EHLO client.test\r\n")
        caps = text(read_for(sock, 1.0))
        plain_token = base64.b64encode(b"\0" + args.user.encode() + b"\0" + args.password.encode())
        sock.sendall(b"AUTH PLAIN " + plain_token + b"\r\n")
        login_answer = text(read_line(sock))
        auth_answer = ""
    sock.close()
    return report(greeting=greeting, capabilities=caps, login_answer=login_answer, auth_answer=auth_answer)


def large(args):
    client = imaplib.IMAP4_SSL(args.host, args.port, ssl_context=context(args), timeout=TIMEOUT)
    client.login(args.user, args.password)
    client.select(args.folder, readonly=True)
    started = time.monotonic()
    typ, fetched = client.fetch("1", "(BODY.PEEK[])")
    seconds = time.monotonic() - started
    body = fetched[0][1]
    client.logout()
    return report(size=len(body), sha256=hashlib.sha256(body).hexdigest(), seconds=round(seconds, 3))


def cert(args):
    ctx = context(args)
    sock = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    try:
        tls = ctx.wrap_socket(sock, server_hostname="mail.test")
    except (ssl.SSLError, OSError) as error:
        return report(handshake=False, error=str(error), first="", external="")
    first = text(read_line(tls))
    external = ""
    if first.startswith("* OK"):
        tls.sendall(b"a AUTHENTICATE EXTERNAL " + base64.b64encode(args.user.encode()) + b"\r\n")
        external = text(read_line(tls))
        tls.sendall(b"b LOGOUT\r\n")
    tls.close()
    return report(handshake=True, first=first, external=external)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("login")
    p.add_argument("proto")
    p.add_argument("mode", choices=["ssl", "starttls"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("user")
    p.add_argument("password")
    p.add_argument("--ca", required=True)
    p.add_argument("--servername")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--method", default="plain")
    p = sub.add_parser("inject")
    p.add_argument("proto")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--ca", required=True)
    p = sub.add_parser("plain")
    p.add_argument("proto")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("user")
    p.add_argument("password")
    p = sub.add_parser("large")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("user")
    p.add_argument("password")
    p.add_argument("folder")
    p.add_argument("--ca", required=True)
    p = sub.add_parser("cert")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("user")
    p.add_argument("--ca", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    args = parser.parse_args()
    try:
        return {"login": login, "inject": inject, "plain": plain, "cert": cert, "large": large}[args.command](args)
    except Exception as error:  # the test reads the JSON
        report(error=f"{type(error).__name__}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
