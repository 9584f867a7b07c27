#!/bin/bash
# The secure vault's divert through a real Postfix with the milter: an
# outgoing message whose Subject holds "[Secure]" (any case, or another
# configured keyword) is sealed in the vault and the recipient gets the
# notification, not the message; nothing of it is readable in the vault's
# files or the logs; the archive keeps the original; incoming mail with
# the keyword passes untouched; a vault that cannot keep the message makes
# Postfix retry (451), never send in clear; mailkeeper-vault lists,
# revokes, opens and purges (31 days on, with faketime). Then the reader,
# mailkeeper-webvault, over HTTPS with a self-signed certificate: codes by
# mail (msmtp into the rig's Postfix), lockout, the message, its
# attachment, a reply with a file, the pages of revoked and expired links,
# and bad input (tests/integration/webvault_client.py). In the rig's
# network namespace (rig.sh). Prints PASS/FAIL lines and ends with
# "N passed, N failed".
set -u
. "$(dirname "$0")/rig.sh"
die() { echo "FAIL: $*"; echo "$pass passed, $((fail+1)) failed"; exit 1; }

rig_up
rig_dns_start || die "NSD did not start"
rig_milter_conf <<'CONF'
[archive]
enabled = yes
[vault]
enabled = yes
url = https://vault.mk.test:8443/
keywords = [Secure], (encrypt)
local_senders = yes
CONF
sed -i 's|^\[general\]$|[general]\nlocal_domains = mk.test\ninternal_networks = 10.0.0.0/8|' "$RIG/mailkeeper.conf"
# the reader's certificate, and how the milter and the reader send mail
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=vault.mk.test" \
    -addext "subjectAltName=DNS:vault.mk.test" -keyout "$RIG/web.key" -out "$RIG/web.crt" 2> /dev/null ||
    die "openssl cannot make a certificate"
cat >> "$RIG/mailkeeper.conf" <<CONF
[webvault]
listen = 127.0.0.1:8443
cert_file = $RIG/web.crt
key_file = $RIG/web.key
sendmail = /usr/bin/msmtp --host=127.0.0.1 --port=2525 --domain=vault.mk.test
code_from = vault@mk.test
max_codes = 1000
CONF
rig_milter_start || die "milter did not start: $(tail -5 "$RIG/milter.log")"
rig_postfix_start || die "Postfix did not start"
V=("$MK_TOP/vault/mailkeeper-vault" -c "$RIG/mailkeeper.conf")
command -v msmtp > /dev/null || apt-get install -y -q msmtp > /dev/null 2>&1 || die "msmtp cannot be installed"
A=("$MK_TOP/archive/mailkeeper-archive" -c "$RIG/mailkeeper.conf")

# a message with a text part and an attachment: mkmsg SUBJECT FILE
head -c 3000 /dev/urandom > "$RIG/report.bin"
printf 'ATTACHMENT-MARKER-9321' >> "$RIG/report.bin"
mkmsg() {
    python3 - "$1" "$RIG/report.bin" > "$2" <<'PY'
import sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "Alice Example <alice@mk.test>"
m["To"] = "Bob <bob@mk.test>"
m["Subject"] = sys.argv[1]
m["Message-ID"] = "<%s@mk.test>" % abs(hash(sys.argv[1]))
m.set_content("Dear Bob,\nthe figures: PLAINTEXT-MARKER-4711.\n")
m.add_attachment(open(sys.argv[2], "rb").read(), maintype="application", subtype="octet-stream",
                 filename="report.bin")
sys.stdout.write(m.as_string().replace("\n", "\r\n"))
PY
}
# send CLIENT FILE [SENDER]: through Postfix, from alice (or SENDER)
send() { $X swaks --server 127.0.0.1:2525 --helo client.example --xclient-addr "$1" \
    --from "${3:-alice@mk.test}" --to bob@mk.test --data "$2"; }
link_of() { grep -o 'https://vault\.mk\.test:8443/m/[A-Za-z0-9_-]*' "$1" | head -1; }

t_divert() {
    mkmsg "[Secure] Quarterly payroll 2027" "$RIG/s1.eml"
    send 10.0.0.5 "$RIG/s1.eml" > "$RIG/s1.out" 2>&1 || { tail -5 "$RIG/s1.out"; return 1; }
    local f; f=$(rig_delivered bob "X-Mailkeeper-Vault") || { echo "no notification for bob"; return 1; }
    cp "$f" "$RIG/notice1.eml"
    [ "$(rig_header "$f" Subject)" = "Quarterly payroll 2027" ] || { rig_header "$f" Subject; return 1; }
    rig_header "$f" From | grep -q 'Alice Example <alice@mk.test>' || return 1
    rig_header "$f" Content-Type | grep -q 'multipart/alternative' || return 1
    # the original's MIME header fields are gone (GMime keeps them apart: the
    # milter reads the names off the raw header)
    [ "$(sed '/^\r\?$/q' "$f" | grep -ci '^content-type:')" = 1 ] || { sed '/^\r\?$/q' "$f"; return 1; }
    local link; link=$(link_of "$f")
    [[ $link =~ ^https://vault\.mk\.test:8443/m/[A-Za-z0-9_-]{43}$ ]] || { echo "link: $link"; return 1; }
    grep -q 'text/html' "$f" && grep -q 'Alice Example (alice@mk.test) has sent you a secure message' "$f" || return 1
    # the recipient has the notification only
    ! grep -q 'PLAINTEXT-MARKER\|ATTACHMENT-MARKER\|report.bin\|\[Secure\]' "$f" || { echo "the notification holds the message"; return 1; }
    echo "$link" > "$RIG/link1"
}
check "an outgoing [Secure] message with an attachment: bob gets the notification (From Alice, subject without the keyword, text and HTML, the link), not the message" t_divert

# the sender's copy ([vault] notify_sender, on by default): to whom, the link, a revoke link
revoke_of() { grep -o 'https://vault\.mk\.test:8443/r/[A-Za-z0-9_-]*/[A-Za-z0-9_-]*' "$1" | head -1; }
t_sender_copy() {
    local link; link=$(cat "$RIG/link1") || return 1
    local f; f=$(rig_delivered alice "Sent securely: Quarterly payroll 2027") || { echo "no copy for alice"; return 1; }
    grep -q '^Auto-Submitted: auto-generated' "$f" && grep -q '^  bob@mk.test$' "$f" && grep -qF -- "$link" "$f" || { cat "$f"; return 1; }
    local r; r=$(revoke_of "$f")
    [[ $r =~ ^https://vault\.mk\.test:8443/r/${link##*/}/[A-Za-z0-9_-]{43}$ ]] || { echo "revoke link: $r"; return 1; }
    ! grep -rqaF -- "${r##*/}" "$RIG/milter.log" "$RIG/postfix/maillog" "$RIG/state/vault" || { echo "the revoke token is in a log or the vault"; return 1; }
    ! grep -q 'PLAINTEXT-MARKER' "$f"
}
check "the sender gets a copy of the notification: to whom it went, the recipients' link, a revoke link (its token in no log and not in the vault)" t_sender_copy

t_nothing_on_disk() {
    local link secret; link=$(cat "$RIG/link1") && secret=${link##*/} && [ -n "$secret" ] || return 1
    local b64; b64=$(printf 'ATTACHMENT-MARKER-9321' | base64)
    # the vault: neither the message, its subject, its recipients nor its sender
    local w
    for w in PLAINTEXT-MARKER-4711 "Quarterly payroll" bob@mk.test alice@mk.test "$secret"; do
        ! grep -rqaF -- "$w" "$RIG/state/vault" || { echo "'$w' is in the vault's files"; return 1; }
    done
    # no log holds the link's secret (the milter's, Postfix's)
    # (the archive keeps all mail, the sender's copy with its links too: it holds the original anyway)
    ! grep -qaF -- "$secret" "$RIG/milter.log" "$RIG/postfix/maillog" || { echo "the secret is in a log"; return 1; }
    grep -q 'vaulted: [0-9]* bytes for 1 recipient(s) as [0-9a-f]\{12\}' "$RIG/milter.log" || return 1
    # what the link opens is the message as sent, attachment byte for byte
    "${V[@]}" open "$link" > "$RIG/opened.eml" || return 1
    grep -q 'PLAINTEXT-MARKER-4711' "$RIG/opened.eml" || return 1
    python3 - "$RIG/opened.eml" "$RIG/report.bin" <<'PY' || return 1
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
att = [p for p in m.iter_attachments() if p.get_filename() == "report.bin"]
sys.exit(0 if att and att[0].get_content() == open(sys.argv[2], "rb").read() else 1)
PY
    # the archive keeps the original
    "${A[@]}" search subject:payroll | grep -q 'Secure' || { "${A[@]}" search subject:payroll; return 1; }
}
check "nothing of the message (body, subject, sender, recipient, link) is in the vault's files or the logs; the link opens it byte for byte; the archive keeps the original" t_nothing_on_disk

t_keywords() {
    mkmsg "Re: [SECURE] contract" "$RIG/s2.eml"
    send 10.0.0.5 "$RIG/s2.eml" > /dev/null 2>&1 || return 1
    mkmsg "tax forms (encrypt)" "$RIG/s3.eml"
    send 10.0.0.5 "$RIG/s3.eml" > /dev/null 2>&1 || return 1
    local f
    f=$(rig_delivered bob "Subject: Re: contract") || { echo "[SECURE] not vaulted"; return 1; }
    grep -q 'X-Mailkeeper-Vault' "$f" || return 1
    f=$(rig_delivered bob "Subject: tax forms") || { echo "(encrypt) not vaulted"; return 1; }
    grep -q 'X-Mailkeeper-Vault' "$f" && ! grep -q PLAINTEXT-MARKER "$f" || return 1
    # no keyword: sent as it is
    mkmsg "plain news" "$RIG/s4.eml"
    send 10.0.0.5 "$RIG/s4.eml" > /dev/null 2>&1 || return 1
    f=$(rig_delivered bob "Subject: plain news") || return 1
    grep -q PLAINTEXT-MARKER "$f" && ! grep -q 'X-Mailkeeper-Vault' "$f"
}
check "[SECURE] in any case and a second configured keyword are vaulted too; a subject without one goes out as it is" t_keywords

t_incoming() {
    mkmsg "[Secure] from outside" "$RIG/s5.eml"
    send 192.0.2.10 "$RIG/s5.eml" partner@example.org > /dev/null 2>&1 || return 1
    local f; f=$(rig_delivered bob "from outside") || return 1
    grep -q PLAINTEXT-MARKER "$f" && ! grep -q 'X-Mailkeeper-Vault' "$f" || return 1
    # [vault] local_senders: a sender of mk.test from an outside client is outgoing
    mkmsg "[Secure] alice on the road" "$RIG/s7.eml"
    send 192.0.2.10 "$RIG/s7.eml" > /dev/null 2>&1 || return 1
    f=$(rig_delivered bob "Subject: alice on the road") || return 1
    grep -q 'X-Mailkeeper-Vault' "$f" && ! grep -q PLAINTEXT-MARKER "$f"
}
check "incoming mail with [Secure] in the subject is left alone; with local_senders, a local sender's message from an outside client is vaulted" t_incoming

t_never_clear() {
    find "$RIG/state/vault" -type d -exec chmod 500 {} +
    mkmsg "[Secure] when the vault is full" "$RIG/s6.eml"
    local out; out=$(send 10.0.0.5 "$RIG/s6.eml" 2>&1)
    find "$RIG/state/vault" -type d -exec chmod 770 {} +
    echo "$out" | grep -q '^<\*\* *451 4.3.0' || { echo "$out" | tail -5; return 1; }
    ! grep -l 'when the vault is full' "$RIG/mail/bob/Maildir/new/"* 2>/dev/null || return 1
    send 10.0.0.5 "$RIG/s6.eml" > /dev/null 2>&1 || return 1
    local f; f=$(rig_delivered bob "Subject: when the vault is full") || return 1
    grep -q 'X-Mailkeeper-Vault' "$f" && ! grep -q PLAINTEXT-MARKER "$f"
}
check "a vault that cannot keep the message answers 451 4.3.0 (Postfix retries), it never goes out in clear; the retry is vaulted" t_never_clear

t_cli() {
    "${V[@]}" list > "$RIG/list.out" || return 1
    [ "$(grep -c ' readable$' "$RIG/list.out")" = 5 ] || { cat "$RIG/list.out"; return 1; }
    ! grep -q 'payroll\|bob@' "$RIG/list.out" || return 1
    local link; link=$(cat "$RIG/link1")
    local id; id=$(python3 -c 'import base64, hashlib, sys
s = sys.argv[1]; print(hashlib.sha256(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))).hexdigest())' "${link##*/}")
    "${V[@]}" revoke "${id:0:12}" | grep -q "^$id revoked" || return 1
    "${V[@]}" open "$link" 2>&1 | grep -q 'revoked' || return 1
    "${V[@]}" revoke 0000000000 2>/dev/null && return 1
    # 31 days on: the rest has expired; purged, their files are gone
    local link2; link2=$(link_of "$(rig_delivered bob "Subject: tax forms")")
    faketime -f '+31d' "${V[@]}" open "$link2" 2>&1 | grep -q 'expired' || return 1
    faketime -f '+31d' "${V[@]}" purge | grep -q '^4 expired message(s) deleted' || return 1
    [ -z "$(find "$RIG/state/vault" -name '*.mkv')" ] || { find "$RIG/state/vault" -name '*.mkv'; return 1; }
    "${V[@]}" list | grep -c ' purged$' | grep -qx 4
}
check "mailkeeper-vault lists (no content), revokes by id prefix (the link then says revoked), and 31 days on (faketime) purges the expired messages' files" t_cli

# --- the reader ------------------------------------------------------------
# web_start NAME [env ...]: a reader (CONFNAME: its configuration)
web_start() {
    local log=$RIG/$1.log; shift
    $X "$@" "$MK_TOP/webvault/mailkeeper-webvault" -c "$RIG/$CONFNAME" >> "$log" 2>&1 &
    WEB_PID=$!
    RIG_PIDS+=("$WEB_PID")
}
CONFNAME=mailkeeper.conf web_start webvault
rig_wait_port 8443 || die "the reader did not start: $(tail -5 "$RIG/webvault.log")"
WEB="$X env MK_WEB_CA=$RIG/web.crt python3 $RIG_SRC/webvault_client.py"
# a fresh message for the reader's tests: LINKn of the notification to bob
web_msg() {
    mkmsg "[Secure] $1" "$RIG/$1.eml"
    send 10.0.0.5 "$RIG/$1.eml" > /dev/null 2>&1 || return 1
    link_of "$(rig_delivered bob "Subject: $1")"
}

t_web_flow() {
    [ "$(ps -o user= -p "$WEB_PID")" = mailkeeper ] || { echo "the reader runs as $(ps -o user= -p "$WEB_PID")"; return 1; }
    local link; link=$(web_msg web-flow) || return 1
    $WEB flow "$link" "$RIG/mail/bob/Maildir" "$RIG/mail/alice/Maildir" "$RIG/report.bin" || return 1
    # neither the link nor a code reaches the reader's log
    local secret=${link##*/}
    ! grep -qF -- "$secret" "$RIG/webvault.log" || { echo "the link is in the log"; return 1; }
    local code
    for code in $(grep -ho 'Your one-time code: [0-9]\{8\}' "$RIG/mail/bob/Maildir/new/"* | cut -d' ' -f4); do
        ! grep -qF -- "$code" "$RIG/webvault.log" || { echo "code $code is in the log"; return 1; }
    done
}
check "the reader: the link asks for an address, a code is mailed to bob, a wrong one and one with letters are refused, the right one (once) starts a __Host- session; the message, its attachment byte for byte, HSTS, CSP, no-referrer, nosniff; a reply with a file reaches alice From bob; no link or code in the log" t_web_flow

t_web_guard() {
    local link2 link3; link2=$(web_msg web-guard) && link3=$(web_msg web-other) || return 1
    $WEB stranger "$link2" || return 1
    sleep 2
    ! grep -q 'to=<eve@example.org>' "$RIG/postfix/maillog" || { echo "a code went to a stranger"; return 1; }
    $WEB lockout "$link2" bob@mk.test || return 1
    # a stranger is locked out the same, so that nothing tells who is a recipient
    $WEB lockout "$link2" eve@example.org || return 1
    # a session of one message does not open another
    local cookie; cookie=$($WEB inject "$link3" "$RIG/mail/bob/Maildir" | tail -1) || { echo "$cookie"; return 1; }
    $X env MK_WEB_CA="$RIG/web.crt" MK_WEB_COOKIE="$cookie" python3 "$RIG_SRC/webvault_client.py" other "$link3" "$link2"
}
check "the reader: a stranger's address gets the same page and no mail; five wrong codes lock bob (and a stranger, alike) out of that message; a reply subject with a line break is refused; one message's session does not open another" t_web_guard

t_web_bad() {
    local link; link=$(web_msg web-bad) || return 1
    $WEB bad "$link" || return 1
    kill -0 "$WEB_PID" || { echo "the reader died"; return 1; }
    # each forged link is logged, without the link; so is the broken handshake
    grep -q 'a link that opens no message (client 127.0.0.1)' "$RIG/webvault.log" || return 1
    grep -q 'TLS: alert sent to client 127.0.0.1' "$RIG/webvault.log" || return 1
    ! grep -qF -- "${link##*/}" "$RIG/webvault.log"
}
check "the reader: forged and cut links show a clear page (404) and a log line without the link, a 13 MB post is refused (413), TLS 1.2 and 1.3 with AEAD suites; a broken handshake is closed and logged, a slow client holds up nobody; the reader keeps serving" t_web_bad

t_web_gone() {
    local link; link=$(web_msg web-revoked) || return 1
    local id; id=$(python3 -c 'import base64, hashlib, sys
s = sys.argv[1]; print(hashlib.sha256(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))).hexdigest())' "${link##*/}")
    "${V[@]}" revoke "$id" > /dev/null || return 1
    $WEB status "$link" 410 "was withdrawn" || return 1
    # 31 days on (a second reader under faketime, on 8444): expired
    local link2; link2=$(web_msg web-expired) || return 1
    sed 's/^listen = 127.0.0.1:8443$/listen = 127.0.0.1:8444/' "$RIG/mailkeeper.conf" > "$RIG/later.conf"
    # libfaketime itself, not the faketime wrapper (which forks: its pid would not be the reader's)
    local lib; lib=$(dpkg -L libfaketime | grep '/libfaketime\.so\.1$' | head -1)
    CONFNAME=later.conf web_start webvault-later env LD_PRELOAD="$lib" FAKETIME=+31d
    rig_wait_port 8444 || return 1
    $X env MK_WEB_CA="$RIG/web.crt" MK_WEB_PORT=8444 python3 "$RIG_SRC/webvault_client.py" status "$link2" 410 "has expired"
}
check "the reader: a revoked link and (31 days on) an expired one show their own pages (410), not an error" t_web_gone

t_web_sender_revoke() {
    local link; link=$(web_msg web-sender-revoke) || return 1
    local f; f=$(rig_delivered alice "Sent securely: web-sender-revoke") || { echo "no copy for alice"; return 1; }
    $WEB revoke "$(revoke_of "$f")" "$link"
}
check "the reader: the sender's revoke link asks first (GET withdraws nothing), a forged token does nothing, POST withdraws, and the recipients' link then says so" t_web_sender_revoke

# --- a real browser ---------------------------------------------------------
# hostile HTML: scripts, handlers, a javascript: link, remote images and
# frames, a form; and an image of its own (cid:)
mkevil() {
    python3 - "$1" > "$2" <<'PY'
import base64, struct, sys, zlib
from email.message import EmailMessage
def png(w, h):
    raw = b"".join(b"\x00" + b"\x1f\x5f\xbf" * w for _ in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
m = EmailMessage()
m["From"] = "Alice Example <alice@mk.test>"
m["To"] = "bob@mk.test"
m["Subject"] = sys.argv[1]
m.set_content("HOSTILE-HTML-MARKER in text")
m.add_alternative("""<html><body onload="alert('onload')">
<p>HOSTILE-HTML-MARKER</p>
<script>alert('script'); fetch('http://remote.example/x')</script>
<img src="x" onerror="alert('onerror')">
<img src="http://remote.example/pixel.gif"><img src="https://remote.example/p.png">
<img id="inline" src="cid:logo@mk.test">
<a id="js" href="javascript:alert('js-link')">click</a>
<div id="clickme" onclick="alert('onclick')">click me</div>
<iframe src="http://remote.example/frame"></iframe>
<link rel="stylesheet" href="http://remote.example/s.css">
<form action="http://remote.example/steal"><input name="q"></form>
</body></html>""", subtype="html")
m.get_payload()[1].add_related(png(40, 20), maintype="image", subtype="png", cid="<logo@mk.test>")
sys.stdout.write(m.as_string().replace("\n", "\r\n"))
PY
}

t_browser() {
    command -v chromium > /dev/null || apt-get install -y -q chromium > /dev/null 2>&1 || { echo "chromium cannot be installed"; return 1; }
    command -v npm > /dev/null || apt-get install -y -q nodejs npm > /dev/null 2>&1 || { echo "nodejs cannot be installed"; return 1; }
    local B=$RIG/browser out=$MK_TOP/tests/browser/screenshots
    mkdir -p "$B" && rm -rf "$out" && mkdir -p "$out" && chmod 777 "$out"
    (cd "$B" && echo '{"private": true}' > package.json &&
        npm install --offline --no-audit --no-fund "$MK_TOP"/tests/browser/vendor/playwright-core-*.tgz > npm.log 2>&1) ||
        { cat "$B/npm.log"; return 1; }
    local l1 l2 evil revoked expired
    l1=$(web_msg browser-one) && l2=$(web_msg browser-two) && revoked=$(web_msg browser-revoked) &&
        expired=$(web_msg browser-expired) || return 1
    mkevil "[Secure] hostile html" "$RIG/evil.eml"
    send 10.0.0.5 "$RIG/evil.eml" > /dev/null 2>&1 || return 1
    evil=$(link_of "$(rig_delivered bob "Subject: hostile html")") || return 1
    local rid; rid=$(python3 -c 'import base64, hashlib, sys
s = sys.argv[1]; print(hashlib.sha256(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))).hexdigest())' "${revoked##*/}")
    "${V[@]}" revoke "$rid" > /dev/null || return 1
    local spki; spki=$(openssl x509 -in "$RIG/web.crt" -pubkey -noout | openssl pkey -pubin -outform der |
        openssl dgst -sha256 -binary | base64)
    python3 -c 'import json, sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' \
        link "$l1" link2 "$l2" evil "$evil" revoked "$revoked" expired "${expired/:8443/:8444}" \
        bob "$RIG/mail/bob/Maildir" alice "$RIG/mail/alice/Maildir" attachment "$RIG/report.bin" \
        out "$out" spki "$spki" > "$B/config.json"
    (cd "$B" && $X env NODE_PATH="$B/node_modules" node "$MK_TOP/tests/browser/vault_browser.js" "$B/config.json") > "$B/out.txt" 2>&1
    local rc=$?
    cat "$B/out.txt"
    [ "$rc" = 0 ] || return 1
    sleep 1
    ! grep -q 'to=<eve@example.org>' "$RIG/postfix/maillog" || { echo "a code went to a stranger"; return 1; }
    echo "screenshots: $(ls "$out" | grep png | tr '\n' ' ')(in tests/browser/screenshots)" >> "$B/out.txt"
    cp "$B/out.txt" "$RIG/browser.txt"
}
check "in headless Chromium (playwright-core), phone-sized: the code read from bob's Maildir opens the message, the attachment downloads the same bytes, a reply with a file reaches alice; the session opens no other message; five wrong codes lock out; a stranger gets the same page and no mail; revoked, expired and cut links show their pages; hostile HTML runs nothing and loads nothing remote, its own image shows; a screenshot of each page" t_browser
[ -f "$RIG/browser.txt" ] && sed 's/^/    /' "$RIG/browser.txt"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
