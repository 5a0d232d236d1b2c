#!/bin/sh
# hostile_network.sh WSKHOST ECHO_DRIVER NETIMPAIR ECHO_LOAD_CLIENT
#
# The TCP echo example under a hostile network.  Two network namespaces
# of our own, each with one TUN device and no other way out: side A runs
# wskhost with the echo driver on 198.18.0.1, side B the Linux client on
# 198.19.0.1 (the benchmarking range, RFC 2544, assigned only inside
# these namespaces), and netimpair relays every packet between them.
#
#   1. Impaired: 5% loss, 10% reordering, 2% duplication, 2 ms +- 2 ms
#      delay each way; the client sends OPENWSK_NETEM_BYTES (default 50 MiB)
#      and checks every echoed byte and the driver's EOF; wskhost unloads
#      with no leak.
#   2. Reset: the relay cuts the connection after 1 MiB of TCP payload and
#      resets both ends; the client must see ECONNRESET, the driver's
#      pending receive or send must complete with STATUS_CONNECTION_RESET
#      (0xC000020D), and wskhost unloads with no leak.
#
# The seed (OPENWSK_NETEM_SEED, default: the clock) is printed; rerun with
# it to get the same sequence of decisions.  Needs root, `ip`, network
# namespaces and /dev/net/tun: without them it says so and exits 77
# (skipped).  Everything is bounded in time and cleaned up on exit.
set -u
wskhost=$1 driver=$2 relay=$3 client=$4
here=$(cd "$(dirname "$0")" && pwd)
runner="$here/../../tools/wskhost-run.sh"
bytes=${OPENWSK_NETEM_BYTES:-52428800}
seed=${OPENWSK_NETEM_SEED:-$(date +%s)}
limit=${OPENWSK_NETEM_TIMEOUT:-120} # seconds, per scenario

skip() {
    echo "hostile_network: SKIPPED: $*"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and TUN devices)"
command -v ip >/dev/null 2>&1 || skip "needs the ip command (iproute2)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

ns_a=owskA$$ ns_b=owskB$$
relay_pid=""
log=$(mktemp -d)
cleanup() {
    [ -n "$relay_pid" ] && kill -TERM "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
    # Whatever still runs in our namespaces is ours.
    for ns in $ns_a $ns_b; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$log"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Namespaces left by an earlier run that was killed outright (its trap
# could not run) are removed once their script is gone.
for ns in $(ip netns list 2>/dev/null | sed -n 's/^\(owsk[AB][0-9][0-9]*\).*/\1/p'); do
    kill -0 "${ns#owsk?}" 2>/dev/null && continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
done

ip netns add $ns_a 2>/dev/null || skip "cannot create a network namespace (ip netns add)"
ip netns add $ns_b || exit 1
# side NS LOCAL PEER: a TUN device wsk0 with LOCAL, PEER reached through it.
side() {
    ip -n "$1" link set lo up &&
        ip -n "$1" tuntap add dev wsk0 mode tun &&
        ip -n "$1" addr add "$2" peer "$3" dev wsk0 &&
        ip -n "$1" link set wsk0 up &&
        ip netns exec "$1" sysctl -qw net.ipv6.conf.wsk0.disable_ipv6=1 >/dev/null 2>&1
    return 0
}
side $ns_a 198.18.0.1 198.19.0.1 || skip "cannot create a TUN device in a namespace"
side $ns_b 198.19.0.1 198.18.0.1 || skip "cannot create a TUN device in a namespace"

# start_relay OPTIONS...: the relay between the two wsk0 devices.
start_relay() {
    : >"$log/relay"
    "$relay" --ns-a /run/netns/$ns_a --tun-a wsk0 --ns-b /run/netns/$ns_b --tun-b wsk0 \
        --seed "$seed" --timeout "$limit" "$@" 2>"$log/relay" &
    relay_pid=$!
    tries=0
    until grep -q "ready" "$log/relay"; do
        if ! kill -0 $relay_pid 2>/dev/null || [ $tries -ge 100 ]; then
            cat "$log/relay"
            echo "hostile_network: the relay did not start"
            exit 1
        fi
        tries=$((tries + 1))
        sleep 0.05
    done
}

stop_relay() {
    kill -TERM $relay_pid 2>/dev/null
    wait $relay_pid 2>/dev/null
    relay_pid=""
    cat "$log/relay"
}

# relay_count WORD: the relay's final count of WORD (lost, reordered, ...).
relay_count() {
    sed -n "s/.* $1 \([0-9][0-9]*\).*/\1/p" "$log/relay" | tail -n 1
}

# run_echo CLIENT-OPTIONS...: the driver in A, the client in B, through wskhost-run.sh.
run_echo() {
    # In the background: a signal to this script is handled at once.
    ip netns exec $ns_a sh "$runner" "$wskhost" "$driver" "listening on" -- \
        ip netns exec $ns_b "$client" --timeout "$limit" "$@" >"$log/run" 2>&1 &
    wait $!
    rc=$?
    cat "$log/run"
    return $rc
}

failures=0
echo "hostile_network: seed $seed (rerun: OPENWSK_NETEM_SEED=$seed), $bytes bytes"

echo "=== impaired network: 5% loss, 10% reordering, 2% duplication, 2 ms + 0-2 ms delay"
start_relay --loss 5 --reorder 10 --duplicate 2 --delay 2 --jitter 2
start=$(date +%s)
run_echo 198.18.0.1 @PORT@ 1 "$bytes" || { echo "FAIL: impaired transfer"; failures=$((failures + 1)); }
echo "hostile_network: impaired transfer took $(($(date +%s) - start)) s"
stop_relay
# The network was as hostile as asked: about 5% of the packets lost, and
# some reordered and duplicated.
packets=$(sed -n 's/.*A->B \([0-9]*\) in .* B->A \([0-9]*\) in .*/\1 \2/p' "$log/relay" | awk '{ print $1 + $2 }')
packets=${packets:-0}
lost=$(relay_count lost) reordered=$(relay_count reordered) duplicated=$(relay_count duplicated)
lost=${lost:-0} reordered=${reordered:-0} duplicated=${duplicated:-0}
if [ "$packets" -lt 1000 ] || [ $((lost * 100)) -lt $((packets * 3)) ] ||
    [ $((lost * 100)) -gt $((packets * 7)) ] || [ "$reordered" -eq 0 ] || [ "$duplicated" -eq 0 ]; then
    echo "FAIL: the relay did not impair the transfer as asked ($packets packets," \
        "$lost lost, $reordered reordered, $duplicated duplicated)"
    failures=$((failures + 1))
fi

echo "=== connection reset by the network after 1 MiB"
start_relay --delay 1 --reset-after 1048576
run_echo --expect-reset 198.18.0.1 @PORT@ 1 "$bytes" || { echo "FAIL: reset scenario"; failures=$((failures + 1)); }
stop_relay
if [ "$(relay_count 'RSTs sent')" = 0 ] || ! grep -q "cut TCP after" "$log/relay"; then
    echo "FAIL: the relay did not cut the connection"
    failures=$((failures + 1))
fi
if ! grep -Eq "echo: (receive|send) failed: 0xC000020D" "$log/run"; then
    echo "FAIL: the driver's receive or send did not complete with STATUS_CONNECTION_RESET (0xC000020D)"
    failures=$((failures + 1))
fi

if [ $failures -ne 0 ]; then
    echo "hostile_network: $failures FAILED (seed $seed)"
    exit 1
fi
echo "hostile_network: all passed (seed $seed)"
