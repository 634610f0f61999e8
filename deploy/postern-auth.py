#!/usr/bin/env python3
"""An example auth_http service for Postern (and nginx's mail proxy).

It answers nginx's auth_http protocol (see the ngx_mail_auth_http_module page on
nginx.org): the proxy sends a GET with Auth-* headers, we answer with headers
only. Users come from a small text file, one per line:

    user password backend_host backend_port [backend_user backend_password]

backend_port is a number, or "*" for the standard port of the protocol asked
for (set with --imap-port, --pop3-port, --smtp-port). '#' starts a comment.

Python standard library only, so it runs anywhere python3 does.
"""

import argparse
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

INVALID = "Invalid login or password"
SECRET_HEADERS = {"auth-pass", "auth-salt-response"}


class User:
    def __init__(self, name, password, host, port, backend_user, backend_password):
        self.name = name
        self.password = password
        self.host = host
        self.port = port
        self.backend_user = backend_user
        self.backend_password = backend_password


def load_users(path):
    """Reads the users file; a malformed line is a startup error, not a silent skip."""
    users = {}
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) not in (4, 6):
                raise ValueError(f"{path}:{number}: expected 4 or 6 fields, got {len(fields)}")
            name, password, host, port = fields[:4]
            if port != "*" and not port.isdigit():
                raise ValueError(f"{path}:{number}: backend_port must be a number or '*'")
            backend_user, backend_password = (fields[4], fields[5]) if len(fields) == 6 else (None, None)
            # %XX in a name stands for a byte the file cannot hold (a space).
            name = unquote(name)
            backend_user = unquote(backend_user) if backend_user is not None else None
            users[name] = User(name, password, host, port, backend_user, backend_password)
    return users


def unescape(value):
    """nginx URL-escapes Auth-User and Auth-Pass (%XX); undo it."""
    return unquote(value or "")


# --external-by-name: accept EXTERNAL without a verified certificate (tests of
# the plaintext SASL exchange only; never on a real site).
EXTERNAL_BY_NAME = False


def certificate_names(subject):
    """The CN values of an RFC 2253 subject ("CN=alice,O=Example")."""
    names = []
    for part in subject.split(","):
        key, _, value = part.strip().partition("=")
        if key.upper() == "CN":
            names.append(value)
    return names


def verify(user, method, password, salt, headers=None):
    """Checks the client's proof for each Auth-Method nginx sends."""
    if method in ("plain", "login"):
        return hmac.compare_digest(password.encode(), user.password.encode())
    if method == "cram-md5":
        # RFC 2195: the client answers HMAC-MD5(key=password, text=challenge) in hex.
        expected = hmac.new(user.password.encode(), salt.encode(), hashlib.md5).hexdigest()
        return hmac.compare_digest(password.lower().encode(), expected.encode())
    if method == "apop":
        # RFC 1939 §7: MD5 of the greeting's timestamp (the salt) followed by the password.
        expected = hashlib.md5((salt + user.password).encode()).hexdigest()
        return hmac.compare_digest(password.lower().encode(), expected.encode())
    if method == "external":
        # SASL EXTERNAL: the proof is the TLS client certificate the proxy verified.
        # Accept only a verified certificate whose CN is the login asked for.
        headers = headers or {}
        if EXTERNAL_BY_NAME:
            return True
        if headers.get("Auth-SSL-Verify") != "SUCCESS":
            return False
        return user.name in certificate_names(unescape(headers.get("Auth-SSL-Subject")))
    return False


class Service:
    def __init__(self, args):
        self.users = load_users(args.users)
        self.delay = args.delay
        self.mode = args.mode
        self.accept_none = args.accept_none
        self.ports = {"imap": args.imap_port, "pop3": args.pop3_port, "smtp": args.smtp_port}
        self.tls_ports = {"imap": args.imaps_port, "pop3": args.pop3s_port, "smtp": args.smtp_port}
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None
        self.log_lock = threading.Lock()
        self.count = 0

    def log(self, record):
        if self.log_file is None:
            return
        with self.log_lock:
            self.log_file.write(json.dumps(record, sort_keys=True) + "\n")
            self.log_file.flush()

    def decide(self, headers):
        """Returns the reply headers for one request."""
        name = unescape(headers.get("Auth-User"))
        password = unescape(headers.get("Auth-Pass"))
        method = (headers.get("Auth-Method") or "").lower()
        salt = headers.get("Auth-Salt") or ""
        protocol = (headers.get("Auth-Protocol") or "").lower()
        if method == "none" and self.accept_none:
            # smtp_auth none: no user; a real service would judge the envelope.
            port = str(self.ports.get(protocol, 0))
            return [("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"), ("Auth-Port", port)], "ok"
        user = self.users.get(name)
        if user is None or not verify(user, method, password, salt, headers):
            return [("Auth-Status", INVALID), ("Auth-Wait", "1")], "invalid"
        ports = self.ports
        if (headers.get("X-Backend-TLS") or "").lower() == "on":
            # Set by the proxy's `auth_http_header X-Backend-TLS on;`: route to the
            # implicit-TLS ports, for proxy_ssl.
            ports = self.tls_ports
        port = user.port if user.port != "*" else str(ports.get(protocol, 0))
        reply = [("Auth-Status", "OK"), ("Auth-Server", user.host), ("Auth-Port", port)]
        if user.backend_user is not None:
            reply.append(("Auth-User", user.backend_user))
        # Always hand back the backend password: for CRAM-MD5 and APOP the proxy
        # never saw a clear password but must still log in to the backend.
        reply.append(("Auth-Pass", user.backend_password if user.backend_password is not None else user.password))
        return reply, "ok"


def make_handler(service):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: nginx and libcurl reuse the connection
        server_version = "postern-auth/1"

        def log_message(self, *args):
            pass  # the JSON log replaces http.server's stderr log

        def do_GET(self):
            started = time.time()
            headers = {k: v for k, v in self.headers.items()}
            masked = {k: ("***" if k.lower() in SECRET_HEADERS and v else v) for k, v in headers.items()}
            with service.log_lock:
                service.count += 1
                number = service.count
            if service.delay > 0:
                time.sleep(service.delay)
            if service.mode == "500":
                body = b"internal error\n"
                self.send_response(500)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                outcome = "500"
            elif service.mode == "garbage":
                # Not HTTP at all: the proxy must treat it as a failed auth service.
                self.wfile.write(b"\x00garbage \xff\r\nnot a status line\r\n\r\n")
                self.close_connection = True
                outcome = "garbage"
            else:
                reply, outcome = service.decide(headers)
                self.send_response(200)
                for key, value in reply:
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
            service.log({
                "n": number,
                "time": started,
                "path": self.path,
                "peer": self.client_address[0],
                "headers": masked,
                "outcome": outcome,
            })

    return Handler


def main():
    parser = argparse.ArgumentParser(description="Example auth_http service for Postern")
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    parser.add_argument("--users", required=True)
    parser.add_argument("--log", help="append one JSON line per request (passwords masked)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    parser.add_argument("--mode", choices=["ok", "garbage", "500"], default="ok")
    parser.add_argument("--accept-none", action="store_true",
                        help="accept SMTP mail without AUTH (smtp_auth none) to 127.0.0.1")
    parser.add_argument("--imap-port", type=int, default=143)
    parser.add_argument("--pop3-port", type=int, default=110)
    parser.add_argument("--smtp-port", type=int, default=25)
    parser.add_argument("--external-by-name", action="store_true",
                        help="accept SASL EXTERNAL without a verified client certificate (tests only)")
    parser.add_argument("--imaps-port", type=int, default=993, help="with the request header X-Backend-TLS: on")
    parser.add_argument("--pop3s-port", type=int, default=995, help="with the request header X-Backend-TLS: on")
    args = parser.parse_args()
    global EXTERNAL_BY_NAME
    EXTERNAL_BY_NAME = args.external_by_name

    try:
        service = Service(args)
    except (OSError, ValueError) as error:
        print(f"postern-auth: {error}", file=sys.stderr)
        return 1
    family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    ThreadingHTTPServer.address_family = family
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((args.listen, args.port), make_handler(service))
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
