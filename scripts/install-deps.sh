#!/usr/bin/env bash
# Installs the Debian packages the build, the integration tests and the demo need.
# Idempotent and quick: apt runs only when dpkg reports a package missing.
set -euo pipefail

packages=(
    # build: the C libraries reached through SwiftPM system-library targets
    libssl-dev libsqlite3-dev
    # integration tests and demo: real backends, the auth service, clients
    dovecot-imapd dovecot-pop3d dovecot-submissiond postfix dnsmasq-base
    nginx libnginx-mod-mail haproxy
    python3 swaks sqlite3 curl openssl
    # deploy tests: systemd-analyze verify and systemd-socket-activate, logrotate
    systemd logrotate
)

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
if ((EUID != 0)); then
    sudo=(sudo)
fi
"${sudo[@]}" apt-get update
# Packaged daemons must not start on install: the tests run their own copies on
# free loopback ports. policy-rc.d 101 tells invoke-rc.d "not now".
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    created_policy=1
fi
status=0
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" || status=$?
if ((created_policy)); then
    "${sudo[@]}" rm -f "$policy"
fi
exit "$status"
