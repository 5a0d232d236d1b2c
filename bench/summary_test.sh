#!/bin/sh
# summary_test.sh - checks bench/summary.awk's arithmetic and judging on a
# made-up raw.txt whose answers were worked out by hand: the best native
# server (highest median rate), paired ratios (the median over rounds of
# same-round ratios, the mean of the middle two for an even count), the
# ratio against the native server of the same mechanism, the targets, a
# control judged like the WSK server, failed runs, and the count of target
# cells met.  bench/RESULTS.md's tables are this script's output, so a
# mistake here would misreport issue 13's targets.  Run by ctest.
#
#   bench/summary_test.sh [path/to/summary.awk]
set -u
awk_file=${1:-$(dirname "$0")/summary.awk}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

run() { # round row impl rate cpu p99 [status]
    echo "RUN round=$1 row=$2 impl=$3 workload=w conns=1 threads=1 pinned=yes rate=$4 unit=req/s" \
        "p50_us=1 p99_us=$6 lost=0 total_ops=1 server_cpu_s=1 cpu_us_per_op=$5 server_exit=0 status=${7:-ok}"
}

{
    echo "# bench/run.sh made up for summary_test.sh"
    # echo: native-epoll's median rate 105, native-io_uring's 110: io_uring is the best native.
    run 1 echo native-epoll 100 10 100
    run 2 echo native-epoll 110 10 100
    run 1 echo native-io_uring 120 10 100
    run 2 echo native-io_uring 100 12 200
    # wsk-io_uring: rate 120/120=1.00 and 90/100=0.90 -> 0.95 (missed); cpu 11/10 and 12/12 -> 1.05 (met);
    # p99 130/100=1.30 and 220/200=1.10 -> 1.20 (met: the limit is inclusive).
    run 1 echo wsk-io_uring 120 11 130
    run 2 echo wsk-io_uring 90 12 220
    # wsk-epoll: against the best 105/120 and 121/100 -> (0.875+1.21)/2 = 1.0425 -> 1.04 (met);
    # cpu 12/10, 12/12 -> 1.10 (met); p99 100/100, 300/200 -> 1.25 (missed).
    # Its same mechanism is native-epoll: 105/100, 121/110 -> (1.05+1.10)/2 = 1.075 -> rate_same 1.07 or 1.08.
    run 1 echo wsk-epoll 105 12 100
    run 2 echo wsk-epoll 121 12 300
    # control-epoll: 108/120=0.90 and 110/100=1.10 -> 1.00 (met); cpu 10/10, 14/12 -> 1.0833 (met);
    # round 3 failed: not counted, reported.
    run 1 echo control-epoll 108 10 100
    run 2 echo control-epoll 110 14 100
    run 3 echo control-epoll 0 0 0 FAILED
    # socket cycles: wsk 0.85 of native's rate meets >= 0.8; cpu 1.15 misses.
    run 1 socket_cycles native 100 10 0
    run 1 socket_cycles wsk-io_uring 85 11.5 0
    run 1 socket_cycles control 100 10 0
} >"$tmp/raw.txt"

awk -v have_wsk=yes -v impls="wsk-io_uring wsk-epoll native-epoll native-io_uring control-epoll" \
    -v cycle_impls="wsk-io_uring native control" -v rows="echo:tcp_echo:1:1 socket_cycles:socket_cycles:1:1" \
    -f "$awk_file" "$tmp/raw.txt" >"$tmp/out.txt"

# expect IMPL ROW FIELD=VALUE...: each field of that ROW line has that value.
expect() {
    impl=$1 row=$2
    shift 2
    line=$(grep "^ROW row=$row .* impl=$impl " "$tmp/out.txt")
    for want in "$@"; do
        case " $line " in
            *" $want "*) ;;
            *) echo "FAIL  $row/$impl: wanted $want in: ${line:-no ROW line}"; fails=$((fails + 1)) ;;
        esac
    done
}

expect native-io_uring echo best_native=native-io_uring rate_target=- cpu_target=-
expect wsk-io_uring echo rate_x=0.95 cpu_x=1.05 p99_x=1.20 rate_target=MISSED cpu_target=met p99_target=met
expect wsk-epoll echo rate_x=1.04 cpu_x=1.10 p99_x=1.25 rate_target=met cpu_target=met p99_target=MISSED
expect control-epoll echo runs=2 failed=1 rate_x=1.00 cpu_x=1.08 rate_target=met cpu_target=met
expect wsk-io_uring socket_cycles rate_x=0.85 cpu_x=1.15 rate_target=met cpu_target=MISSED p99_target=-
expect control socket_cycles rate_x=1.00 rate_target=met cpu_target=met
# wsk-epoll against native-epoll: (1.05 + 1.10) / 2, printed with two decimals.
line=$(grep "^ROW row=echo .* impl=wsk-epoll " "$tmp/out.txt")
case "$line" in
    *" rate_same=1.07 "* | *" rate_same=1.08 "*) ;;
    *) echo "FAIL  echo/wsk-epoll: rate_same not 1.07-1.08: $line"; fails=$((fails + 1)) ;;
esac

# The counts: wsk-io_uring 2 of 3 echo cells + 1 of 2 cycles cells; wsk-epoll 2 of 3;
# control-epoll 3 of 3; control 2 of 2.
for want in "wsk-io_uring      3 of  5 target cells met; missed: echo:rate socket_cycles:cpu" \
    "wsk-epoll         2 of  3 target cells met; missed: echo:p99" \
    "control-epoll     3 of  3 target cells met; missed: none" \
    "control           2 of  2 target cells met; missed: none" \
    "FAILED runs: 1 (see raw.txt)"; do
    if ! grep -qF "$want" "$tmp/out.txt"; then
        echo "FAIL  summary line missing: $want"
        fails=$((fails + 1))
    fi
done

if [ "$fails" -ne 0 ]; then
    echo "--- summary.awk printed:"
    cat "$tmp/out.txt"
    echo "summary_test: 0 passed, $fails failed"
    exit 1
fi
echo "summary_test: every figure and verdict as worked out by hand"
exit 0
