#!/bin/sh
# selftest.sh - checks the benchmark's plumbing, not its speed (~40 s):
# every server answers every workload with bench_load exiting 0, and a
# deliberately broken native server (--corrupt-every / --drop-every) makes
# bench_load exit 2 on every workload.
#
#   bench/selftest.sh [BIN_DIR]     (default build/bench/bench, as run.sh builds it)
set -u
cd "$(dirname "$0")/.."
bin=${1:-build/bench/bench}
fails=0
srv_pid=""
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null' EXIT

start() { # exe args...
    port=$("$bin/bench_load" --free-port)
    : >/tmp/selftest.$$.out
    "$@" --port "$port" >/tmp/selftest.$$.out 2>&1 &
    srv_pid=$!
    i=0
    while [ $i -lt 200 ] && ! grep -q READY /tmp/selftest.$$.out; do sleep 0.05; i=$((i + 1)); done
    grep -q READY /tmp/selftest.$$.out || { echo "FAIL  $*: no READY"; fails=$((fails + 1)); }
}

stop() { # label: the server must exit 0 on SIGTERM
    kill "$srv_pid" 2>/dev/null
    wait "$srv_pid"
    rc=$?
    srv_pid=""
    if [ "$rc" != 0 ]; then
        echo "FAIL  $1: server exit $rc: $(tail -n 2 /tmp/selftest.$$.out | tr '\n' ' ')"
        fails=$((fails + 1))
    fi
    rm -f /tmp/selftest.$$.out
}

expect() { # status label bench_load-args...
    want=$1 label=$2
    shift 2
    "$bin/bench_load" --port "$port" "$@" >/dev/null 2>/tmp/selftest.$$.err
    got=$?
    if [ "$got" = "$want" ]; then
        echo "ok    $label: exit $got"
    else
        echo "FAIL  $label: exit $got, expected $want: $(grep -v INFO /tmp/selftest.$$.err | head -n 1)"
        fails=$((fails + 1))
    fi
    rm -f /tmp/selftest.$$.err
}

workloads="tcp_stream tcp_echo udp_echo tcp_connect"
servers="bench_epoll_server bench_uring_server"
for exe in wsk_echo_server; do [ -x "$bin/$exe" ] && servers="$servers $exe"; done

for s in $servers; do
    for threads in 1 2; do
        start env OPENWSK_IO_BACKEND=io_uring "$bin/$s" --threads "$threads"
        for w in $workloads; do expect 0 "$s --threads $threads $w" --workload "$w" --seconds 0.5; done
        expect 0 "$s --threads $threads tcp_echo 256 conns" --workload tcp_echo --conns 256 --seconds 0.5
        stop "$s --threads $threads"
    done
done
if [ -x "$bin/wsk_echo_server" ]; then
    start env OPENWSK_IO_BACKEND=epoll "$bin/wsk_echo_server" --threads 1
    for w in $workloads; do expect 0 "wsk_echo_server (epoll) $w" --workload "$w" --seconds 0.5; done
    stop "wsk_echo_server (epoll)"
fi

# Broken servers: every corruption is caught; a missing TCP echo stalls
# (caught after 2 s); missing datagrams count as lost (over 1%: failure).
for s in bench_epoll_server bench_uring_server; do
    start "$bin/$s" --corrupt-every 50
    for w in $workloads; do expect 2 "$s --corrupt-every 50 $w" --workload "$w" --seconds 1; done
    stop "$s --corrupt-every 50"
    start "$bin/$s" --drop-every 50
    for w in $workloads; do expect 2 "$s --drop-every 50 $w" --workload "$w" --seconds 3; done
    stop "$s --drop-every 50"
done

[ "$fails" = 0 ] && echo "selftest: all passed" || echo "selftest: $fails FAILED"
[ "$fails" = 0 ]
