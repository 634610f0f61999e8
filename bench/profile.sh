#!/usr/bin/env bash
# Instructions per login under valgrind's callgrind, Postern and nginx side by side.
#
#   bench/profile.sh [--postern BINARY] [--workload imap_login_c4] [--out DIR] [--nginx]
#
# Runs bench/run.sh (size tiny, one round, only WORKLOAD) twice, with 20 and
# 320 sessions, each proxy under callgrind; the difference of the two totals
# divided by 300 is the cost of one login without start-up and shutdown.
# The profiles stay in DIR (callgrind.<proxy>.<sessions>) for callgrind_annotate.
# valgrind 3.19 cannot read the DWARF 5 that swiftc writes, so the binary is
# profiled with its debug sections stripped (symbols stay).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
postern_bin=$repo/.build/release/postern
workload=imap_login_c4
out=/tmp/postern-profile
with_nginx=0
while (($# > 0)); do
    case "$1" in
        --postern) postern_bin=${2:?}; shift 2 ;;
        --workload) workload=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --nginx) with_nginx=1; shift ;;
        *) echo "profile: unknown argument $1" >&2; exit 1 ;;
    esac
done
mkdir -p "$out"
strip --strip-debug -o "$out/postern" "$postern_bin"
total() { sed -n 's/^summary: //p; s/^totals: //p' "$1" | head -1; }
for n in 20 320; do
    wrap_nginx=""
    ((with_nginx)) && wrap_nginx="valgrind --tool=callgrind --callgrind-out-file=$out/callgrind.nginx.$n"
    BENCH_SESSIONS=$n BENCH_WRAP_NGINX="$wrap_nginx" \
        BENCH_WRAP_POSTERN="valgrind --tool=callgrind --callgrind-out-file=$out/callgrind.postern.$n" \
        "$repo/bench/run.sh" --size tiny --rounds 1 --postern "$out/postern" --only "^${workload}\$" >"$out/run.$n.log" 2>&1 \
        || { tail -5 "$out/run.$n.log" >&2; exit 1; }
done
for proxy in postern nginx; do
    [[ -s "$out/callgrind.$proxy.20" && -s "$out/callgrind.$proxy.320" ]] || continue
    a=$(total "$out/callgrind.$proxy.20"); b=$(total "$out/callgrind.$proxy.320")
    echo "$proxy: $(( (b - a) / 300 )) instructions per login ($workload; totals $a at 20, $b at 320 sessions)"
done
