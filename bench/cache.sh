#!/usr/bin/env bash
# Auth cache benchmark: IMAP LOGIN/LOGOUT through Postern with the auth cache
# off, on with every login a hit, and on with every login a miss
# (auth_cache_ttl 0: looked up, never stored), against the example auth
# service (deploy/postern-auth.py) and a real Dovecot from scripts/testenv.sh.
# Modes alternate round by round; prints medians and the ratios to "off".
# Besides Postern's own CPU per login it reports the auth service's (the
# work a hit saves there) and the sum of the two.
#
#   bench/cache.sh [--rounds N] [--sessions N] [--conc N] [--postern BINARY]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=3 sessions=1000 conc=16 postern_bin=""
while (($# > 0)); do
    case "$1" in
        --rounds) rounds=${2:?}; shift 2 ;;
        --sessions) sessions=${2:?}; shift 2 ;;
        --conc) conc=${2:?}; shift 2 ;;
        --postern) postern_bin=${2:?}; shift 2 ;;
        *) echo "cache.sh: unknown argument $1" >&2; exit 1 ;;
    esac
done
if [[ -z "$postern_bin" ]]; then
    (cd "$repo" && swift build -c release >/dev/null)
    postern_bin=$repo/.build/release/postern
fi
work=$(mktemp -d /tmp/postern-cache-bench.XXXXXX)
chmod 755 "$work"   # Dovecot's unprivileged auth process reads files below it
pid=""
cleanup() {
    [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
    bash "$repo/scripts/testenv.sh" stop "$work/env" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -Wall -pthread -o "$work/loadgen" "$repo/bench/loadgen.c"
mkdir -p "$work/env"
bash "$repo/scripts/testenv.sh" start "$work/env" >/dev/null
# shellcheck disable=SC1091
source "$work/env/env"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cpu_ticks() {  # pid -> utime + stime in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

run_mode() {  # mode -> one loadgen line
    local mode=$1 extra=""
    case "$mode" in
        off) extra="" ;;
        hit) extra="auth_cache $work/cache-hit.db; auth_cache_ttl 1h;" ;;
        miss) extra="auth_cache $work/cache-miss.db; auth_cache_ttl 0s;" ;;
    esac
    cat >"$work/postern.conf" <<CONF
error_log $work/error.log warn; pid $work/postern.pid; daemon off; events {}
mail { server_name bench.test; auth_http 127.0.0.1:$AUTH_PORT/auth; $extra
  server { listen 127.0.0.1:$port; protocol imap; } }
CONF
    "$postern_bin" -p "$work" -c "$work/postern.conf" &
    pid=$!
    for _ in $(seq 1 100); do
        python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2).close()" 2>/dev/null && break
        sleep 0.05
    done
    # One login first, so "hit" measures hits only.
    "$work/loadgen" imap-login "$port" 1 1 "$TEST_USER" "$TEST_PASS" >/dev/null
    local auth_before auth_after line
    auth_before=$(cpu_ticks "$AUTH_PID")
    line=$("$work/loadgen" imap-login "$port" "$conc" "$sessions" "$TEST_USER" "$TEST_PASS" "$pid")
    auth_after=$(cpu_ticks "$AUTH_PID")
    echo "$line auth_cpu_per_login_us=$(( (auth_after - auth_before) * 1000000 / $(getconf CLK_TCK) / sessions ))"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

for r in $(seq 1 "$rounds"); do
    for mode in off hit miss; do
        echo "mode=$mode round=$r $(run_mode "$mode")"
    done
done | tee "$work/raw.txt"

python3 - "$work/raw.txt" "$conc" "$sessions" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(re.findall(r"(\w+)=([\d.]+|\w+)", line))
    rows.setdefault(f["mode"], []).append(f)
def med(mode, key):
    return statistics.median(float(r[key]) for r in rows[mode])
errors = sum(int(r["errors"]) for rs in rows.values() for r in rs)
print(f"\nIMAP LOGIN/LOGOUT through Postern, c{sys.argv[2]}, {sys.argv[3]} sessions per run, medians")
for rs in rows.values():
    for r in rs:
        r["total_cpu_per_login_us"] = float(r["proxy_cpu_per_login_us"]) + float(r["auth_cpu_per_login_us"])
print("| auth cache | logins/s | p50 ms | p99 ms | proxy CPU us/login | auth service CPU us/login "
      "| proxy + auth CPU us/login | proxy CPU vs off | proxy + auth CPU vs off |")
print("|---|---|---|---|---|---|---|---|---|")
for mode in ("off", "hit", "miss"):
    print(f"| {mode} | {med(mode,'rate'):.0f} | {med(mode,'p50_ms'):.2f} | {med(mode,'p99_ms'):.2f} "
          f"| {med(mode,'proxy_cpu_per_login_us'):.0f} | {med(mode,'auth_cpu_per_login_us'):.0f} "
          f"| {med(mode,'total_cpu_per_login_us'):.0f} "
          f"| {med(mode,'proxy_cpu_per_login_us')/med('off','proxy_cpu_per_login_us'):.2f}x "
          f"| {med(mode,'total_cpu_per_login_us')/med('off','total_cpu_per_login_us'):.2f}x |")
print(f"Errors: {errors}.")
sys.exit(1 if errors else 0)
PY
