#!/bin/bash
# DKIM verification cases through mailkeeper's mk_dkim_verify (dkim_driver),
# keys from libopendkim query files: MimeKit's signed messages with their
# expected results (RSA and the RFC 8463 ed25519 example), and cases made
# from them: changed body, key absent, key garbled, key below the minimum;
# and messages signed here (opendkim-testmsg, keys made with openssl).
# usage: run_corpus.sh DRIVER SHARED_TESTDATA_DKIM ; ends "N passed, N failed"
set -u
drv=$1 dkim=$2
m=$dkim/mimekit
pass=0; fail=0
tmp=$(mktemp -d /tmp/mk-dkim.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# expect NAME WANT KEYFILE MINBITS FILE
expect() {
    local got; got=$("$drv" "$3" "$4" "$5" | cut -f2,3)
    if [ "${got%%$'\t'*}" = "$2" ]; then echo "PASS: dkim $1: $2"; pass=$((pass+1))
    else echo "FAIL: dkim $1: got '$got', want $2"; fail=$((fail+1)); fi
}
while IFS=$'\t' read -r file want note; do
    case "$file" in \#*|*.pem|"") continue ;; esac
    [ "$want" = pass ] || continue
    sigs=$(grep -c '^DKIM-Signature:' "$m/$file")
    w=pass; for _ in $(seq 2 "$sigs"); do w="$w,pass"; done
    expect "$file ($note)" "$w" "$m/keys.opendkim-queryfile.txt" 1024 "$m/$file"
done < "$m/EXPECTED.tsv"

sed 's/the minutes/THE MINUTES/; $ s/$/ tampered/' "$m/gmail.msg" > "$tmp/changed-body.msg"
expect "changed body" fail "$m/keys.opendkim-queryfile.txt" 1024 "$tmp/changed-body.msg"
sed 's/^Subject: .*/Subject: not what was signed/' "$m/gmail.msg" > "$tmp/changed-subject.msg"
expect "changed signed header" fail "$m/keys.opendkim-queryfile.txt" 1024 "$tmp/changed-subject.msg"
grep -v '^20120113._domainkey.gmail.com' "$m/keys.opendkim-queryfile.txt" > "$tmp/nokey.txt"
echo "nothing._domainkey.example.com v=DKIM1; p=" >> "$tmp/nokey.txt"
expect "key absent" permerror "$tmp/nokey.txt" 1024 "$m/gmail.msg"
sed 's/^\(20120113._domainkey.gmail.com[[:space:]]*\).*/\1v=DKIM1; k=rsa; p=bm90IGEga2V5/' "$m/keys.opendkim-queryfile.txt" > "$tmp/garbage.txt"
expect "key that is not a key" permerror "$tmp/garbage.txt" 1024 "$m/gmail.msg"
expect "key below min_key_bits" permerror "$m/keys.opendkim-queryfile.txt" 4096 "$m/gmail.msg"
# signed here: a fresh 2048-bit key, the message signed and verified, then
# changed; a 1024-bit key against min_key_bits 2048
sign() { # sign BITS SELECTOR IN OUT: signs IN, appends the key to $tmp/own.txt
    openssl genrsa -out "$tmp/$2.pem" "$1" 2>/dev/null
    printf '%s._domainkey.own.test v=DKIM1; k=rsa; p=%s\n' "$2" \
        "$(openssl rsa -in "$tmp/$2.pem" -pubout -outform DER 2>/dev/null | base64 -w0)" >> "$tmp/own.txt"
    opendkim-testmsg -d own.test -s "$2" -k "$tmp/$2.pem" < "$3" > "$4"
}
printf 'From: <a@own.test>\nTo: <b@example.org>\nSubject: signed here\nDate: Tue, 24 Nov 2026 10:00:00 +0000\n\nA body\nof two lines.\n' > "$tmp/own.eml"
sign 2048 s2048 "$tmp/own.eml" "$tmp/own-signed.eml"
expect "signed here (rsa-sha256, 2048 bits)" pass "$tmp/own.txt" 1024 "$tmp/own-signed.eml"
sed 's/of two lines/of 2 lines/' "$tmp/own-signed.eml" > "$tmp/own-changed.eml"
expect "signed here, body changed after" fail "$tmp/own.txt" 1024 "$tmp/own-changed.eml"
sign 1024 s1024 "$tmp/own.eml" "$tmp/own-1024.eml"
expect "signed here with 1024 bits, min_key_bits 2048" permerror "$tmp/own.txt" 2048 "$tmp/own-1024.eml"
expect "unsigned message" none "$m/keys.opendkim-queryfile.txt" 1024 "$dkim/dkimpy/test.message"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
