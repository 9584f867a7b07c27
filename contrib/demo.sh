#!/bin/bash
# The run command: installs what is missing, builds, starts mailkeeper-milter
# on its embedded defaults behind a private Postfix on loopback, sends a
# clean and a spammy sample message through it, and shows the delivered
# messages with the headers mailkeeper added. Then the secure vault: the
# milter again with the vault turned on (the one key the defaults leave
# off), mailkeeper-webvault on its defaults but for a self-signed
# certificate made here and the rig's Postfix to mail codes, a "[Secure]"
# message from alice to bob, the notification bob gets instead, and bob
# reading it over HTTPS with a one-time code, as a browser would (curl).
# Everything runs in a network namespace of its own and is stopped again
# at the end (MK_KEEP_RIG=1 keeps the mail directory). Run as root on
# Debian 12.
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

echo
echo "== the secure vault"
rig_milter_stop
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=localhost" \
    -keyout "$RIG/webvault.key" -out "$RIG/webvault.crt" 2> /dev/null
echo "== a self-signed certificate for the reader: $RIG/webvault.crt"
cat > "$RIG/vault.conf" <<CONF
[general]
state_dir = $RIG/state
internal_networks = 10.0.0.0/8
[vault]
enabled = yes
url = https://localhost:8443/
[webvault]
listen = 127.0.0.1:8443
cert_file = $RIG/webvault.crt
key_file = $RIG/webvault.key
sendmail = /usr/bin/msmtp --host=127.0.0.1 --port=2525 --domain=localhost
code_from = vault@mk.test
CONF
echo "== $RIG/vault.conf:"; sed 's/^/   /' "$RIG/vault.conf"
$X "$MK_MILTER" -f -c "$RIG/vault.conf" >> "$RIG/milter.log" 2>&1 &
MILTER_PID=$!; RIG_PIDS+=("$MILTER_PID")
rig_wait_port "$MILTER_PORT"
$X "$MK_TOP/webvault/mailkeeper-webvault" -c "$RIG/vault.conf" >> "$RIG/webvault.log" 2>&1 &
RIG_PIDS+=("$!")
rig_wait_port 8443
printf 'From: Alice <alice@mk.test>\nTo: bob@mk.test\nSubject: [Secure] The contract\n\nBob, the signed contract: clause 7 changed.\n' > "$RIG/secure.eml"
echo "== alice (an internal client, 10.0.0.5) sends '[Secure] The contract' to bob"
$X swaks --server 127.0.0.1:2525 --helo client.example --xclient-addr 10.0.0.5 --from alice@mk.test \
    --to bob@mk.test --data "@$RIG/secure.eml" --silent 2 || true
f=$(rig_delivered bob "X-Mailkeeper-Vault") || { echo "no notification was delivered"; exit 1; }
echo "== delivered to bob instead (the message itself stays sealed in $RIG/state/vault):"
sed -n '1,/^$/p' "$f" | grep -E '^(From|To|Subject|Content-Type|X-Mailkeeper-Vault):'
sed -n '/^Content-Type: text\/plain/,/^--/p' "$f" | sed '1,3d;$d' | sed 's/^/   /'
link=$(grep -o 'https://localhost:8443/m/[A-Za-z0-9_-]*' "$f" | head -1)
C=($X curl -s --cacert "$RIG/webvault.crt" --resolve localhost:8443:127.0.0.1 -b "$RIG/jar" -c "$RIG/jar")
echo "== bob opens the link, gives his address, gets a code by mail, enters it:"
"${C[@]}" "$link" | grep -o '<h1>[^<]*</h1>'
"${C[@]}" -d addr=bob@mk.test "$link/code" | grep -o '<h1>[^<]*</h1>'
code=""
for _ in $(seq 1 100); do
    code=$(grep -ho 'Your one-time code: [0-9]\{8\}' "$RIG/mail/bob/Maildir/new/"* 2> /dev/null | head -1 | cut -d' ' -f4)
    [ -n "$code" ] && break
    sleep 0.1
done
echo "   the code mail arrived in bob's Maildir: $code"
"${C[@]}" -o /dev/null -w '   verify: HTTP %{http_code}, %{redirect_url}\n' -d "addr=bob@mk.test&code=$code" "$link/verify" |
    sed 's|/m/[A-Za-z0-9_-]*|/m/...|'
echo "== the message page, as bob's browser gets it (headers, then the text):"
"${C[@]}" -D "$RIG/headers" -o "$RIG/page.html" "$link"
grep -iE '^(strict-transport|content-security|referrer-policy|x-content-type)' "$RIG/headers" | sed 's/^/   /'
python3 -c 'import html, re, sys
m = re.search(r"<h1>(.*?)</h1>.*?<pre class=\"text\">(.*?)</pre>", open(sys.argv[1]).read(), re.S)
print("   subject: %s\n   text: %s" % (html.unescape(m.group(1)), html.unescape(m.group(2)).strip()) if m else "   (no message on the page)")' "$RIG/page.html"
grep 'vaulted' "$RIG/milter.log" | sed 's/^/   milter: /' 
echo "== reader log:"
cat "$RIG/webvault.log"
