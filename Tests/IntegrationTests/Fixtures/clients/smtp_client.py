#!/usr/bin/env python3
"""A real SMTP client (Python's smtplib, raw sockets where smtplib cannot) for
Postern's integration tests.

    smtp_client.py send     HOST PORT USER PASS MESSAGE [--method plain|plain-noir|login|cram-md5|external]
    smtp_client.py login    HOST PORT USER PASS [--method ...]   # AUTH, NOOP, QUIT
    smtp_client.py none     HOST PORT MESSAGE [--fail-user U --fail-pass P]
    smtp_client.py pipeline HOST PORT USER PASS MESSAGE
    smtp_client.py early    HOST PORT         # talks before the (delayed) greeting
    smtp_client.py errors   HOST PORT         # invalid commands until the server closes

MESSAGE is a file holding the message (CRLF lines); its From: and To: give the
envelope. Each command prints one JSON object on stdout and exits 0 when the
scenario behaved as expected, 1 when it did not (the JSON says why). Every
socket has a timeout, so a stuck proxy fails the test instead of hanging it.
"""

import argparse
import base64
import email
import json
import smtplib
import socket
import sys

TIMEOUT = 30.0


def report(ok, **fields):
    fields["ok"] = ok
    print(json.dumps(fields, sort_keys=True), flush=True)
    return 0 if ok else 1


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def envelope(path):
    data = open(path, "rb").read()
    parsed = email.message_from_bytes(data)
    return data, parsed["From"], parsed["To"]


def authenticate(client, user, password, method):
    client.user, client.password = user, password
    if method == "plain":
        return client.auth("PLAIN", client.auth_plain)
    if method == "plain-noir":
        return client.auth("PLAIN", client.auth_plain, initial_response_ok=False)
    if method == "login":
        return client.auth("LOGIN", client.auth_login, initial_response_ok=False)
    if method == "cram-md5":
        return client.auth("CRAM-MD5", client.auth_cram_md5)
    if method == "external":
        return client.auth("EXTERNAL", lambda challenge=None: user)
    raise ValueError(f"unknown method {method}")


def cmd_send(args):
    data, sender, recipient = envelope(args.message)
    client = smtplib.SMTP(args.host, args.port, local_hostname="client.test", timeout=TIMEOUT)
    code, ehlo = client.ehlo()
    auth = authenticate(client, args.user, args.password, args.method)
    refused = client.sendmail(sender, [recipient], data)
    code_quit = client.quit()
    return report(not refused, ehlo=text(ehlo), auth=[auth[0], text(auth[1])], quit=code_quit[0])


def cmd_login(args):
    client = smtplib.SMTP(args.host, args.port, local_hostname="client.test", timeout=TIMEOUT)
    client.ehlo()
    auth = authenticate(client, args.user, args.password, args.method)
    # What follows is the backend's; report it without judging it.
    try:
        noop = list(client.noop())
        client.quit()
    except (smtplib.SMTPException, OSError) as error:
        noop = [0, repr(error)]
    return report(auth[0] == 235, auth=[auth[0], text(auth[1])], after=[noop[0], text(noop[1])])


def cmd_none(args):
    data, sender, recipient = envelope(args.message)
    client = smtplib.SMTP(args.host, args.port, local_hostname="client.test", timeout=TIMEOUT)
    client.ehlo()
    failed = None
    if args.fail_user:
        try:
            authenticate(client, args.fail_user, args.fail_pass, "plain")
            return report(False, error="bad AUTH succeeded")
        except smtplib.SMTPAuthenticationError as error:
            failed = [error.smtp_code, text(error.smtp_error)]
    refused = client.sendmail(sender, [recipient], data)
    client.quit()
    return report(not refused, failed_auth=failed)


def read_reply(sock_file):
    """One whole SMTP reply (continuation lines joined)."""
    lines = []
    while True:
        line = sock_file.readline()
        if not line:
            raise EOFError("connection closed")
        lines.append(text(line).rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return lines


def cmd_pipeline(args):
    """Everything up to DATA in one write (RFC 2920), then the message."""
    data, sender, recipient = envelope(args.message)
    sock = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    f = sock.makefile("rb")
    greeting = read_reply(f)
    blob = base64.b64encode(f"\0{args.user}\0{args.password}".encode()).decode()
    burst = (f"EHLO client.test\r\nAUTH PLAIN {blob}\r\nMAIL FROM:<{sender}>\r\n"
             f"RCPT TO:<{recipient}>\r\nDATA\r\n").encode()
    sock.sendall(burst)
    replies = [read_reply(f)[-1] for _ in range(5)]
    sock.sendall(data + b".\r\nQUIT\r\n")
    replies += [read_reply(f)[-1] for _ in range(2)]
    sock.close()
    codes = [r[:3] for r in replies]
    return report(codes == ["250", "235", "250", "250", "354", "250", "221"], greeting=greeting, replies=replies)


def cmd_early(args):
    sock = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    sock.sendall(b"EHLO early.test\r\n")
    f = sock.makefile("rb")
    received = []
    while True:
        line = f.readline()
        if not line:
            break
        received.append(text(line).rstrip("\r\n"))
    sock.close()
    return report(bool(received) and received[0].startswith("503"), received=received)


def cmd_errors(args):
    sock = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    f = sock.makefile("rb")
    read_reply(f)
    replies = []
    for _ in range(20):
        try:
            sock.sendall(b"BOGUS command\r\n")
            replies.append(read_reply(f)[-1])
        except (EOFError, OSError):
            break
    sock.close()
    return report(0 < len(replies) < 20, replies=replies)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["send", "login", "none", "pipeline", "early", "errors"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("rest", nargs="*")
    parser.add_argument("--method", default="plain")
    parser.add_argument("--fail-user")
    parser.add_argument("--fail-pass")
    args = parser.parse_args()
    if args.command in ("send", "pipeline"):
        args.user, args.password, args.message = args.rest
    elif args.command == "login":
        args.user, args.password = args.rest
    elif args.command == "none":
        (args.message,) = args.rest
    handlers = {"send": cmd_send, "login": cmd_login, "none": cmd_none, "pipeline": cmd_pipeline, "early": cmd_early,
                "errors": cmd_errors}
    try:
        return handlers[args.command](args)
    except Exception as error:  # the JSON carries the failure to the Swift test
        return report(False, error=f"{type(error).__name__}: {error}")


if __name__ == "__main__":
    sys.exit(main())
