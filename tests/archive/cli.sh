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
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
