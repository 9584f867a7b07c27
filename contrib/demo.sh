#!/bin/bash
# The run command: installs what is missing, builds, starts mailkeeper-milter
# on its embedded defaults (no configuration file) behind a private Postfix
# on loopback, sends a clean and a spammy sample message through it, and
# shows the delivered messages with the headers mailkeeper added. Everything
# runs in a network namespace of its own and is stopped again at the end
# (MK_KEEP_RIG=1 keeps the mail directory). Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
bash contrib/install-deps.sh run
if [ ! -x milter/mailkeeper-milter ]; then
    { [ -f configure ] || ./autogen.sh; } > /tmp/mk-autogen.log 2>&1
    [ -f Makefile ] || ./configure -q
    make -j"$(nproc)" > /tmp/mk-make.log 2>&1 || { tail -30 /tmp/mk-make.log; exit 1; }
fi
. tests/integration/rig.sh
rig_up
echo "== mailkeeper-milter on its embedded defaults (inet:8894@127.0.0.1), in the foreground:"
$X "$MK_MILTER" -f -c /dev/null >> "$RIG/milter.log" 2>&1 &
MILTER_PID=$!; RIG_PIDS+=("$MILTER_PID")
rig_wait_port "$MILTER_PORT"
rig_postfix_start
echo "== Postfix on 127.0.0.1:2525 with smtpd_milters = inet:127.0.0.1:$MILTER_PORT"
for s in clean spammy; do
    echo "== sending contrib/samples/$s.eml"
    $X swaks --server 127.0.0.1:2525 --helo client.example --from sender@example.org \
        --to bob@mk.test --data "@contrib/samples/$s.eml" --silent 2 || true
done
echo "== and one with the standard GTUBE string, which is rejected:"
printf 'From: x@example.com\nSubject: GTUBE\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n' > "$RIG/gtube.eml"
$X swaks --server 127.0.0.1:2525 --helo client.example --from x@example.com --to bob@mk.test \
    --data "@$RIG/gtube.eml" 2>&1 | grep -E '^<\*\*' || true
for s in Minutes WON; do
    f=$(rig_delivered bob "$s") || { echo "message '$s' was not delivered"; exit 1; }
    echo
    echo "== delivered to bob: $(basename "$f")"
    sed -n '1,/^$/p' "$f"
done
echo "== milter log:"
cat "$RIG/milter.log"
