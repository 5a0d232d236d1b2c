#!/bin/sh
# run.sh - the WSK echo server against native epoll and io_uring servers.
#
#   bench/run.sh [--rounds R] [--seconds S] [--threads T] [--backends "io_uring epoll"]
#   OPENWSK_BENCH_WORKLOADS="tcp_echo ..." runs a subset (a quick A/B check).
#
# Builds a Release tree in build/bench, then for each round and each
# workload (tcp_echo, tcp_stream, udp_echo, tcp_connect) runs every server
# once, in an order rotated from round to round so that slow drifts of the
# machine do not favour one of them: the WSK server on each engine backend
# of --backends (OPENWSK_IO_BACKEND), the native epoll server, the native
# io_uring server. Each run: a fresh server on a free port, READY awaited,
# its CPU time (utime+stime of /proc/PID/stat) read around one bench_load
# run, then SIGTERM and its exit status. socket_cycles runs once per round
# per backend (and natively). Raw lines go to build/bench/raw.txt; the table
# of medians and ratios to stdout and build/bench/summary.txt.
# WSK programs not built yet (or failing to build) only remove their rows.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

rounds=5
seconds=3
threads=2
backends="io_uring epoll"
usage() {
    echo "usage: bench/run.sh [--rounds R] [--seconds S] [--threads T] [--backends \"io_uring epoll\"]" >&2
    exit 1
}
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case $1 in
        --rounds) rounds=$2 ;;
        --seconds) seconds=$2 ;;
        --threads) threads=$2 ;;
        --backends) backends=$2 ;;
        *) usage ;;
    esac
    shift 2
done
case $rounds in '' | *[!0-9]*) usage ;; esac
case $threads in '' | *[!0-9]*) usage ;; esac
for b in $backends; do
    case $b in io_uring | epoll) ;; *) echo "run.sh: unknown backend $b" >&2; exit 1 ;; esac
done

# ---- dependencies (Debian 12) ----
need=""
for pkg in cmake ninja-build gcc pkg-config liburing-dev; do
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
    # The root project does not include bench/ yet: build the native side
    # on its own (bench/CMakeLists.txt supports that), WSK rows skipped.
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
if [ "$have_wsk" = yes ]; then
    wsk_impls=""
    for b in $backends; do wsk_impls="$wsk_impls wsk-$b"; done
    impls="$wsk_impls $impls"
fi
workloads=${OPENWSK_BENCH_WORKLOADS:-"tcp_echo tcp_stream udp_echo tcp_connect"} # a subset: quick A/B checks
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
        native-epoll) exe=$bin/bench_epoll_server; backend=unused ;;
        native-io_uring) exe=$bin/bench_uring_server; backend=unused ;;
    esac
}

# Start a server and wait (10 s at most) for its READY line.
start_server() {
    server_for "$1"
    # A plain command (not a subshell): $! is the server's own pid.
    env OPENWSK_IO_BACKEND="$backend" "$exe" --port "$port" --threads "$threads" \
        >"$tmp/server.out" 2>"$tmp/server.err" &
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
run_one() { # round impl workload
    port=$("$bin/bench_load" --free-port)
    if ! start_server "$2"; then
        stop_server
        echo "RUN round=$1 impl=$2 workload=$3 status=FAILED reason=no_READY server_exit=$srv_exit" >>"$raw"
        echo "  $2 $3: server did not get READY: $(tail -n 3 "$tmp/server.err" | tr '\n' ' ')" >&2
        return 0
    fi
    before=$(cpu_ticks "$srv_pid")
    lrc=0
    "$bin/bench_load" --port "$port" --workload "$3" --seconds "$seconds" >"$tmp/load.out" 2>"$tmp/load.err" || lrc=$?
    after=$(cpu_ticks "$srv_pid")
    stop_server
    result=$(grep '^RESULT ' "$tmp/load.out" || true)
    if [ $lrc -ne 0 ] || [ -z "$result" ] || [ "$srv_exit" != 0 ]; then
        reason=$(grep -v '^INFO' "$tmp/load.err" | head -n 1 | tr ' =' '__')
        echo "RUN round=$1 impl=$2 workload=$3 status=FAILED load_exit=$lrc server_exit=$srv_exit reason=${reason:-none}" >>"$raw"
        echo "  $2 $3: FAILED (bench_load $lrc, server $srv_exit) $(head -n 2 "$tmp/load.err" | tr '\n' ' ')" >&2
        [ -s "$tmp/server.err" ] && echo "  server stderr: $(tail -n 3 "$tmp/server.err" | tr '\n' ' ')" >&2
        return 0
    fi
    total=$(sed -n 's/^INFO total_ops=//p' "$tmp/load.err")
    # Server CPU per operation over everything bench_load did (warmup
    # included), so the divisor is the operations of the whole run.
    cpu=$(awk -v b="$before" -v a="$after" -v t="$clk_tck" -v n="${total:-0}" \
        'BEGIN { s = (a - b) / t; printf "server_cpu_s=%.3f cpu_us_per_op=%.3f", s, (n > 0 ? s * 1e6 / n : 0) }')
    echo "RUN round=$1 impl=$2 ${result#RESULT } total_ops=$total $cpu server_exit=0 status=ok" >>"$raw"
    echo "  $2: ${result#RESULT workload=} $cpu"
}

# Children's user+sys CPU seconds so far, from the shell's `times` (run in
# this shell: in a $(...) subshell it would see only the subshell's children).
child_cpu() {
    times >"$tmp/times"
    awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] } print s }' "$tmp/times"
}

# socket_cycles: the program itself is measured; CPU is its own (all threads).
run_cycles() { # round impl
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
        echo "RUN round=$1 impl=$2 workload=socket_cycles status=FAILED load_exit=$lrc" >>"$raw"
        echo "  $2 socket_cycles: FAILED ($lrc) $(head -n 2 "$tmp/load.err" | tr '\n' ' ')" >&2
        return 0
    fi
    ops=$(echo "$result" | sed 's/.* ops=\([0-9]*\) .*/\1/')
    cpu=$(awk -v c0="$c0" -v c1="$c1" -v n="$ops" \
        'BEGIN { s = c1 - c0; printf "server_cpu_s=%.3f cpu_us_per_op=%.3f", s, (n > 0 ? s * 1e6 / n : 0) }')
    echo "RUN round=$1 impl=$2 ${result#RESULT } total_ops=$ops $cpu server_exit=0 status=ok" >>"$raw"
    echo "  $2: ${result#RESULT workload=} $cpu"
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
    echo "# bench/run.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) rounds=$rounds seconds=$seconds threads=$threads"
    echo "# $(uname -sr), $(nproc) CPUs, implementations: $impls"
} >"$raw"
cycle_impls="native"
if [ "$have_wsk" = yes ]; then cycle_impls="$(echo "$wsk_impls") native"; fi

r=1
while [ "$r" -le "$rounds" ]; do
    # shellcheck disable=SC2086
    order=$(rotate $((r - 1)) $impls)
    for w in $workloads; do
        echo "round $r/$rounds $w: $order"
        for impl in $order; do
            run_one "$r" "$impl" "$w"
        done
    done
    # shellcheck disable=SC2086
    corder=$(rotate $((r - 1)) $cycle_impls)
    echo "round $r/$rounds socket_cycles: $corder"
    for impl in $corder; do
        run_cycles "$r" "$impl"
    done
    r=$((r + 1))
done

awk -v have_wsk="$have_wsk" -v impls="$impls" -f bench/summary.awk "$raw" | tee "$summary"
