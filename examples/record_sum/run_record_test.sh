#!/bin/sh
# run_record_test.sh WSKHOST CLIENT DRIVER.so EXPECT [ADVERSITY]
#     Runs the record_sum driver under wskhost (with OPENWSK_ADVERSITY=
#     ADVERSITY if given; @LOG@ in it becomes a log file of this run), runs
#     record_client against it (300 records), unloads it and checks:
#       pass        the client got every answer right, wskhost exited 0
#                   (no leaks); with ADVERSITY, adversity injected events;
#       fail-twice  the client saw a wrong or missing answer in two runs
#                   with the same ADVERSITY, whose logs of injected events
#                   are identical (the seed replays the failure), and
#                   wskhost still unloaded cleanly.
set -u
if [ $# -lt 4 ]; then
    echo "usage: $0 WSKHOST CLIENT DRIVER.so pass|fail-twice [ADVERSITY]" >&2
    exit 2
fi
wskhost=$1 client=$2 driver=$3 expect=$4 adversity=${5:-}
dir=$(mktemp -d)
hpid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    [ -n "$hpid" ] && kill -KILL "$hpid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

# run N: one run; sets client_rc and host_rc, keeps $dir/host.N, client.N, log.N
run() {
    n=$1
    spec=$(echo "$adversity" | sed "s|@LOG@|$dir/log.$n|")
    if [ -n "$spec" ]; then
        OPENWSK_ADVERSITY=$spec "$wskhost" "$driver" >"$dir/host.$n" 2>&1 &
    else
        "$wskhost" "$driver" >"$dir/host.$n" 2>&1 &
    fi
    hpid=$!
    tries=0
    until grep -q "listening on 127.0.0.1 port" "$dir/host.$n"; do
        if ! kill -0 "$hpid" 2>/dev/null || [ $tries -ge 200 ]; then
            echo "FAIL: the driver did not start listening:"
            cat "$dir/host.$n"
            exit 1
        fi
        sleep 0.05
        tries=$((tries + 1))
    done
    port=$(sed -n 's/.*listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$dir/host.$n" | head -n 1)
    client_rc=0
    timeout 30 "$client" "$port" 300 >"$dir/client.$n" 2>&1 || client_rc=$?
    kill -TERM "$hpid"
    host_rc=0
    wait "$hpid" || host_rc=$?
    hpid=""
    echo "--- run $n: client exit $client_rc, wskhost exit $host_rc"
    cat "$dir/client.$n"
    grep -E "record_sum|adversity" "$dir/host.$n"
}

failures=0
case $expect in
pass)
    run 1
    [ "$client_rc" -eq 0 ] || { echo "FAIL: the client saw a wrong answer"; failures=$((failures + 1)); }
    [ "$host_rc" -eq 0 ] || { echo "FAIL: wskhost exited $host_rc"; failures=$((failures + 1)); }
    if [ -n "$adversity" ] && ! [ -s "$dir/log.1" ]; then
        echo "FAIL: adversity injected nothing (empty log)"
        failures=$((failures + 1))
    fi
    ;;
fail-twice)
    run 1
    rc1=$client_rc h1=$host_rc
    run 2
    [ "$rc1" -eq 1 ] && [ "$client_rc" -eq 1 ] ||
        { echo "FAIL: the client should have seen the bug in both runs"; failures=$((failures + 1)); }
    [ "$h1" -eq 0 ] && [ "$host_rc" -eq 0 ] || { echo "FAIL: wskhost did not unload cleanly"; failures=$((failures + 1)); }
    if ! cmp -s "$dir/log.1" "$dir/log.2"; then
        echo "FAIL: the two runs injected different events:"
        diff "$dir/log.1" "$dir/log.2" | head -n 20
        failures=$((failures + 1))
    elif ! cmp -s "$dir/client.1" "$dir/client.2"; then
        echo "FAIL: the replay failed differently"
        failures=$((failures + 1))
    else
        echo "the replay injected the same $(wc -l <"$dir/log.1") events and failed the same way"
        head -n 3 "$dir/log.1"
    fi
    ;;
*)
    echo "usage: EXPECT is pass or fail-twice" >&2
    exit 2
    ;;
esac
[ $failures -eq 0 ] && echo "record_sum test: OK ($expect)"
exit $((failures > 0))
