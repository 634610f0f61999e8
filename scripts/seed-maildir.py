#!/usr/bin/env python3
"""Writes test mailboxes straight into Maildir folders (no delivery agent needed).

    seed-maildir.py MAILROOT LARGE_USER USER...

Every user gets three small messages in INBOX. LARGE_USER also gets one 20 MiB
message in the folder "Large". Messages are stored with CRLF line ends, so IMAP
FETCH BODY[] returns the file byte for byte; the large message's SHA-256 is
printed on stdout ("large_sha256 HEX size BYTES") for the tests to compare.
"""

import base64
import hashlib
import os
import random
import sys
import time

LARGE_BYTES = 20 * 1024 * 1024


def maildir(path):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)


def store(folder, number, data):
    # Maildir name: time.unique.host; put in cur/ with ":2," so it is not "recent"-only.
    name = f"{int(time.time())}.M{number}P{os.getpid()}.seed:2,"
    with open(os.path.join(folder, "cur", name), "wb") as f:
        f.write(data)


def small_message(user, number):
    lines = [
        "From: Postern Tests <tests@example.test>",
        f"To: {user}@example.test",
        f"Subject: Test message {number} for {user}",
        f"Message-ID: <seed-{user}-{number}@example.test>",
        "Date: Thu, 01 Jan 2026 00:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        f"Hello {user}, this is message {number}.",
        "It was written by scripts/seed-maildir.py.",
        "",
    ]
    return "\r\n".join(lines).encode()


def large_message(user):
    header = "\r\n".join([
        "From: Postern Tests <tests@example.test>",
        f"To: {user}@example.test",
        "Subject: Large message",
        f"Message-ID: <seed-{user}-large@example.test>",
        "Date: Thu, 01 Jan 2026 00:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: application/octet-stream",
        "Content-Transfer-Encoding: base64",
        "",
        "",
    ]).encode()
    # Deterministic payload: same bytes on every machine and every run.
    raw = random.Random(20).randbytes(LARGE_BYTES * 3 // 4)
    encoded = base64.b64encode(raw)
    lines = [encoded[i:i + 76] for i in range(0, len(encoded), 76)]
    return header + b"\r\n".join(lines) + b"\r\n"


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, large_user, users = sys.argv[1], sys.argv[2], sys.argv[3:]
    for user in users:
        inbox = os.path.join(root, user, "Maildir")
        maildir(inbox)
        for number in (1, 2, 3):
            store(inbox, number, small_message(user, number))
    data = large_message(large_user)
    folder = os.path.join(root, large_user, "Maildir", ".Large")
    maildir(folder)
    store(folder, 100, data)
    print(f"large_sha256 {hashlib.sha256(data).hexdigest()} size {len(data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
