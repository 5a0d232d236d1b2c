#!/bin/sh
# run.sh - the WSK echo server against the best native epoll and io_uring
# servers (issue 13's rows).
#
#   bench/run.sh [--rounds 5] [--seconds 2] [--backends "io_uring epoll"] [--control]
#   OPENWSK_BENCH_ROWS="echo-1c-1t udp-16s-1t"   runs only these rows
#   OPENWSK_BENCH_WORKLOADS="tcp_echo ..."      runs only the rows of these workloads
#   (either: a quick A/B check; `bench/run.sh --list` prints the rows)
#
# A row is a workload, its connections (sockets for udp_echo, cycles at a
# time for tcp_connect) and the server's threads. Rows with one server
# thread pin the server to CPU 0 and bench_load (one client thread) to
# CPU 1 with taskset, so each side has one core; two-thread rows pin
# nothing (the server's two threads and the two client threads share the
# machine's cores, as they would in production). Without taskset or with
# fewer than 2 CPUs nothing is pinned (the header line says so).
#
# Builds a Release tree in build/bench, then for each round and each row
# runs every implementation once, in an order rotated from round to round so
# that slow drifts of the machine favour none of them: the WSK echo server
# (bench/wsk_echo_server) on each engine backend of --backends
# (OPENWSK_IO_BACKEND, OPENWSK_IO_THREADS via --threads), the native epoll
# server (recvmmsg/sendmmsg) and the native io_uring server (multishot
# receive, provided buffers). Each run: a fresh server on a free port, READY
# awaited, its CPU time (utime+stime of /proc/PID/stat) read around one
# bench_load run, which verifies every echoed byte, then SIGTERM and its
# exit status. socket_cycles runs each program once per round (unpinned;
# its CPU is the program's own). Raw lines go to build/bench/raw.txt; the
# table (ratios against the best native server per row, targets) to stdout
# and build/bench/summary.txt.
#
# --control adds a second, independent run of each native server per round
# (control-epoll, control-io_uring; socket_cycles: control), judged against
# the targets exactly like the WSK server.  A native server measured against
# itself shows how often this machine's noise alone misses a target: a WSK
# miss no larger than the controls' is not evidence of a provider cost.
# About half as long again.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

# name:workload:connections:server_threads
ALL_ROWS="stream-4c-1t:tcp_stream:4:1
udp-16s-1t:udp_echo:16:1
echo-1c-1t:tcp_echo:1:1
echo-16c-2t:tcp_echo:16:2
echo-16c-1t:tcp_echo:16:1
echo-256c-1t:tcp_echo:256:1
echo-256c-2t:tcp_echo:256:2
connect-16-1t:tcp_connect:16:1
socket_cycles:socket_cycles:1:1"

rounds=5
seconds=2
backends="io_uring epoll"
control=no
usage() {
    echo "usage: bench/run.sh [--rounds R] [--seconds S] [--backends \"io_uring epoll\"] [--control] | --list" >&2
    exit 1
}
while [ $# -gt 0 ]; do
    if [ "$1" = --list ]; then
        echo "$ALL_ROWS" | tr ':' ' ' | awk '{ printf "%-15s %-13s conns=%-4s server_threads=%s\n", $1, $2, $3, $4 }'
        exit 0
    fi
    if [ "$1" = --control ]; then
        control=yes
        shift
        continue
    fi
    [ $# -ge 2 ] || usage
    case $1 in
        --rounds) rounds=$2 ;;
        --seconds) seconds=$2 ;;
        --backends) backends=$2 ;;
        *) usage ;;
    esac
    shift 2
done
case $rounds in '' | *[!0-9]*) usage ;; esac
awk -v s="$seconds" 'BEGIN { exit !(s + 0 > 0) }' || usage
for b in $backends; do
    case $b in io_uring | epoll) ;; *) echo "run.sh: unknown backend $b" >&2; exit 1 ;; esac
done

# The rows to run: all, or those named / of the workloads named.
rows=""
for spec in $ALL_ROWS; do
    name=${spec%%:*}
    rest=${spec#*:}
    wl=${rest%%:*}
    if [ -n "${OPENWSK_BENCH_ROWS:-}" ]; then
        case " $OPENWSK_BENCH_ROWS " in *" $name "*) ;; *) continue ;; esac
    fi
    if [ -n "${OPENWSK_BENCH_WORKLOADS:-}" ]; then
        case " $OPENWSK_BENCH_WORKLOADS " in *" $wl "*) ;; *) continue ;; esac
    fi
    rows="$rows $spec"
done
if [ -z "$rows" ]; then
    echo "run.sh: no row selected (see bench/run.sh --list)" >&2
    exit 1
fi

# ---- dependencies (Debian 12) ----
need=""
for pkg in cmake ninja-build gcc pkg-config liburing-dev util-linux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "run.sh: installing$need"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

# ---- build ----
out=$root/build/bench
if grep -q 'add_subdirectory(bench)' CMakeLists.txt; then
    build_dir=$out
    bin=$out/bench
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
else
    # The root project does not include bench/: build the native side on
    # its own (bench/CMakeLists.txt supports that), WSK rows skipped.
    echo "run.sh: root CMakeLists.txt lacks add_subdirectory(bench); building the native programs only"
    build_dir=$out/standalone
    bin=$build_dir
    cmake -S bench -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build_dir" --target bench_epoll_server bench_uring_server bench_load bench_native_socket_cycles
have_wsk=no
if [ "$bin" = "$out/bench" ] && [ -f bench/wsk_echo_server.c ] && [ -f bench/wsk_socket_cycles.c ]; then
    if cmake --build "$build_dir" --target wsk_echo_server wsk_socket_cycles; then
        have_wsk=yes
    else
        echo "run.sh: NOTE: the WSK programs do not build; their rows are skipped"
    fi
else
    echo "run.sh: NOTE: bench/wsk_echo_server.c or bench/wsk_socket_cycles.c missing; WSK rows skipped"
fi

impls="native-epoll native-io_uring"
cycle_impls="native"
if [ "$have_wsk" = yes ]; then
    wsk_impls=""
    for b in $backends; do wsk_impls="$wsk_impls wsk-$b"; done
    wsk_impls=${wsk_impls# }
    impls="$wsk_impls $impls"
    cycle_impls="$wsk_impls native"
fi
if [ "$control" = yes ]; then
    impls="$impls control-epoll control-io_uring"
    cycle_impls="$cycle_impls control"
fi

# Pinning: one core each for a one-thread server and the load generator.
pin=no
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then pin=yes; fi

clk_tck=$(getconf CLK_TCK)
raw=$out/raw.txt
summary=$out/summary.txt
tmp=$(mktemp -d)
srv_pid=""
cleanup() {
    if [ -n "$srv_pid" ]; then kill -KILL "$srv_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Estimated duration: each network run is its measured seconds plus ~0.5 s
# (warmup 0.3 s, server start and stop); a cycles run its seconds + 0.2 s.
n_net=0
n_cyc=0
for spec in $rows; do
    case $spec in socket_cycles:*) n_cyc=$((n_cyc + 1)) ;; *) n_net=$((n_net + 1)) ;; esac
done
n_impl=$(echo $impls | wc -w)
n_cimpl=$(echo $cycle_impls | wc -w)
estimate=$(awk -v r="$rounds" -v s="$seconds" -v a="$n_net" -v b="$n_impl" -v c="$n_cyc" -v d="$n_cimpl" \
    'BEGIN { t = r * (a * b * (s + 0.5) + c * d * (s + 0.2)); printf "%d min %02d s", t / 60, t % 60 }')
echo "run.sh: $rounds rounds x $seconds s, $n_net network rows x $n_impl implementations + $n_cyc cycles rows:" \
    "about $estimate"

# utime+stime of a process (all its threads), in clock ticks.
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# Process state letter (Z once it has exited but is not yet waited for).
proc_state() {
    sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1
}

# impl -> executable and OPENWSK_IO_BACKEND value
server_for() {
    case $1 in
        wsk-*) exe=$bin/wsk_echo_server; backend=${1#wsk-} ;;
        native-epoll | control-epoll) exe=$bin/bench_epoll_server; backend=unused ;;
        native-io_uring | control-io_uring) exe=$bin/bench_uring_server; backend=unused ;;
    esac
}

# Start a server (pinned to CPU 0 when $pinned) and wait (10 s at most) for
# its READY line.
start_server() { # impl threads
    server_for "$1"
    # A plain command (not a subshell), taskset and env exec: $! is the
    # server's own pid.
    if [ "$pinned" = yes ]; then
        taskset -c 0 env OPENWSK_IO_BACKEND="$backend" "$exe" --port "$port" --threads "$2" \
            >"$tmp/server.out" 2>"$tmp/server.err" &
    else
        env OPENWSK_IO_BACKEND="$backend" "$exe" --port "$port" --threads "$2" \
            >"$tmp/server.out" 2>"$tmp/server.err" &
    fi
    srv_pid=$!
    i=0
    while [ $i -lt 200 ]; do
        grep -q READY "$tmp/server.out" && return 0
        [ "$(proc_state "$srv_pid")" = Z ] && return 1
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# SIGTERM, then up to 10 s to exit; sets srv_exit (or "killed").
stop_server() {
    kill -TERM "$srv_pid" 2>/dev/null || true
    i=0
    while [ $i -lt 200 ] && [ "$(proc_state "$srv_pid")" != Z ] && [ -e "/proc/$srv_pid" ]; do
        sleep 0.05
        i=$((i + 1))
    done
    srv_exit=0
    if [ -e "/proc/$srv_pid" ] && [ "$(proc_state "$srv_pid")" != Z ]; then
        kill -KILL "$srv_pid" 2>/dev/null || true
        wait "$srv_pid" 2>/dev/null || true
        srv_exit=killed
    else
        wait "$srv_pid" || srv_exit=$?
    fi
    srv_pid=""
}

# One bench_load run against one freshly started server.
run_one() { # round impl row workload conns threads
    tag="round=$1 row=$3 impl=$2 workload=$4 conns=$5 threads=$6 pinned=$pinned"
    port=$("$bin/bench_load" --free-port)
    if ! start_server "$2" "$6"; then
        stop_server
        echo "RUN $tag status=FAILED reason=no_READY server_exit=$srv_exit" >>"$raw"
        echo "  $2: FAILED, server did not get READY: $(tail -n 3 "$tmp/server.err" | tr '\n' ' ')" >&2
        return 0
    fi
    before=$(cpu_ticks "$srv_pid")
    lrc=0
    if [ "$pinned" = yes ]; then
        taskset -c 1 "$bin/bench_load" --port "$port" --workload "$4" --conns "$5" --client-threads 1 \
            --seconds "$seconds" >"$tmp/load.out" 2>"$tmp/load.err" || lrc=$?
    else
        "$bin/bench_load" --port "$port" --workload "$4" --conns "$5" --client-threads 2 \
            --seconds "$seconds" >"$tmp/load.out" 2>"$tmp/load.err" || lrc=$?
    fi
    after=$(cpu_ticks "$srv_pid")
    stop_server
    result=$(grep '^RESULT ' "$tmp/load.out" || true)
    if [ $lrc -ne 0 ] || [ -z "$result" ] || [ "$srv_exit" != 0 ]; then
        reason=$(grep -v '^INFO' "$tmp/load.err" | head -n 1 | tr ' =' '__')
        echo "RUN $tag status=FAILED load_exit=$lrc server_exit=$srv_exit reason=${reason:-none}" >>"$raw"
        echo "  $2: FAILED (bench_load $lrc, server $srv_exit) $(head -n 2 "$tmp/load.err" | tr '\n' ' ')" >&2
        [ -s "$tmp/server.err" ] && echo "  server stderr: $(tail -n 3 "$tmp/server.err" | tr '\n' ' ')" >&2
        return 0
    fi
    total=$(sed -n 's/^INFO total_ops=//p' "$tmp/load.err")
    # Server CPU per operation over everything bench_load did (warmup
    # included), so the divisor is the operations of the whole run.
    cpu=$(awk -v b="$before" -v a="$after" -v t="$clk_tck" -v n="${total:-0}" \
        'BEGIN { s = (a - b) / t; printf "server_cpu_s=%.3f cpu_us_per_op=%.3f", s, (n > 0 ? s * 1e6 / n : 0) }')
    result=${result#RESULT workload=$4 }
    echo "RUN $tag ${result% errors=0} total_ops=$total $cpu server_exit=0 status=ok" >>"$raw"
    echo "  $2: $(echo "$result" | cut -d' ' -f1-2,5-7) $cpu"
}

# Children's user+sys CPU seconds so far, from the shell's `times` (run in
# this shell: in a $(...) subshell it would see only the subshell's children).
child_cpu() {
    times >"$tmp/times"
    awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] } print s }' "$tmp/times"
}

# socket_cycles: the program itself is measured; CPU is its own (all threads).
run_cycles() { # round impl
    tag="round=$1 row=socket_cycles impl=$2 workload=socket_cycles conns=1 threads=1 pinned=no"
    case $2 in
        wsk-*) exe=$bin/wsk_socket_cycles; backend=${2#wsk-} ;;
        *) exe=$bin/bench_native_socket_cycles; backend=unused ;;
    esac
    child_cpu >"$tmp/c0"
    lrc=0
    env OPENWSK_IO_BACKEND="$backend" "$exe" --seconds "$seconds" >"$tmp/load.out" 2>"$tmp/load.err" || lrc=$?
    child_cpu >"$tmp/c1"
    c0=$(cat "$tmp/c0")
    c1=$(cat "$tmp/c1")
    result=$(grep '^RESULT ' "$tmp/load.out" || true)
    if [ $lrc -ne 0 ] || [ -z "$result" ]; then
        echo "RUN $tag status=FAILED load_exit=$lrc" >>"$raw"
        echo "  $2: FAILED ($lrc) $(head -n 2 "$tmp/load.err" | tr '\n' ' ')" >&2
        return 0
    fi
    ops=$(echo "$result" | sed 's/.* ops=\([0-9]*\) .*/\1/')
    cpu=$(awk -v c0="$c0" -v c1="$c1" -v n="$ops" \
        'BEGIN { s = c1 - c0; printf "server_cpu_s=%.3f cpu_us_per_op=%.3f", s, (n > 0 ? s * 1e6 / n : 0) }')
    result=${result#RESULT workload=socket_cycles }
    echo "RUN $tag ${result% errors=0} total_ops=$ops $cpu server_exit=0 status=ok" >>"$raw"
    echo "  $2: $(echo "$result" | cut -d' ' -f1-2) $cpu"
}

# The list rotated left by n places.
rotate() { # n words...
    n=$1
    shift
    k=$(($# > 0 ? n % $# : 0))
    i=0
    head=""
    for x in "$@"; do
        if [ $i -lt $k ]; then head="$head $x"; else printf '%s ' "$x"; fi
        i=$((i + 1))
    done
    echo "$head"
}

{
    echo "# bench/run.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) rounds=$rounds seconds=$seconds" \
        "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "# $(uname -sr), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))," \
        "1-thread rows pinned (server CPU 0, bench_load CPU 1): $pin"
    echo "# implementations: $impls; socket_cycles: $cycle_impls"
} >"$raw"

r=1
while [ "$r" -le "$rounds" ]; do
    # shellcheck disable=SC2086
    order=$(rotate $((r - 1)) $impls)
    # shellcheck disable=SC2086
    corder=$(rotate $((r - 1)) $cycle_impls)
    for spec in $rows; do
        # shellcheck disable=SC2046
        set -- $(echo "$spec" | tr ':' ' ')
        row=$1 wl=$2 conns=$3 threads=$4
        if [ "$wl" = socket_cycles ]; then
            echo "round $r/$rounds $row: $corder"
            for impl in $corder; do run_cycles "$r" "$impl"; done
            continue
        fi
        pinned=no
        if [ "$pin" = yes ] && [ "$threads" = 1 ]; then pinned=yes; fi
        echo "round $r/$rounds $row ($wl, $conns conns, $threads server threads, pinned: $pinned): $order"
        for impl in $order; do run_one "$r" "$impl" "$row" "$wl" "$conns" "$threads"; done
    done
    r=$((r + 1))
done

awk -v have_wsk="$have_wsk" -v impls="$impls" -v cycle_impls="$cycle_impls" -v rows="$rows" \
    -f bench/summary.awk "$raw" | tee "$summary"
