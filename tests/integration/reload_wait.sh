#!/bin/bash
# reload_wait.sh RIG: sends SIGHUP to the milter named by RIG/milter.pid and
# waits (up to 10 s) for the worker's log line saying how the reload went.
# Exit 0 when a "reloaded" or "reload failed" line appeared.
rig=$1
log=$rig/milter.log
before=$(wc -l < "$log")
kill -HUP "$(cat "$rig/milter.pid")" || exit 1
for _ in $(seq 1 200); do
    tail -n +"$((before + 1))" "$log" | grep -q 'reloaded \|reload failed' && exit 0
    sleep 0.05
done
echo "no reload line in $log" >&2
exit 1
