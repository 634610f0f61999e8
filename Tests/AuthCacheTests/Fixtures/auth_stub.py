#!/usr/bin/env python3
"""A tiny auth_http service for AuthCacheTests.

usage: auth_stub.py SCENARIO RECORD_FILE [unix:PATH]

Binds 127.0.0.1 port 0 (or the unix socket), prints "PORT <n>" (or
"READY") on stdout, then answers every request per SCENARIO. Each request
is appended to RECORD_FILE as JSON lines: {"request_line", "headers" (list
of [name, value] in wire order), "peer_port"}.

Scenarios:
  accepted    Auth-Status: OK, server 127.0.0.1:143, keep-alive (HTTP/1.1)
  rejected    Auth-Status: Invalid login, Auth-Wait: 3, Auth-Error-Code
  garbage     not HTTP at all, then close
  slow        sleeps 5 s before answering
  close       HTTP/1.0 answer, then closes the connection (like nginx's peers)
  bighead     a 20 KB header
  wait        Auth-Status: WAIT, Auth-Wait: 1 for the first two requests, then OK
Exits when stdin closes (the test process went away) or after 120 s.
"""
import json
import os
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

scenario, record_file = sys.argv[1], sys.argv[2]
unix_path = sys.argv[3][5:] if len(sys.argv) > 3 and sys.argv[3].startswith("unix:") else None
lock = threading.Lock()
served = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self):
        peer = self.client_address[1] if isinstance(self.client_address, tuple) else 0
        entry = {"request_line": self.requestline,
                 "headers": [[k, v] for k, v in self.headers.items()],
                 "peer_port": peer}
        with lock, open(record_file, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def answer(self, status, headers, body=b""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.record()
        if scenario == "accepted":
            self.answer(200, [("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"),
                              ("Auth-Port", "143"), ("Auth-Pass", "backend secret")])
        elif scenario == "rejected":
            self.answer(200, [("Auth-Status", "Invalid login or password"),
                              ("Auth-Wait", "3"), ("Auth-Error-Code", "535 5.7.8")])
        elif scenario == "garbage":
            self.wfile.write(b"\x00\x01 this is not http\r\n\r\n")
            self.close_connection = True
        elif scenario == "slow":
            time.sleep(5)
            self.answer(200, [("Auth-Status", "OK")])
        elif scenario == "close":
            self.protocol_version = "HTTP/1.0"
            self.answer(200, [("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"),
                              ("Auth-Port", "110")])
            self.close_connection = True
        elif scenario == "wait":
            with lock:
                served[0] += 1
                n = served[0]
            if n <= 2:
                self.answer(200, [("Auth-Status", "WAIT"), ("Auth-Wait", "1")])
            else:
                self.answer(200, [("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"),
                                  ("Auth-Port", "143")])
        elif scenario == "bighead":
            self.answer(200, [("Auth-Status", "OK"), ("X-Filler", "x" * 20000)])
        else:
            self.answer(500, [])


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if unix_path:
    server = UnixServer(unix_path, Handler)
    print("READY", flush=True)
else:
    server = TCPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)

threading.Thread(target=server.serve_forever, daemon=True).start()


def watch_stdin():
    sys.stdin.read()
    os._exit(0)


threading.Thread(target=watch_stdin, daemon=True).start()
time.sleep(120)
os._exit(0)
