#!/usr/bin/env bash
# Side-by-side benchmark: Postern against nginx's mail proxy, and straight to
# the backend, on one mail configuration.
#
#   bench/run.sh [--rounds N] [--size tiny|full] [--postern BINARY] [--out FILE] [--only REGEX]
#
# --only runs just the workloads whose name (imap_login_c16, smtp_c1, fetch_8,
# idle_8000, ...) matches the bash regex REGEX.
#
# Starts a real Dovecot (scripts/testenv.sh), an SMTP sink (bench/loadgen.c
# smtp-sink; Dovecot's submission would need a relay behind it), nginx's own
# http module as the auth_http service, nginx 1.22 with its mail module (one
# process) and Postern, each on free loopback ports. Then runs the workloads of
# bench/loadgen.c against direct, nginx and Postern in turn, round after round,
# and prints a table of medians (bench/summarize.py). Exit status 0 when every
# workload ran without error.
#
# Without --postern it builds .build/release/postern (swift build -c release).
# POSTERN_TESTENV names another scripts/testenv.sh to use. BENCH_MAIL_EXTRA adds
# directives to the mail block of both proxies (e.g. "proxy_buffer 64k;"),
# BENCH_MAIN_EXTRA to their main context (e.g. "worker_cpu_affinity 01;").
# BENCH_SESSIONS overrides the session count of every login workload.
# BENCH_WRAP_POSTERN / BENCH_WRAP_NGINX prefix the proxy's command line, e.g.
# "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.postern" (bench/profile.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=3
size=full
postern_bin=""
out=""
only=""

die() { echo "bench: $*" >&2; exit 1; }

while (($# > 0)); do
    case "$1" in
        --rounds) rounds=${2:?}; shift 2 ;;
        --size) size=${2:?}; shift 2 ;;
        --postern) postern_bin=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --only) only=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive number"

# Workload sizes. CONCS: concurrency levels of the session workloads. The
# 8,000 idle sessions run before the 1,000: a process keeps freed heap, so the
# RSS growth of whichever runs second is understated (RSS total shows it).
case "$size" in
    tiny)
        CONCS="1 4"; SESSIONS_C1=50; SESSIONS_CN=50; FETCH_MB=1; FETCH_PARALLEL=8; IDLE_COUNTS="50" ;;
    full)
        CONCS="1 16 64"; SESSIONS_C1=200; SESSIONS_CN=1000; FETCH_MB=64; FETCH_PARALLEL=8; IDLE_COUNTS="8000 1000" ;;
    *) die "--size is tiny or full" ;;
esac
if [[ -n "${BENCH_SESSIONS:-}" ]]; then SESSIONS_C1=$BENCH_SESSIONS; SESSIONS_CN=$BENCH_SESSIONS; fi

testenv=${POSTERN_TESTENV:-$repo/scripts/testenv.sh}
[[ -x "$testenv" || -f "$testenv" ]] || die "no $testenv (the Dovecot test environment)"
command -v nginx >/dev/null || die "nginx not installed"
nginx_module=/usr/lib/nginx/modules/ngx_mail_module.so
[[ -f "$nginx_module" ]] || die "no nginx mail module at $nginx_module"
command -v cc >/dev/null || die "no C compiler (cc)"

work=$(mktemp -d /tmp/postern-bench.XXXXXX)
# Dovecot's unprivileged processes must reach the files below it.
chmod 755 "$work"
started_pids=()
cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${started_pids[@]}"; do
        # A proxy under valgrind needs longer to write its profile.
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    bash "$testenv" stop "$work/env" >/dev/null 2>&1 || true
    [[ -n "${BENCH_KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT

free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}

# Waits up to $3 tenths of a second for a TCP listener on port $1; status only.
port_open() {
    local port=$1 tries=${2:-100}
    for _ in $(seq 1 "$tries"); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.2).close()" "$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

echo "bench: size $size, $rounds round(s), work dir $work"

# --- the load generator and Postern ---
cc -O2 -Wall -pthread -o "$work/loadgen" "$repo/bench/loadgen.c" || die "loadgen did not compile"
loadgen=$work/loadgen
if [[ -z "$postern_bin" ]]; then
    (cd "$repo" && swift build -c release --product postern) >"$work/build.log" 2>&1 \
        || { tail -20 "$work/build.log" >&2; die "swift build -c release failed"; }
    postern_bin=$repo/.build/release/postern
fi
[[ -x "$postern_bin" ]] || die "no Postern binary at $postern_bin"

# --- backends ---
bash "$testenv" start "$work/env" >"$work/testenv.log" 2>&1 || { cat "$work/testenv.log" >&2; die "testenv start failed"; }
# shellcheck disable=SC1091
source "$work/env/env"

# Dovecot sized for thousands of logged-in sessions from one user and address:
# login processes in high-performance mode, many clients per imap process.
cat >>"$DOVECOT_CONF" <<'CONF'

# --- added by bench/run.sh ---
default_process_limit = 200
default_client_limit = 20000
default_vsz_limit = 1G
service imap-login {
  service_count = 0
  process_min_avail = 2
  client_limit = 5000
}
service pop3-login {
  service_count = 0
  process_min_avail = 1
}
service imap {
  service_count = 0
  client_limit = 200
  process_limit = 100
}
protocol imap {
  mail_max_userip_connections = 20000
}
protocol pop3 {
  mail_max_userip_connections = 20000
}
CONF
# A reload (HUP) keeps the old service limits: restart, and record the new pid
# where testenv.sh stop finds it.
kill -TERM "$DOVECOT_PID"
for _ in $(seq 1 50); do kill -0 "$DOVECOT_PID" 2>/dev/null || break; sleep 0.1; done
# A master started with SIGTERM ignored (inherited from some test runners) stays:
# kill it; its children exit when it is gone.
kill -KILL "$DOVECOT_PID" 2>/dev/null || true
for _ in $(seq 1 50); do port_open "$IMAP_PORT" 1 || break; sleep 0.1; done
rm -f "$TESTENV_DIR/dovecot/run/master.pid"
# Its children may hold the old sockets a moment longer than the master lives.
restarted=0
for _ in $(seq 1 40); do
    if (ulimit -n 20000 && dovecot -c "$DOVECOT_CONF") 2>>"$work/dovecot-restart.log"; then restarted=1; break; fi
    sleep 0.25
done
((restarted)) || die "dovecot did not restart: $(tail -3 "$work/dovecot-restart.log")"
for _ in $(seq 1 50); do [[ -s "$TESTENV_DIR/dovecot/run/master.pid" ]] && break; sleep 0.1; done
DOVECOT_PID=$(cat "$TESTENV_DIR/dovecot/run/master.pid")
sed -i "s/^DOVECOT_PID=.*/DOVECOT_PID=$DOVECOT_PID/" "$work/env/env"
port_open "$IMAP_PORT" || die "dovecot did not come back after the restart; see $DOVECOT_LOG"
port_open "$POP3_PORT" || die "dovecot pop3 did not come back after the restart; see $DOVECOT_LOG"

# The message the FETCH workload relays, in a folder of its own.
python3 - "$TESTENV_DIR/mail/$TEST_USER/Maildir/.Bench" "$FETCH_MB" <<'PY'
import os, random, sys, time
folder, mb = sys.argv[1], int(sys.argv[2])
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(folder, sub), exist_ok=True)
header = (b"From: bench@example.test\r\nTo: alice@example.test\r\nSubject: bench\r\n"
          b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n")
rng = random.Random(64)
line = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(76)) + b"\r\n"
body = line * ((mb * 1024 * 1024 - len(header)) // len(line))
with open(os.path.join(folder, "cur", f"{int(time.time())}.Mbench.seed:2,S"), "wb") as f:
    f.write(header + body)
PY
chown -R mail:mail "$TESTENV_DIR/mail/$TEST_USER/Maildir/.Bench"

"$loadgen" smtp-sink >"$work/sink.out" 2>"$work/sink.err" &
started_pids+=($!)
sink_port=""
for _ in $(seq 1 50); do
    sink_port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$work/sink.out")
    [[ -n "$sink_port" ]] && break
    sleep 0.1
done
[[ -n "$sink_port" ]] || die "smtp sink did not start"

# --- auth_http: nginx's http module answers every login with the right backend ---
read -r auth_port nginx_imap nginx_pop3 nginx_smtp postern_imap postern_pop3 postern_smtp postern_cached \
    postern_cachemiss <<<"$(free_ports 9)"
mkdir -p "$work/auth" "$work/nginx" "$work/postern"
cat >"$work/auth/nginx.conf" <<CONF
daemon off;
master_process off;
error_log $work/auth/error.log error;
pid $work/auth/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/auth/body;
    proxy_temp_path $work/auth/proxy;
    fastcgi_temp_path $work/auth/fastcgi;
    uwsgi_temp_path $work/auth/uwsgi;
    scgi_temp_path $work/auth/scgi;
    map \$http_auth_protocol \$backend_port {
        imap $IMAP_PORT;
        pop3 $POP3_PORT;
        smtp $sink_port;
    }
    server {
        listen 127.0.0.1:$auth_port;
        location /auth {
            add_header Auth-Status OK;
            add_header Auth-Server 127.0.0.1;
            add_header Auth-Port \$backend_port;
            add_header Auth-Pass \$http_auth_pass;
            return 204;
        }
    }
}
CONF
nginx -p "$work/auth" -c "$work/auth/nginx.conf" >"$work/auth/stdout" 2>&1 &
auth_pid=$!
started_pids+=("$auth_pid")
port_open "$auth_port" || die "auth nginx did not start: $(cat "$work/auth/error.log" "$work/auth/stdout" 2>/dev/null)"

# --- the two proxies on one mail block (only the listen ports differ) ---
# $4: more server blocks (Postern's auth-cache listener).
mail_block() {
    cat <<CONF
mail {
    auth_http 127.0.0.1:$auth_port/auth;
    proxy_pass_error_message on;
    ${BENCH_MAIL_EXTRA:-}
    server { listen 127.0.0.1:$1; protocol imap; }
    server { listen 127.0.0.1:$2; protocol pop3; }
    server { listen 127.0.0.1:$3; protocol smtp; smtp_auth none; xclient off; }
    ${4:-}
}
CONF
}
{
    echo "load_module $nginx_module;"
    echo "daemon off; master_process off; worker_rlimit_nofile 20000;"
    echo "${BENCH_MAIN_EXTRA:-}"
    echo "error_log $work/nginx/error.log error; pid $work/nginx/nginx.pid;"
    echo "events { worker_connections 20000; }"
    mail_block "$nginx_imap" "$nginx_pop3" "$nginx_smtp"
} >"$work/nginx/nginx.conf"
{
    echo "daemon off;"
    echo "${BENCH_MAIN_EXTRA:-}"
    echo "error_log $work/postern/error.log error; pid $work/postern/postern.pid;"
    # The same IMAP server with the auth cache on: after one login every
    # login is a hit (imap_login_cached_*); nginx has no cache, so its rows
    # are its ordinary logins, which is the comparison issue 6 asks for.
    # With auth_cache_ttl 0 (and a file of its own) nothing is stored: every login looks the cache up,
    # misses and asks the auth service (imap_login_cachemiss_*, Postern only).
    mail_block "$postern_imap" "$postern_pop3" "$postern_smtp" \
        "server { listen 127.0.0.1:$postern_cached; protocol imap; auth_cache $work/postern/auth-cache.db; auth_cache_ttl 1h; }
    server { listen 127.0.0.1:$postern_cachemiss; protocol imap; auth_cache $work/postern/auth-cache-miss.db; auth_cache_ttl 0s; }"
} >"$work/postern/postern.conf"

(ulimit -n 20000 && exec ${BENCH_WRAP_NGINX:-} nginx -p "$work/nginx" -c "$work/nginx/nginx.conf") >"$work/nginx/stdout" 2>&1 &
nginx_pid=$!
started_pids+=("$nginx_pid")
(ulimit -n 20000 && exec ${BENCH_WRAP_POSTERN:-} "$postern_bin" -p "$work/postern" -c "$work/postern/postern.conf") >"$work/postern/stdout" 2>&1 &
postern_pid=$!
started_pids+=("$postern_pid")
port_open "$nginx_imap" 600 || die "nginx did not start: $(cat "$work/nginx/error.log" "$work/nginx/stdout" 2>/dev/null)"
port_open "$postern_imap" 600 || die "postern did not start: $(cat "$work/postern/error.log" "$work/postern/stdout" 2>/dev/null)"

# POP3 and SMTP run against Postern only when this build opens their listeners.
postern_pop3_ok=0 postern_smtp_ok=0
port_open "$postern_pop3" 10 && postern_pop3_ok=1
port_open "$postern_smtp" 10 && postern_smtp_ok=1

results=$work/results.txt
: >"$results"
failures=0

# run ROUND TARGET WORKLOAD LOADGEN-ARGS...: one line of results, or an error row.
run() {
    local round=$1 target=$2 workload=$3
    shift 3
    [[ -z "$only" || "$workload" =~ $only ]] || return 0
    local line status=0
    line=$(timeout 300 "$loadgen" "$@" 2>"$work/loadgen.err") || status=$?
    if [[ -z "$line" ]]; then
        line="errors=1 failed=exit$status"
    fi
    if ((status != 0)); then
        failures=$((failures + 1))
        echo "bench: $target $workload round $round: exit $status: $line $(head -c 300 "$work/loadgen.err")" >&2
    fi
    echo "$round $target $workload $line" >>"$results"
}

unsupported() { [[ -z "$only" || "$3" =~ $only ]] && echo "$1 $2 $3 unsupported=1" >>"$results"; return 0; }

user=$TEST_USER pass=$TEST_PASS
for round in $(seq 1 "$rounds"); do
    # Alternate which proxy goes first, so slow drift on a shared machine hits both.
    if ((round % 2 == 1)); then order="direct nginx postern"; else order="direct postern nginx"; fi
    for target in $order; do
        case $target in
            direct) imap=$IMAP_PORT pop3=$POP3_PORT smtp=$sink_port pid=0 pop_ok=1 smtp_ok=1 ;;
            nginx) imap=$nginx_imap pop3=$nginx_pop3 smtp=$nginx_smtp pid=$nginx_pid pop_ok=1 smtp_ok=1 ;;
            postern) imap=$postern_imap pop3=$postern_pop3 smtp=$postern_smtp pid=$postern_pid
                     pop_ok=$postern_pop3_ok smtp_ok=$postern_smtp_ok ;;
        esac
        echo "bench: round $round/$rounds: $target"
        for c in $CONCS; do
            if ((c == 1)); then n=$SESSIONS_C1; else n=$SESSIONS_CN; fi
            run "$round" "$target" "imap_login_c$c" imap-login "$imap" "$c" "$n" "$user" "$pass" "$pid" "$auth_pid"
            if ((c > 1)) && [[ $target != direct ]]; then
                cached=$imap
                if [[ $target == postern ]]; then
                    cached=$postern_cached
                    # One login first, so that every measured login is a hit.
                    timeout 30 "$loadgen" imap-login "$cached" 1 1 "$user" "$pass" >/dev/null 2>&1 || true
                fi
                run "$round" "$target" "imap_login_cached_c$c" imap-login "$cached" "$c" "$n" "$user" "$pass" "$pid" "$auth_pid"
                if [[ $target == postern ]]; then
                    run "$round" "$target" "imap_login_cachemiss_c$c" imap-login "$postern_cachemiss" "$c" "$n" \
                        "$user" "$pass" "$pid" "$auth_pid"
                fi
            fi
            if ((pop_ok)); then
                run "$round" "$target" "pop3_login_c$c" pop3-login "$pop3" "$c" "$n" "$user" "$pass" "$pid" "$auth_pid"
            else
                unsupported "$round" "$target" "pop3_login_c$c"
            fi
            if ((smtp_ok)); then
                run "$round" "$target" "smtp_c$c" smtp "$smtp" "$c" "$n" "$user" "$pass" "$pid" "$auth_pid"
            else
                unsupported "$round" "$target" "smtp_c$c"
            fi
        done
        run "$round" "$target" fetch_1 imap-fetch "$imap" 1 Bench "$user" "$pass" "$pid"
        run "$round" "$target" "fetch_$FETCH_PARALLEL" imap-fetch "$imap" "$FETCH_PARALLEL" Bench "$user" "$pass" "$pid"
        if [[ $target != direct ]]; then
            for count in $IDLE_COUNTS; do
                run "$round" "$target" "idle_$count" imap-idle "$imap" "$count" "$user" "$pass" "$pid"
                sleep 1 # the LOGOUTs of the last run drain before the next measures RSS
            done
        fi
    done
done

for pid in "$nginx_pid" "$postern_pid"; do
    kill -0 "$pid" 2>/dev/null || { echo "bench: a proxy (pid $pid) died during the run" >&2; failures=$((failures + 1)); }
done

machine="$(nproc) cores, kernel $(uname -r), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
python3 "$repo/bench/summarize.py" "$results" --size "$size" --rounds "$rounds" --machine "$machine" \
    --date "$(date -u '+%Y-%m-%d %H:%M UTC')" ${out:+--out "$out"} || failures=$((failures + 1))
if ((failures > 0)); then
    echo "bench: $failures workload(s) failed" >&2
    exit 1
fi
