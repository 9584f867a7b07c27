#!/bin/bash
# mailkeeper-archive from the command line, over the shared test messages:
# import (files and an mbox), show (the original bytes), stats, verify on an
# intact archive and after a byte of a stored file changed. No network.
# Prints PASS/FAIL lines and ends with "N passed, N failed".
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${MK_SHARED:-$TOP/../shared}
A=$TOP/archive/mailkeeper-archive
W=$(mktemp -d /tmp/mk-archive-cli.XXXXXX)
trap 'chmod -R u+w "$W"; rm -rf "$W"' EXIT
pass=0; fail=0
check() {
    local name=$1; shift
    if "$@" > "$W/.last" 2>&1; then echo "PASS: $name"; pass=$((pass+1)); else echo "FAIL: $name"; fail=$((fail+1)); sed 's/^/    /' "$W/.last" | tail -15; fi
}
printf '[general]\nstate_dir = %s\n' "$W" > "$W/c.conf"
mapfile -t files < <(find "$SHARED/testdata/mime" -type f -name '*.eml' | sort | head -40)
# the same messages once more, as an mbox ("From " lines quoted)
for f in "${files[@]:0:10}"; do echo "From archive@test Tue Dec  1 00:00:00 2026"; sed 's/^From />From /' "$f"; echo; done > "$W/ten.mbox"

t_import() {
    "$A" -c "$W/c.conf" import "${files[@]}" | grep -qx "${#files[@]} message(s) archived" || return 1
    "$A" -c "$W/c.conf" import --direction out "$W/ten.mbox" | grep -qx '10 message(s) archived' || return 1
    local n; n=$("$A" -c "$W/c.conf" stats | sed -n 's/^entries: //p')
    [ "$n" = $(( ${#files[@]} + 10 )) ] || { echo "entries: $n"; return 1; }
}
check "import: ${#files[@]} files and a 10-message mbox are archived, one entry per arrival" t_import
t_show() {
    local i
    for i in 1 7 ${#files[@]}; do
        "$A" -c "$W/c.conf" show "$i" | cmp - "${files[$((i - 1))]}" || return 1
    done
    ! "$A" -c "$W/c.conf" show 9999 2> "$W/err" && grep -q 'no message 9999' "$W/err"
}
check "show gives the original bytes; an unknown entry is a clear error" t_show
t_verify() {
    "$A" -c "$W/c.conf" verify | tail -1 | grep -q 'every file and the whole chain are intact' || return 1
    local sha f
    sha=$(sha256sum "${files[4]}" | cut -d' ' -f1)
    f=$W/archive/store/${sha:0:2}/$sha.zst
    chmod u+w "$f" && printf 'Z' | dd of="$f" bs=1 seek=30 conv=notrunc 2>/dev/null
    local out; out=$("$A" -c "$W/c.conf" verify) && return 1
    echo "$out" | grep -q "^message 5: file $sha changed" || { echo "$out"; return 1; }
    ! "$A" -c "$W/c.conf" show 5
}
check "verify passes an intact archive, names a changed file (exit 1), and show refuses it" t_verify
t_search() {
    local S=("$A" -c "$W/c.conf" search)
    # conditions combine; the table ends with the count
    "${S[@]}" has:attachment | tail -1 | grep -Eq '^[1-9][0-9]* entr' || return 1
    local all att; all=$("${S[@]}" | tail -1 | cut -d' ' -f1); att=$("${S[@]}" has:attachment | tail -1 | cut -d' ' -f1)
    [ "$att" -lt "$all" ] || { echo "has:attachment: $att of $all"; return 1; }
    # JSON: each entry's fields; the same entries as the table
    local json; json=$("${S[@]}" --json has:attachment)
    [ "$(echo "$json" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" = "$att" ] || return 1
    echo "$json" | python3 -c 'import json, sys; e = json.load(sys.stdin)[0]; assert e["sha256"] and e["attachments"] and "arrival" in e' || return 1
    # dates, directions (the mbox came in as out), free text, from:
    [ "$("${S[@]}" after:2100-01-01 | tail -1)" = "0 entries" ] || return 1
    [ "$("${S[@]}" before:2100-01-01 | tail -1 | cut -d' ' -f1)" = "$all" ] || return 1
    local subj; subj=$("${S[@]}" --json id:3 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["subject"].split()[0])')
    "${S[@]}" "subject:$subj" | grep -q "^3 " || return 1
    # a query not understood is named, exit 64
    "${S[@]}" after:2020-13-01 2> "$W/err" && return 1
    grep -q "not a date" "$W/err"
}
check "search: has:attachment, after:, before:, subject:, id:, JSON with every field; a bad date is named" t_search
t_export() {
    # a folder of .eml files with a manifest, re-imported identically
    "$A" -c "$W/c.conf" export --dir "$W/out" has:attachment | grep -q 'exported' || return 1
    (cd "$W" && sha256sum -c --quiet out.sha256) || return 1
    printf '[general]\nstate_dir = %s/again\n' "$W" > "$W/again.conf"
    mkdir -p "$W/again"
    "$A" -c "$W/again.conf" import "$W/out" > /dev/null || return 1
    cut -d' ' -f1 "$W/out.sha256" | sort > "$W/a"
    "$A" -c "$W/again.conf" search --json | python3 -c 'import json, sys; print("\n".join(e["sha256"] for e in json.load(sys.stdin)))' | sort > "$W/b"
    cmp "$W/a" "$W/b" || return 1
    # an mbox with a manifest; an existing file is never overwritten
    "$A" -c "$W/c.conf" export --mbox "$W/out.mbox" id:1 > /dev/null || return 1
    [ "$(grep -c '^From ' "$W/out.mbox")" = 1 ] && [ "$(wc -l < "$W/out.mbox.sha256")" = 1 ] || return 1
    ! "$A" -c "$W/c.conf" export --mbox "$W/out.mbox" id:1 2> /dev/null
}
check "export: a folder of .eml files whose manifest checks with sha256sum -c, re-imported identically (same SHA-256s); an mbox with its manifest; nothing overwritten" t_export
# the dated test messages: which are past 7 years now
q() { python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1], isolation_level=None).execute(sys.argv[2]): print("|".join(map(str, r)))' "$W/archive/index.db" "$1"; }
t_rules() {
    cat > "$W/rules.conf" <<CONF
[general]
state_dir = $W/rules
[archive]
rules = to:*@legal.example keep 10y
  subject:*newsletter* skip
CONF
    mkdir -p "$W/rules"
    printf 'From: a@example.org\nTo: counsel@legal.example\nSubject: the contract\nDate: Tue, 1 Dec 2026 10:00:00 +0000\n\nsee attached\n' > "$W/legal.eml"
    printf 'From: news@example.org\nTo: b@example.org\nSubject: Weekly Newsletter\nDate: Tue, 1 Dec 2026 10:00:00 +0000\n\nnews\n' > "$W/news.eml"
    printf 'From: a@example.org\nTo: b@example.org\nSubject: lunch\nDate: Tue, 1 Dec 2026 10:00:00 +0000\n\nnoon\n' > "$W/plain.eml"
    local out; out=$("$A" -c "$W/rules.conf" import "$W/legal.eml" "$W/news.eml" "$W/plain.eml")
    echo "$out" | grep -q '^1 message(s) left out by \[archive\] rules' || { echo "$out"; return 1; }
    local rows; rows=$(python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute("SELECT subject, (retain_until - arrival) / 86400 FROM messages ORDER BY id"): print(*r)' "$W/rules/archive/index.db")
    [ "$rows" = "the contract 3653
lunch 2557" ] || { echo "$rows"; return 1; }
}
check "retention rules: a message to legal is kept 10 years, a newsletter is not archived, the rest 7 years" t_rules
t_hold_purge() {
    local old; old=$(q "SELECT count(*) FROM messages WHERE retain_until <= strftime('%s', 'now')")
    [ "$old" -gt 3 ] || { echo "only $old expired test messages"; return 1; }
    local held_id kept_id
    held_id=$(q "SELECT id FROM messages WHERE retain_until <= strftime('%s', 'now') ORDER BY id LIMIT 1")
    kept_id=$(q "SELECT id FROM messages WHERE retain_until <= strftime('%s', 'now') ORDER BY id LIMIT 1 OFFSET 1")
    "$A" -c "$W/c.conf" hold add case-42 --reason "litigation hold, matter 42" "id:$held_id" > /dev/null || return 1
    # a hold needs a reason and a free name
    ! "$A" -c "$W/c.conf" hold add case-42 --reason again "id:1" 2> /dev/null || return 1
    ! "$A" -c "$W/c.conf" hold add case-43 "id:1" 2> /dev/null || return 1
    "$A" -c "$W/c.conf" hold list | grep -q '^case-42$' || return 1
    # retention lengthened, never shortened
    "$A" -c "$W/c.conf" retain "$kept_id" --until 2040-01-01 > /dev/null || return 1
    ! "$A" -c "$W/c.conf" retain "$kept_id" --until 2030-01-01 2> "$W/err" || return 1
    grep -q 'never shortened' "$W/err" || return 1
    "$A" -c "$W/c.conf" purge --dry-run | grep -q "^$held_id: expired, kept: under a legal hold" || return 1
    local before; before=$(q "SELECT count(*) FROM messages")
    "$A" -c "$W/c.conf" purge > "$W/purge.out" || { cat "$W/purge.out"; return 1; }
    local purged; purged=$(grep -c ': purged$' "$W/purge.out")
    [ "$purged" = $((old - 2)) ] || { echo "purged $purged of $old expired"; return 1; }
    [ "$(q "SELECT count(*) FROM messages")" = $((before - purged)) ] || return 1
    [ "$(q "SELECT count(*) FROM messages WHERE id IN ($held_id, $kept_id)")" = 2 ] || return 1
    # the purge is in the chain: verify sees no deletion, only the changed file of before
    local out; out=$("$A" -c "$W/c.conf" verify)
    echo "$out" | grep -v '^message 5: file\|^[0-9]* entries checked\|^note:' && return 1
    # released, the held message goes at the next purge
    "$A" -c "$W/c.conf" hold release case-42 > /dev/null || return 1
    "$A" -c "$W/c.conf" purge | grep -q "^$held_id: purged" || return 1
    # a hold row deleted by hand is named
    "$A" -c "$W/c.conf" hold add keep-all --reason "audit" "after:1970-01-01" > /dev/null || return 1
    q "DELETE FROM holds WHERE name = 'keep-all'" > /dev/null
    "$A" -c "$W/c.conf" verify | grep -q 'hold keep-all: removed outside the chain'
}
check "legal hold: purge leaves what a hold covers and removes the other expired entries (each a link of the chain); retention lengthened, never shortened; a hold removed by hand is named by verify" t_hold_purge
t_audit() {
    local out; out=$("$A" -c "$W/c.conf" audit)
    for action in import search show export hold-add retain purge verify; do
        echo "$out" | grep -q " $action " || { echo "no $action in the audit log"; echo "$out" | tail; return 1; }
    done
    echo "$out" | grep -q '^[0-9]* .* root *show *entry 1 *$' || { echo "$out" | grep show | head -3; return 1; }
    # an edited audit row is named by verify
    q "UPDATE audit SET record = replace(record, 'who=root', 'who=nobody') WHERE seq = 3" > /dev/null
    "$A" -c "$W/c.conf" verify | grep -q '^audit log: link 3 (.*) edited'
}
check "audit log: who imported, searched, viewed, exported, held, retained, purged and verified; an edited audit row is named by verify" t_audit
t_group() {
    chmod 755 "$W"
    # not in the archive's group: a clear refusal, exit 77
    local out; out=$(runuser -u nobody -- "$A" -c "$W/c.conf" search 2>&1) && return 1
    [ $? = 77 ] || true
    echo "$out" | grep -q "nobody may not use the compliance archive: only members of the group 'mailkeeper-archive'" || { echo "$out"; return 1; }
    # in it (and the archive readable by it): allowed, and audited under that name
    getent group mailkeeper-archive > /dev/null || groupadd -r mailkeeper-archive
    chgrp -R mailkeeper-archive "$W/archive" && chmod -R g+rwX "$W/archive"
    runuser -u nobody -g mailkeeper-archive -- "$A" -c "$W/c.conf" search id:1 > /dev/null 2>&1 || true
    runuser -u nobody -G mailkeeper-archive -- "$A" -c "$W/c.conf" stats > "$W/stats" 2>&1 || { cat "$W/stats"; return 1; }
    runuser -u nobody -G mailkeeper-archive -- "$A" -c "$W/c.conf" search id:2 > /dev/null 2>&1 || return 1
    "$A" -c "$W/c.conf" audit --limit 3 | grep -q ' nobody *search '
}
check "access by group: someone outside the archive's group is refused in words (exit 77); a member may search, and the audit log names them" t_group
t_encrypted() {
    mkdir -p "$W/enc"
    openssl rand -hex 32 > "$W/enc.key"
    printf '[general]\nstate_dir = %s/enc\n[archive]\nkey_file = %s/enc.key\n' "$W" "$W" > "$W/enc.conf"
    printf 'From: a@example.org\nSubject: secret\n\nthe canary phrase zebra-quartz-7731\n' > "$W/secret.eml"
    local E=("$A" -c "$W/enc.conf")
    "${E[@]}" import "$W/secret.eml" > /dev/null || return 1
    # the stored file: neither the text nor a zstd frame, an AES-256-GCM envelope
    local f; f=$(find "$W/enc/archive/store" -name '*.zst')
    [ -n "$f" ] && ! grep -q 'zebra-quartz' "$f" && [ "$(head -c 4 "$f")" = MKA1 ] || return 1
    "${E[@]}" show 1 | cmp - "$W/secret.eml" || return 1
    "${E[@]}" verify > /dev/null || return 1
    # another key, or none: a clear refusal, and verify names the file
    openssl rand -hex 32 > "$W/other.key"
    printf '[general]\nstate_dir = %s/enc\n[archive]\nkey_file = %s/other.key\n' "$W" "$W" > "$W/other.conf"
    ! "$A" -c "$W/other.conf" show 1 2> "$W/err" && grep -q 'does not decrypt with the configured key' "$W/err" || return 1
    printf '[general]\nstate_dir = %s/enc\n' "$W" > "$W/nokey.conf"
    ! "$A" -c "$W/nokey.conf" show 1 2> "$W/err" && grep -q 'no \[archive\] key_file' "$W/err" || return 1
    ! "$A" -c "$W/other.conf" verify > /dev/null
}
check "encryption at rest: the stored file is AES-256-GCM (no text, no zstd frame); show and verify with the key; another key or none is refused in words" t_encrypted
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
