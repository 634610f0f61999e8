#!/usr/bin/env bash
# Starts or stops the backends Postern's integration tests and demo run against:
# a Dovecot (IMAP, POP3, submission) and the example auth_http service, each a
# plain process with its own files under DIR, on free loopback ports.
#
#   scripts/testenv.sh start DIR   # writes DIR/env (shell-sourceable)
#   scripts/testenv.sh stop DIR    # stops what DIR/env names, by pid
#
# Options through the environment:
#   POSTERN_USERS   users file (default deploy/users.example)
#   AUTH_ARGS       extra arguments for deploy/postern-auth.py (e.g. "--delay 2")
#   TESTENV_POSTFIX 1: also start a Postfix (SMTP backend accepting XCLIENT from
#                   loopback, delivering mail.test to one Maildir); the auth
#                   service then routes SMTP to it instead of Dovecot submission
set -euo pipefail
# A command that fails under set -e says which, instead of a silent exit.
trap 'echo "testenv: line $LINENO: \"$BASH_COMMAND\" failed (status $?)" >&2' ERR

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
template="$repo/Tests/IntegrationTests/Fixtures/dovecot.conf.template"
auth_service="$repo/deploy/postern-auth.py"
# The account the mail processes run as: exists on every Debian system.
mail_user=mail
mail_group=mail

cleanup_dir=""

die() { echo "testenv: $*" >&2; exit 1; }

# Prints N distinct free loopback ports. They are held open together while
# chosen so they differ; the daemons bind them a moment later.
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

# Waits (bounded) until something accepts TCP connections on 127.0.0.1:PORT.
wait_for_port() {
    local port=$1 what=$2
    for _ in $(seq 1 100); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.2).close()" "$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "$what did not listen on port $port within 10 s"
}

# True while pid runs. A zombie counts as gone: our daemons are reparented to
# pid 1, and in a container pid 1 may reap them late.
running() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ "$state" != Z ]]
}

# True when PID is still a daemon of the environment in DIR: its command line
# (Dovecot's -c, the auth service's --users) or its environment (Postfix's
# MAIL_CONFIG) names DIR. A daemon a test already stopped leaves its pid in
# DIR/env, and pids wrap quickly on a busy machine (pid_max may be 32768): a
# bare kill could hit whatever process got the number since.
ours() {
    local pid=$1 dir=$2
    [[ -n "$pid" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir" && return 0
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qF "$dir"
}

# Sends SIGTERM to each pid given, waits up to 5 s for all, then SIGKILLs what
# is left. Only the pids given are touched; they stop in parallel.
stop_pids() {
    local pid alive=()
    for pid in "$@"; do
        [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null && alive+=("$pid")
    done
    for _ in $(seq 1 100); do
        local still=()
        for pid in "${alive[@]}"; do
            running "$pid" && still+=("$pid")
        done
        ((${#still[@]} == 0)) && return 0
        alive=("${still[@]}")
        sleep 0.05
    done
    for pid in "${alive[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# Closes every descriptor above stderr that we inherited. The daemons started
# below would keep them open for their lifetime, and a parent that watches one of
# them for EOF (swift-corelibs-foundation's Process does) would think we never exit.
close_inherited_fds() {
    local fd
    for fd in /proc/$$/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then
            eval "exec $fd>&-" 2>/dev/null || true
        fi
    done
}

start() {
    local dir=$1
    close_inherited_fds
    local users_file=${POSTERN_USERS:-$repo/deploy/users.example}
    [[ -f "$users_file" ]] || die "no users file $users_file"
    command -v dovecot >/dev/null || die "dovecot not installed (run scripts/install-deps.sh)"
    id "$mail_user" >/dev/null 2>&1 || die "no system user $mail_user"

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # Mail processes run as $mail_user and must reach their Maildirs below DIR.
    chmod 755 "$dir"
    mkdir -p "$dir/dovecot/run" "$dir/dovecot/state" "$dir/mail"
    # A start that fails half way stops whatever it had started.
    cleanup_dir=$dir
    trap '[[ -n "$cleanup_dir" ]] && stop "$cleanup_dir"' EXIT

    # Users: the auth service reads the file as is; Dovecot knows the backend
    # accounts (backend_user/backend_password when given, else user/password).
    grep -v '^[[:space:]]*#' "$users_file" | sed 's/#.*//' | awk 'NF' >"$dir/users"
    awk '{ if (NF == 6) print $5 ":" $6; else print $1 ":" $2 }' "$dir/users" >"$dir/dovecot/passwd"
    local users backend_users first_user first_pass
    users=$(awk '{print $1}' "$dir/users" | tr '\n' ' ' | sed 's/ $//')
    backend_users=$(cut -d: -f1 "$dir/dovecot/passwd" | tr '\n' ' ' | sed 's/ $//')
    first_user=$(awk 'NR==1 {print $1}' "$dir/users")
    first_pass=$(awk 'NR==1 {print $2}' "$dir/users")

    local large
    # shellcheck disable=SC2086
    large=$(python3 "$repo/scripts/seed-maildir.py" "$dir/mail" "$first_user" $backend_users)
    chown -R "$mail_user:$mail_group" "$dir/mail"

    # Another process may take a chosen port before Dovecot binds it; Dovecot
    # then fails at once, and we try again with fresh ports (3 attempts).
    make_backend_certificate "$dir/tls"
    local ports imap_port pop3_port submission_port imaps_port pop3s_port attempt dovecot_pid=""
    for attempt in 1 2 3; do
        ports=$(free_ports 5)
        read -r imap_port pop3_port submission_port imaps_port pop3s_port <<<"$ports"
        sed -e "s|@DIR@|$dir|g" -e "s|@IMAP_PORT@|$imap_port|g" -e "s|@POP3_PORT@|$pop3_port|g" \
            -e "s|@SUBMISSION_PORT@|$submission_port|g" \
            -e "s|@IMAPS_PORT@|$imaps_port|g" -e "s|@POP3S_PORT@|$pop3s_port|g" \
            -e "s|@MAIL_USER@|$mail_user|g" -e "s|@MAIL_GROUP@|$mail_group|g" \
            "$template" >"$dir/dovecot/dovecot.conf"
        # Dovecot binds its listeners, daemonizes, and records its master pid in base_dir.
        if dovecot -c "$dir/dovecot/dovecot.conf"; then
            break
        fi
        ((attempt < 3)) || die "dovecot failed to start; see $dir/dovecot/dovecot.log"
        echo "testenv: dovecot failed to start (attempt $attempt), retrying with other ports" >&2
    done
    for _ in $(seq 1 50); do
        if [[ -s "$dir/dovecot/run/master.pid" ]]; then
            dovecot_pid=$(cat "$dir/dovecot/run/master.pid")
            break
        fi
        sleep 0.1
    done
    [[ -n "$dovecot_pid" ]] || die "dovecot wrote no pid file; see $dir/dovecot/dovecot.log"
    # Record it at once, so a failure below still leaves something "stop" can clean.
    echo "DOVECOT_PID=$dovecot_pid" >"$dir/env"
    wait_for_port "$imap_port" "dovecot imap"
    wait_for_port "$pop3_port" "dovecot pop3"
    wait_for_port "$imaps_port" "dovecot imaps"

    local smtp_port=$submission_port postfix_env=""
    if [[ "${TESTENV_POSTFIX:-0}" == 1 ]]; then
        start_postfix "$dir"
        smtp_port=$postfix_port
        postfix_env="POSTFIX_PORT=$postfix_port
POSTFIX_PID=$postfix_pid
POSTFIX_CONFIG=$dir/postfix/etc
POSTFIX_LOG=$dir/postfix/maillog
POSTFIX_MAILDIR=$dir/postfix/maildir"
        echo "$postfix_env" >>"$dir/env"
    fi

    # The auth service: its own session, no fd shared with the caller (a test
    # reading our output to EOF must not wait for it), port printed on stdout.
    # shellcheck disable=SC2086
    setsid python3 "$auth_service" --listen 127.0.0.1 --port 0 --users "$dir/users" \
        --log "$dir/auth.log" --imap-port "$imap_port" --pop3-port "$pop3_port" \
        --smtp-port "$smtp_port" --imaps-port "$imaps_port" --pop3s-port "$pop3s_port" ${AUTH_ARGS:-} \
        </dev/null >"$dir/auth.out" 2>"$dir/auth.err" &
    local auth_pid=$!
    echo "AUTH_PID=$auth_pid" >>"$dir/env"
    local auth_port=""
    for _ in $(seq 1 100); do
        auth_port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$dir/auth.out" 2>/dev/null)
        [[ -n "$auth_port" ]] && break
        running "$auth_pid" || die "auth service exited: $(cat "$dir/auth.err")"
        sleep 0.1
    done
    [[ -n "$auth_port" ]] || die "auth service did not report its port within 10 s"

    local large_sha256 large_size
    read -r _ large_sha256 _ large_size <<<"$large"
    cat >"$dir/env" <<ENV
# Written by scripts/testenv.sh; source it from a shell.
TESTENV_DIR=$dir
DOVECOT_PID=$dovecot_pid
DOVECOT_CONF=$dir/dovecot/dovecot.conf
DOVECOT_LOG=$dir/dovecot/dovecot.log
IMAP_PORT=$imap_port
POP3_PORT=$pop3_port
SUBMISSION_PORT=$submission_port
IMAPS_PORT=$imaps_port
POP3S_PORT=$pop3s_port
BACKEND_CA=$dir/tls/backend-ca.pem
AUTH_PID=$auth_pid
AUTH_PORT=$auth_port
AUTH_URL=http://127.0.0.1:$auth_port/auth
AUTH_LOG=$dir/auth.log
USERS_FILE=$dir/users
USERS="$users"
TEST_USER=$first_user
TEST_PASS=$first_pass
LARGE_USER=$first_user
LARGE_FOLDER=Large
LARGE_SHA256=$large_sha256
LARGE_SIZE=$large_size
$postfix_env
ENV
    cleanup_dir=""
    echo "testenv: dovecot imap=$imap_port pop3=$pop3_port submission=$submission_port imaps=$imaps_port pop3s=$pop3s_port, auth=$auth_port, env in $dir/env"
}

# Postfix from Tests/IntegrationTests/Fixtures/postfix as a plain process under
# A small CA and a certificate for localhost and 127.0.0.1 signed by it, in
# DIR (backend-ca.pem, backend.pem, backend.key): the TLS backend's identity.
# EC keys, so it takes milliseconds.
make_backend_certificate() {
    local out=$1
    mkdir -p "$out"
    [[ -s "$out/backend.pem" ]] && return 0
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=Postern test backend CA" -keyout "$out/backend-ca.key" -out "$out/backend-ca.pem" 2>>"$out/openssl.log"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$out/backend.key" -out "$out/backend.csr" 2>>"$out/openssl.log"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$out/backend.ext"
    openssl x509 -req -in "$out/backend.csr" -CA "$out/backend-ca.pem" -CAkey "$out/backend-ca.key" \
        -CAcreateserial -days 30 -extfile "$out/backend.ext" -out "$out/backend.pem" 2>>"$out/openssl.log"
    # Dovecot's login processes read the key as root before dropping privileges.
    chmod 600 "$out/backend.key" "$out/backend-ca.key"
}

# DIR/postfix (config, queue, Maildir, log file), listening on a free port.
# Sets postfix_port and postfix_pid.
start_postfix() {
    local dir=$1 fixtures="$repo/Tests/IntegrationTests/Fixtures/postfix"
    command -v postfix >/dev/null || die "postfix not installed (run scripts/install-deps.sh)"
    local pf="$dir/postfix"
    mkdir -p "$pf/etc" "$pf/queue" "$pf/data" "$pf/maildir/cur" "$pf/maildir/new" "$pf/maildir/tmp"
    chown postfix "$pf/data"
    chown -R "$mail_user:$mail_group" "$pf/maildir"
    sed -e "s|@DIR@|$dir|g" -e "s|@MAIL_UID@|$(id -u "$mail_user")|g" -e "s|@MAIL_GID@|$(id -g "$mail_user")|g" \
        "$fixtures/main.cf.template" >"$pf/etc/main.cf"
    # postfix-script checks its own file list and the map types it may load.
    cp -r /etc/postfix/postfix-files /etc/postfix/dynamicmaps.cf "$pf/etc/"
    [[ -d /etc/postfix/postfix-files.d ]] && cp -r /etc/postfix/postfix-files.d "$pf/etc/"
    [[ -d /etc/postfix/dynamicmaps.cf.d ]] && cp -r /etc/postfix/dynamicmaps.cf.d "$pf/etc/"
    # A second try on a fresh port: the free port may be taken between choosing and binding.
    local attempt started=0
    for attempt in 1 2; do
        postfix_port=$(free_ports 1)
        sed -e "s|@SMTP_PORT@|$postfix_port|g" "$fixtures/master.cf.template" >"$pf/etc/master.cf"
        if postfix -c "$pf/etc" start </dev/null >"$pf/start.log" 2>&1; then
            started=1
            break
        fi
        postfix -c "$pf/etc" stop </dev/null >/dev/null 2>&1 || true
    done
    ((started)) || die "postfix failed to start: $(tail -n 5 "$pf/maillog" 2>/dev/null)"
    postfix_pid=""
    for _ in $(seq 1 50); do
        if [[ -s "$pf/queue/pid/master.pid" ]]; then
            postfix_pid=$(tr -d ' ' <"$pf/queue/pid/master.pid")
            break
        fi
        sleep 0.1
    done
    [[ -n "$postfix_pid" ]] || die "postfix wrote no pid file; see $pf/maillog"
    echo "POSTFIX_PID=$postfix_pid" >>"$dir/env"
    wait_for_port "$postfix_port" "postfix smtpd"
}

stop() {
    local dir=$1
    [[ -f "$dir/env" ]] || return 0
    local DOVECOT_PID="" AUTH_PID="" POSTFIX_PID=""
    # shellcheck disable=SC1091
    source "$dir/env"
    # The master stops its children on SIGTERM.
    local pid mine=()
    for pid in "$AUTH_PID" "$DOVECOT_PID" "$POSTFIX_PID"; do
        ours "$pid" "$dir" && mine+=("$pid")
    done
    ((${#mine[@]} == 0)) || stop_pids "${mine[@]}"
}

case "${1:-}" in
    start) [[ $# -eq 2 ]] || die "usage: $0 start DIR"; start "$2" ;;
    stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 start|stop DIR" ;;
esac
