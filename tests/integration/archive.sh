#!/bin/bash
# The compliance archive through a real Postfix with the milter: 200
# messages in, out and internal are archived with the right fields and
# verify passes; then a fault test: the milter's worker is killed with
# SIGKILL again and again while 50 SMTP sessions send, and every message
# Postfix acknowledged with 250 is in the archive, which still verifies.
# In the rig's network namespace (rig.sh). Prints PASS/FAIL lines and ends
# with "N passed, N failed".
set -u
. "$(dirname "$0")/rig.sh"
die() { echo "FAIL: $*"; echo "$pass passed, $((fail+1)) failed"; exit 1; }

rig_up
rig_dns_start || die "NSD did not start"
rig_milter_conf <<'CONF'
[archive]
enabled = yes
rules = to:*@bench.test keep 10y
  subject:*newsletter* skip
CONF
# the rig writes [general]: our keys go into it
sed -i 's|^\[general\]$|[general]\nlocal_domains = mk.test\ninternal_networks = 10.0.0.0/8|' "$RIG/mailkeeper.conf"
rig_milter_start || die "milter did not start: $(tail -5 "$RIG/milter.log")"
rig_postfix_start || die "Postfix did not start"
A=("$MK_TOP/archive/mailkeeper-archive" -c "$RIG/mailkeeper.conf")
LOAD="$X python3 $RIG_SRC/smtp_load.py 127.0.0.1 2525"
# "SQL" -> rows, from the archive's index
q() { python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print("|".join(map(str, r)))' "$RIG/state/archive/index.db" "$1"; }

t_capture() {
    $LOAD --count 100 --sessions 5 --client 192.0.2.10 --sender ext@example.org \
        --rcpt alice@mk.test,bob@mk.test --prefix in > "$RIG/in.out" || return 1
    $LOAD --count 50 --sessions 5 --client 10.0.0.5 --sender alice@mk.test \
        --rcpt partner@bench.test --prefix out > "$RIG/out.out" || return 1
    $LOAD --count 50 --sessions 5 --client 10.0.0.5 --sender alice@mk.test \
        --rcpt bob@mk.test --prefix internal > "$RIG/internal.out" || return 1
    local n; n=$(cat "$RIG"/{in,out,internal}.out | grep -c ' 250$')
    [ "$n" = 200 ] || { echo "$n of 200 accepted"; grep -v ' 250$' "$RIG"/*.out | head; return 1; }
    [ "$(q "SELECT count(*) FROM messages")" = 200 ] || { q "SELECT count(*) FROM messages"; return 1; }
    [ "$(q "SELECT direction, count(*) FROM messages GROUP BY direction ORDER BY 1" | tr '\n' ' ')" = "in|100 internal|50 out|50 " ] ||
        { q "SELECT direction, count(*) FROM messages GROUP BY direction"; return 1; }
    # every field as sent: envelope, recipients (one row each), From, Subject, Message-ID
    [ "$(q "SELECT count(*) FROM messages WHERE subject LIKE 'in-%' AND env_from = 'ext@example.org'
        AND hdr_from = 'ext@example.org' AND message_id = subject || '@load.example'
        AND (SELECT group_concat(rcpt) FROM rcpts WHERE msg = id) = 'alice@mk.test,bob@mk.test'")" = 100 ] || return 1
    [ "$(q "SELECT count(*) FROM messages WHERE subject LIKE 'out-%' AND direction = 'out'
        AND (SELECT group_concat(rcpt) FROM rcpts WHERE msg = id) = 'partner@bench.test'")" = 50 ] || return 1
    # one file per distinct message; retained 7 years, 10 by the rule for bench.test
    [ "$(q "SELECT count(DISTINCT sha256) FROM messages")" = 200 ] || return 1
    [ "$(q "SELECT direction, (retain_until - arrival) / 86400 / 365, count(*) FROM messages
        GROUP BY 1, 2 ORDER BY 1" | tr '\n' ' ')" = "in|7|100 internal|7|50 out|10|50 " ] || return 1
    local out; out=$("${A[@]}" verify) || { echo "$out" | tail -5; return 1; }
    # show: the message as the milter got it from Postfix
    local id; id=$(q "SELECT id FROM messages WHERE subject = 'internal-00007'")
    "${A[@]}" show "$id" > "$RIG/shown.eml" || return 1
    grep -q '^Subject: internal-00007' "$RIG/shown.eml" && grep -q '^Message internal-00007, for the archive' "$RIG/shown.eml"
}
check "200 messages through Postfix (100 in, 50 out, 50 internal) are archived with their fields and direction; verify passes; show gives the message" t_capture

t_rules_export() {
    # a newsletter is delivered, not archived ([archive] rules)
    $LOAD --count 1 --client 192.0.2.10 --sender news@example.org --rcpt alice@mk.test \
        --prefix "weekly-newsletter" > "$RIG/news.out" || return 1
    grep -q ' 250$' "$RIG/news.out" || return 1
    [ "$(q "SELECT count(*) FROM messages WHERE subject LIKE 'weekly-newsletter%'")" = 0 ] || return 1
    # what Postfix handed over, exported and imported into a new archive: the same SHA-256s
    "${A[@]}" export --dir "$RIG/export" to:bob@mk.test > /dev/null || return 1
    (cd "$RIG" && sha256sum -c --quiet export.sha256) || return 1
    printf '[general]\nstate_dir = %s/again\n' "$RIG" > "$RIG/again.conf"
    mkdir -p "$RIG/again"
    "$MK_TOP/archive/mailkeeper-archive" -c "$RIG/again.conf" import "$RIG/export" > /dev/null || return 1
    cut -d' ' -f1 "$RIG/export.sha256" | sort > "$RIG/a"
    python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute("SELECT sha256 FROM messages"): print(r[0])' "$RIG/again/archive/index.db" | sort > "$RIG/b"
    [ "$(wc -l < "$RIG/a")" = 150 ] && cmp "$RIG/a" "$RIG/b"
}
check "a retention rule skips a newsletter through Postfix; what was archived exports (150 to bob) and re-imports with the same SHA-256s" t_rules_export

t_fault() {
    local before; before=$(q "SELECT count(*) FROM messages")
    $LOAD --count 600 --sessions 50 --client 192.0.2.10 --sender ext@example.org \
        --rcpt alice@mk.test --prefix fault > "$RIG/fault.out" &
    local load=$! kills=0
    while kill -0 "$load" 2> /dev/null; do
        sleep 0.7
        local worker; worker=$(pgrep -P "$(cat "$RIG/milter.pid")" | head -1)
        [ -n "$worker" ] && kill -9 "$worker" 2> /dev/null && kills=$((kills + 1))
    done
    wait "$load"
    local acked; acked=$(grep -c ' 250$' "$RIG/fault.out")
    echo "worker killed $kills times; $acked of 600 acknowledged with 250, the rest refused (4xx) and left to retry" | tee "$RIG/fault.txt"
    [ "$kills" -ge 3 ] && [ "$acked" -gt 0 ] || return 1
    # every acknowledged message is in the archive
    grep ' 250$' "$RIG/fault.out" | cut -d' ' -f1 | sort > "$RIG/acked"
    q "SELECT subject FROM messages WHERE subject LIKE 'fault-%'" | sort -u > "$RIG/archived"
    local lost; lost=$(comm -23 "$RIG/acked" "$RIG/archived" | wc -l)
    echo "archived: $(wc -l < "$RIG/archived") distinct fault messages; acknowledged but not archived: $lost" | tee -a "$RIG/fault.txt"
    [ "$lost" = 0 ] || { comm -23 "$RIG/acked" "$RIG/archived" | head; return 1; }
    local out; out=$("${A[@]}" verify) || { echo "$out" | tail -5; return 1; }
    echo "$out" | tail -1
}
check "fault test: SIGKILL of the milter's worker during 50 SMTP sessions loses no acknowledged message, and verify passes" t_fault
[ -f "$RIG/fault.txt" ] && sed 's/^/    /' "$RIG/fault.txt"

# tampering with what Postfix's messages left, each kind named by verify
# (on a copy, so that the archive itself stays intact for what follows)
qw() { python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1], isolation_level=None).execute(sys.argv[2])' "$RIG/copy/archive/index.db" "$1"; }
t_tamper() {
    mkdir -p "$RIG/copy" && cp -a "$RIG/state/archive" "$RIG/copy/" || return 1
    printf '[general]\nstate_dir = %s/copy\n' "$RIG" > "$RIG/copy.conf"
    local C=("$MK_TOP/archive/mailkeeper-archive" -c "$RIG/copy.conf")
    "${C[@]}" verify > /dev/null || { echo "not intact to begin with"; return 1; }
    local s1 s2 f
    s1=$(q "SELECT sha256 FROM messages WHERE subject = 'in-00010'")
    s2=$(q "SELECT sha256 FROM messages WHERE subject = 'in-00011'")
    f=$RIG/copy/archive/store/${s1:0:2}/$s1.zst
    chmod u+w "$f" && printf 'X' | dd of="$f" bs=1 seek=12 conv=notrunc 2> /dev/null
    rm -f "$RIG/copy/archive/store/${s2:0:2}/$s2.zst"
    qw "UPDATE messages SET subject = 'nothing to see' WHERE subject = 'in-00012'"
    qw "UPDATE audit SET record = replace(record, 'action=verify', 'action=stats') WHERE seq = 1"
    local out; out=$("${C[@]}" verify) && return 1
    echo "$out" | grep -q "file $s1 changed" || { echo "$out"; return 1; }
    echo "$out" | grep -q "file $s2 missing" || { echo "$out"; return 1; }
    echo "$out" | grep -q "its index entry was edited" || { echo "$out"; return 1; }
    echo "$out" | grep -q '^audit log: link 1 (.*) edited' || { echo "$out"; return 1; }
}
check "tampering with the Postfix-filled archive: a changed byte in a file, a deleted file, an edited index row and an edited audit row are each named by verify (exit 1)" t_tamper
# eleven years on (libfaketime): a hold on alice's mail stops its purge;
# the rest of what Postfix brought is past its retention and goes
t_hold_purge() {
    "${A[@]}" hold add case-7 --reason "litigation, matter 7" to:alice@mk.test > /dev/null || return 1
    local alice total; alice=$(q "SELECT count(*) FROM messages WHERE id IN (SELECT msg FROM rcpts WHERE rcpt = 'alice@mk.test')")
    total=$(q "SELECT count(*) FROM messages")
    faketime -f '+4018d' "${A[@]}" purge > "$RIG/purge.out" || { tail -3 "$RIG/purge.out"; return 1; }
    local purged kept; purged=$(grep -c ': purged$' "$RIG/purge.out"); kept=$(grep -c 'kept: under a legal hold' "$RIG/purge.out")
    echo "11 years on: $purged purged, $kept kept under the hold (of $total; $alice to alice)"
    [ "$kept" = "$alice" ] && [ "$purged" = $((total - alice)) ] || return 1
    [ "$(q "SELECT count(*) FROM messages")" = "$alice" ] || return 1
    "${A[@]}" verify > /dev/null || { "${A[@]}" verify | tail -3; return 1; }
    # what is held still shows
    local id; id=$(q "SELECT min(id) FROM messages")
    "${A[@]}" show "$id" | grep -q '^Subject: ' || return 1
    # released, it goes too
    "${A[@]}" hold release case-7 > /dev/null || return 1
    faketime -f '+4018d' "${A[@]}" purge | tail -1 | grep -q "^$alice message(s) purged" || return 1
    [ "$(q "SELECT count(*) FROM messages")" = 0 ] && "${A[@]}" verify > /dev/null
}
check "eleven years on (faketime): a legal hold on alice's mail keeps it through purge, the rest goes, each removal a link (verify passes); released, it goes too" t_hold_purge

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
