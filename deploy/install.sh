#!/bin/sh
# Installs Postern as a systemd service. Idempotent: run it again after an
# upgrade. Starts nothing unless asked with --enable.
#
#   deploy/install.sh [--enable] [--no-build | --binary FILE] [--destdir DIR]
#
#   --enable      enable and (re)start postern.service afterwards
#   --no-build    install the release binary already built
#   --binary FILE install this binary, build nothing
#   --destdir DIR install under DIR (packaging, tests); implies no user
#                 creation and no systemctl
set -eu

enable=no
binary=
build=yes
destdir=
while [ $# -gt 0 ]; do
    case "$1" in
        --enable) enable=yes ;;
        --no-build) build=no ;;
        --binary) shift; binary=${1:?--binary needs a file}; build=no
                  case "$binary" in /*) ;; *) binary="$PWD/$binary" ;; esac ;;
        --destdir) shift; destdir=${1:?--destdir needs a directory}
                   case "$destdir" in /*) ;; *) destdir="$PWD/$destdir" ;; esac ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "$build" = yes ]; then
    # A static Swift runtime: the binary needs only libssl3 and libsqlite3-0
    # at run time.
    swift build -c release --static-swift-stdlib --product postern
fi
if [ -z "$binary" ]; then
    binary=$(swift build -c release --show-bin-path 2>/dev/null || echo "$root/.build/release")/postern
fi
[ -x "$binary" ] || { echo "install.sh: no release binary at $binary (drop --no-build)" >&2; exit 1; }

if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (or use --destdir)" >&2
    exit 1
fi

# The dedicated account the unit runs as (User=postern).
if [ -z "$destdir" ] && ! getent passwd postern >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/postern --no-create-home \
        --shell /usr/sbin/nologin --comment "Postern mail proxy" postern
fi

install -d -m 0755 "$destdir/usr/local/sbin" "$destdir/etc/postern" "$destdir/etc/systemd/system" \
    "$destdir/etc/logrotate.d"
install -m 0755 "$binary" "$destdir/usr/local/sbin/postern"
install -m 0644 deploy/postern.service "$destdir/etc/systemd/system/postern.service"
install -m 0644 deploy/logrotate "$destdir/etc/logrotate.d/postern"
# Never overwrite an operator's configuration.
if [ ! -e "$destdir/etc/postern/postern.conf" ]; then
    install -m 0644 deploy/postern.conf.example "$destdir/etc/postern/postern.conf"
    echo "install.sh: installed the example configuration /etc/postern/postern.conf: edit auth_http and listen"
else
    install -m 0644 deploy/postern.conf.example "$destdir/etc/postern/postern.conf.example"
fi

if [ -z "$destdir" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$enable" = yes ]; then
        systemctl enable postern.service
        systemctl restart postern.service
        systemctl --no-pager status postern.service || true
    else
        echo "install.sh: installed; start with: systemctl enable --now postern"
    fi
elif [ "$enable" = yes ]; then
    echo "install.sh: --enable needs a running systemd" >&2
    exit 1
fi
