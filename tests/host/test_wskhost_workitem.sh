#!/bin/sh
# test_wskhost_workitem.sh WSKHOST WORKITEM_DRIVER - the host unloads a
# driver whose work item is still running: DriverUnload returns at once, the
# image stays mapped (and the deleted device object readable) until the
# routine has returned, then a clean exit.  An ExQueueWorkItem item still
# running at unload is reported (exit status 1) but waited for too.
# Without the wait the routine returns into an unmapped image: a crash.
set -u
wskhost=$1 driver=$2
failures=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

check() { # EXPECTED-EXIT TEXT... (after a run)
    want=$1
    shift
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: exit $got, expected $want"
        cat "$out"
        failures=$((failures + 1))
    fi
    for text in "$@"; do
        if ! grep -qF -- "$text" "$out"; then
            echo "FAIL: expected \"$text\" in:"
            cat "$out"
            failures=$((failures + 1))
        fi
    done
}

i=0
while [ $i -lt 3 ]; do
    "$wskhost" -t 0.05 "$driver" >"$out" 2>&1
    got=$?
    check 0 'workitem: unloaded' 'waiting for 1 work item(s)' 'workitem: routine done at IRQL 0, extension intact' \
        'wskhost: no leaks'
    # The routine finished before the leak report, hence before the unmapping.
    if ! awk '/routine done/ {r = NR} /no leaks/ {l = NR} END {exit !(r && l && r < l)}' "$out"; then
        echo "FAIL: the routine did not finish before the host's report:"
        cat "$out"
        failures=$((failures + 1))
    fi
    i=$((i + 1))
done

"$wskhost" -n workitem_ex -t 0.05 "$driver" >"$out" 2>&1
got=$?
check 1 'workitem: unloaded' 'ExQueueWorkItem item(s) still queued or running after DriverUnload' \
    'workitem: ExQueueWorkItem routine done'

[ $failures -eq 0 ] && echo "test_wskhost_workitem: all passed"
exit $((failures != 0))
