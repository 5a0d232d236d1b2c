#!/bin/sh
# wskhost-run.sh WSKHOST DRIVER.so READY-TEXT [--param Name=Value]... [--unload-early]
#                [-- CLIENT [ARGS...]]
#
# Runs a driver under wskhost, waits for the line of its output that
# contains READY-TEXT (and ends with "port N"), runs the Linux client with
# every @PORT@ in its arguments replaced by N, then stops the driver with
# SIGTERM.  With --unload-early the SIGTERM comes one second after the
# client started, while it still runs (unloading with work in progress).  The driver's and wskhost's output is shown; the exit status is
# non-zero if the client failed or wskhost reported a problem (leaks
# included).
set -u
if [ $# -lt 3 ]; then
    echo "usage: $0 WSKHOST DRIVER.so READY-TEXT [--param Name=Value]... [-- CLIENT ARGS...]" >&2
    exit 2
fi
wskhost=$1 driver=$2 ready=$3
shift 3
params=""
early=0
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case $1 in
    --param) params="$params $2"; shift 2 ;;
    --unload-early) early=1; shift ;;
    *) echo "$0: unexpected argument $1" >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] && shift # the --

# Device names (IoCreateSymbolicLink) are machine-wide: a namespace of this
# run's own keeps concurrent runs of the same driver apart.
: "${OPENWSK_DEVICE_NAMESPACE:=wskhost-run-$$}"
export OPENWSK_DEVICE_NAMESPACE

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086 # parameters are single words
"$wskhost" "$driver" -- $params >"$log" 2>&1 &
pid=$!

tries=0
until grep -q "$ready" "$log"; do
    if ! kill -0 "$pid" 2>/dev/null || [ $tries -ge 600 ]; then
        cat "$log"
        echo "wskhost-run: the driver did not get ready" >&2
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        exit 1
    fi
    tries=$((tries + 1))
    sleep 0.05
done
port=$(grep "$ready" "$log" | head -n 1 | sed -n 's/.*port \([0-9][0-9]*\).*/\1/p')

client_rc=0
if [ $# -gt 0 ]; then
    for a do
        shift
        case $a in *@PORT@*) a=$(printf '%s' "$a" | sed "s/@PORT@/$port/g") ;; esac
        set -- "$@" "$a"
    done
    if [ $early = 1 ]; then
        "$@" &
        client=$!
        sleep 1
        kill -TERM "$pid"
        wait "$client"
        client_rc=$?
    else
        "$@"
        client_rc=$?
    fi
fi

kill -TERM "$pid" 2>/dev/null
wait "$pid"
host_rc=$?
cat "$log"
if [ $client_rc -ne 0 ] || [ $host_rc -ne 0 ]; then
    echo "wskhost-run: FAILED (client exit $client_rc, wskhost exit $host_rc)" >&2
    exit 1
fi
exit 0
