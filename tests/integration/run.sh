#!/bin/bash
# Integration tests of mailkeeper-milter with real servers: NSD serving
# test block lists, Postfix with the milter in smtpd_milters and
# non_smtpd_milters delivering to Maildirs, miltertest on the milter
# protocol. All inside a network namespace made for the run (rig.sh).
# Prints PASS/FAIL lines and ends with "N passed, N failed". Needs root.
set -u
. "$(dirname "$0")/rig.sh"
SHARED=${MK_SHARED:-$MK_TOP/../shared}
now_ms() { date +%s%3N; }

rig_up
rig_dns_start || { echo "FAIL: NSD did not start"; cat "$RIG/dns/nsd.out"; echo "0 passed, 1 failed"; exit 1; }
rig_milter_conf <<'CONF'
[rbl:test]
zone = rbl.test
returns = 127.0.0.2 = RBL_TEST_SPAM:20, 127.0.0.3 = RBL_TEST_LOW:6
reason = %i listed in %z: %t
[rbl:bl2]
zone = bl2.test
score = 1.5
[dmarc]
on_quarantine = hold
[uribl:multi]
zone = uribl.test
bitmask = yes
returns = 127.0.0.8 = URIBL_TEST_PH:6, 127.0.0.64 = URIBL_TEST_ABUSE:3
CONF
# content rules in SpamAssassin's syntax, one of them broken (skipped, counted)
mkdir -p "$RIG/rules"
cat > "$RIG/rules/local.cf" <<'RULES'
header MK_SUBJ_MARKER  Subject =~ /^rule test\b/i
score  MK_SUBJ_MARKER  1.5
body   MK_BODY_MARKER  /mailkeeper rule marker/
score  MK_BODY_MARKER  2
meta   MK_BOTH_MARKERS MK_SUBJ_MARKER && MK_BODY_MARKER
score  MK_BOTH_MARKERS 0.5
body   MK_BROKEN       /(unclosed/
RULES
printf '[rules]\npaths = %s/rules\n' "$RIG" >> "$RIG/mailkeeper.conf"
printf '[bayes]\nmin_spam = 5\nmin_ham = 5\nrefresh = 0s\n' >> "$RIG/mailkeeper.conf"
rig_milter_start || { echo "FAIL: milter did not start"; cat "$RIG/milter.log"; echo "0 passed, 1 failed"; exit 1; }
rig_postfix_start || { echo "FAIL: Postfix did not start"; cat "$RIG/postfix/maillog"; echo "0 passed, 1 failed"; exit 1; }

# --- the daemon ------------------------------------------------------------
t_user() { [ "$(ps -o user= -p "$MILTER_PID")" = mailkeeper ]; }
check "milter dropped root to user mailkeeper" t_user
t_pidfile() { [ "$(cat "$RIG/milter.pid")" = "$MILTER_PID" ]; }
check "milter wrote its pid file" t_pidfile
t_dns_isolated() { [ "$($X dig +short 99.2.0.192.rbl.test A)" = 127.0.0.2 ]; }
check "test DNS answers inside the namespace" t_dns_isolated

# --- through Postfix ---------------------------------------------------------
t_clean() {
    local id="clean-$(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" --body "Lunch on Friday?" || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "not delivered"; return 1; }
    rig_header "$f" X-Spam-Status | sed 's/, \([A-Z]\)/,\1/g' | grep -q '^No, score=-0.0 required=5.0 tests=DKIM_NA,DMARC_NA,SPF_PASS version=' || { cat "$f"; return 1; }
    rig_header "$f" Authentication-Results | grep -q '^mx.mk.test; dkim=none; spf=pass (.*) smtp.mailfrom=sender@example.org; dmarc=none header.from=example.org$' || { cat "$f"; return 1; }
    ! grep -q '^X-Spam-Flag:' "$f"
}
check "clean message arrives with X-Spam-Status: No and Authentication-Results: spf=pass" t_clean

# t_spf SENDER CLIENT SYMBOL [HELO]: delivered with SYMBOL in tests= and
# the same result in Authentication-Results
t_spf() {
    local id="spf-$(date +%s%N)"
    rig_send --xclient-addr "$2" --helo "${4:-client.example}" --from "$1" --to alice@mk.test --header "Subject: $id" || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "not delivered"; return 1; }
    rig_header "$f" X-Spam-Status | tr ',= ' '\n\n\n' | grep -qx "$3" || { rig_header "$f" X-Spam-Status; grep "$id" -m1 "$RIG/milter.log"; return 1; }
    local want; want=$(echo "$3" | sed 's/^SPF_\(HELO_\)\{0,1\}//' | tr 'A-Z' 'a-z')
    rig_header "$f" Authentication-Results | grep -q "^mx.mk.test;.* spf=$want " || { rig_header "$f" Authentication-Results; return 1; }
}
check "SPF pass (include + a:, XCLIENT 192.0.2.10)" t_spf user@pass.spf.test 192.0.2.10 SPF_PASS
check "SPF fail (-all, XCLIENT 192.0.2.10)" t_spf user@fail.spf.test 192.0.2.10 SPF_FAIL
check "SPF softfail (mx ~all, XCLIENT 192.0.2.10)" t_spf user@soft.spf.test 192.0.2.10 SPF_SOFTFAIL
check "SPF none (no record)" t_spf user@rbl.test 192.0.2.10 SPF_NONE
check "SPF permerror (two records)" t_spf user@two.spf.test 192.0.2.10 SPF_PERMERROR
check "SPF for the null sender checks HELO" t_spf '<>' 192.0.2.10 SPF_HELO_PASS helo.spf.test
check "SPF over IPv6 (XCLIENT IPV6:2001:db8::10)" t_spf sender@example.org IPV6:2001:db8::10 SPF_PASS

t_rbl_reject() {
    local out; out=$(rig_send --xclient-addr 192.0.2.99 --to alice@mk.test --header "Subject: listed" 2>&1)
    echo "$out" | grep -q '<\*\* 550 5.7.1 .*192.0.2.99 listed in rbl.test: 192.0.2.99 is a known spam source' || { echo "$out" | tail -8; return 1; }
    grep -q 'RBL_TEST_SPAM(20.00)' "$RIG/milter.log" && grep -q 'RBL_BL2(1.50)' "$RIG/milter.log"
}
check "RBL-listed client (XCLIENT) is rejected with 550 and the list's reason, both lists asked" t_rbl_reject

t_ipv6() {
    local out; out=$(rig_send --xclient-addr IPV6:2001:db8::99 --to alice@mk.test --header "Subject: v6" 2>&1)
    echo "$out" | grep -q '<\*\* 550 5.7.1 .*2001:db8::99 listed in rbl.test' || { echo "$out" | tail -8; return 1; }
}
check "IPv6 client is looked up in nibble form and rejected" t_ipv6

t_between() {
    local id="grey-$(date +%s%N)"
    rig_send --xclient-addr 192.0.2.66 --to bob@mk.test --header "Subject: $id" --body "grey" || return 1
    local f; f=$(rig_delivered bob "$id") || { echo "not delivered"; return 1; }
    [ "$(rig_header "$f" X-Spam-Flag)" = YES ] && [ "$(rig_header "$f" X-Spam-Level)" = '******' ] &&
        rig_header "$f" X-Spam-Status | sed 's/, \([A-Z]\)/,\1/g' | grep -q '^Yes, score=6.0 required=5.0 tests=DKIM_NA,DMARC_NA,RBL_TEST_LOW,SPF_PASS version=' || { cat "$f"; return 1; }
}
check "message between the thresholds arrives with X-Spam-Flag: YES" t_between

t_forged() {
    local id="fake-$(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" \
        --add-header "X-Spam-Flag: NO" --add-header "X-Spam-Status: No, score=-99 tests=FORGED" \
        --add-header "x-spam-flag: NO" --add-header "X-Spam-Report: forged" \
        --add-header "Authentication-Results: mx.mk.test; dkim=pass header.d=example.org" \
        --add-header "Authentication-Results: relay.example.net; spf=none" --body "trust me" || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "not delivered"; return 1; }
    grep -q '^Authentication-Results: relay.example.net; spf=none' "$f" || { cat "$f"; return 1; }
    [ "$(grep -c '^Authentication-Results: mx.mk.test' "$f")" = 1 ] && ! grep -q 'dkim=pass' "$f" || { cat "$f"; return 1; }
    ! grep -qi 'FORGED\|^X-Spam-Flag: NO\|^X-Spam-Report' "$f" && [ "$(grep -ci '^X-Spam-Status:' "$f")" = 1 ] || { cat "$f"; return 1; }
}
check "forged X-Spam-* and Authentication-Results (our authserv-id) are gone; another host's A-R stays" t_forged

t_local_submission() {
    local id="local-$(date +%s%N)"
    printf 'From: root@mk.test\nTo: bob@mk.test\nSubject: %s\n\nvia sendmail\n' "$id" |
        $X env MAIL_CONFIG="$RIG/postfix/etc" /usr/sbin/sendmail -f root@mk.test bob@mk.test || return 1
    local f; f=$(rig_delivered bob "$id") || { echo "not delivered"; tail -5 "$RIG/postfix/maillog"; return 1; }
    rig_header "$f" X-Spam-Status | grep -q '^No, '
}
check "local submission (non_smtpd_milters) is scored too" t_local_submission

t_qid_in_log() {
    local id="qid-$(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" || return 1
    local f; f=$(rig_delivered alice "$id") || return 1
    local qid; qid=$(grep -m1 -o 'with ESMTP id [0-9A-Za-z]*' "$f" | awk '{print $4}')
    [ -n "$qid" ] && grep -q "mailkeeper-milter\[[0-9]*\]: $qid: client=" "$RIG/milter.log" || { echo "qid=$qid"; tail -3 "$RIG/milter.log"; return 1; }
    # every line about a message names its queue ID (or NOQUEUE before there is one)
    ! grep 'client=' "$RIG/milter.log" | grep -v ']: [0-9A-Za-z]*: client=' | grep -q .
}
check "milter log lines carry the Postfix queue ID" t_qid_in_log

# --- DKIM through Postfix: RFC 8463's dual-signed example (RSA + ed25519) ----
DKIM_MSG=$SHARED/testdata/dkim/mimekit/rfc8463-example.msg
t_dkim_pass() {
    rig_send --xclient-addr 192.0.2.10 --from joe@football.example.com --to alice@mk.test --data "@$DKIM_MSG" || return 1
    local f; f=$(rig_delivered alice '20030712040037.46341.5F8J@football.example.com') || { echo "not delivered"; return 1; }
    local ar; ar=$(rig_header "$f" Authentication-Results)
    echo "$ar" | grep -q 'dkim=pass header.d=football.example.com header.s=brisbane header.b=' &&
        echo "$ar" | grep -q 'dkim=pass header.d=football.example.com header.s=test header.b=' &&
        echo "$ar" | grep -q 'dmarc=pass (p=none dis=none) header.from=football.example.com' &&
        rig_header "$f" X-Spam-Status | grep -q 'DKIM_ALLOW' || { echo "$ar"; rig_header "$f" X-Spam-Status; return 1; }
}
check "DKIM: a signed message (rsa-sha256 + ed25519-sha256, keys from the test DNS) passes through Postfix" t_dkim_pass
t_dkim_fail() {
    sed 's/Are you hungry yet?/Are you thirsty yet?/' "$DKIM_MSG" > "$RIG/dkim-changed.msg"
    rig_send --xclient-addr 192.0.2.10 --from joe@football.example.com --to bob@mk.test --data "@$RIG/dkim-changed.msg" || return 1
    local f; f=$(rig_delivered bob 'thirsty') || { echo "not delivered"; return 1; }
    local ar; ar=$(rig_header "$f" Authentication-Results)
    [ "$(echo "$ar" | grep -o 'dkim=fail (body hash did not verify) header.d=football.example.com' | wc -l)" = 2 ] &&
        echo "$ar" | grep -q 'dmarc=fail (p=none dis=none) header.from=football.example.com' &&
        rig_header "$f" X-Spam-Status | grep -q 'DKIM_REJECT' || { echo "$ar"; rig_header "$f" X-Spam-Status; return 1; }
}
check "DKIM: the same message with a changed body fails both signatures" t_dkim_fail

# --- DMARC through Postfix (zone dmarc.test) -----------------------------------
# t_dmarc_delivered ENVELOPE FROM RESULT SYMBOL: delivered with dmarc=RESULT
# for the From domain in Authentication-Results and SYMBOL in tests=
t_dmarc_delivered() {
    local id="dmarc-$(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --from "$1" --h-From "<$2>" --to alice@mk.test --header "Subject: $id" || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "not delivered"; grep "$1" "$RIG/postfix/maillog" | tail -3; return 1; }
    rig_header "$f" Authentication-Results | grep -q "; dmarc=$3 .*header.from=${2#*@}$" &&
        rig_header "$f" X-Spam-Status | tr ',= ' '\n\n\n' | grep -qx "$4" || { rig_header "$f" Authentication-Results; rig_header "$f" X-Spam-Status; return 1; }
}
check "DMARC pass: SPF of a bounce subdomain, relaxed alignment" t_dmarc_delivered bounce@bounces.pass.dmarc.test user@pass.dmarc.test pass DMARC_POLICY_ALLOW
check "DMARC p=none: fails, delivered, reported" t_dmarc_delivered user@none.dmarc.test user@none.dmarc.test 'fail (p=none dis=none)' DMARC_POLICY_SOFTFAIL
check "DMARC broken record (p=bogus): permerror, no policy applied" t_dmarc_delivered user@broken.dmarc.test user@broken.dmarc.test permerror DMARC_BAD_POLICY
# t_dmarc_reject ENVELOPE FROM: 550 with the DMARC reason, nothing delivered
t_dmarc_reject() {
    local id="dmarc-rej-$(date +%s%N)" out
    out=$(rig_send --xclient-addr 192.0.2.10 --from "$1" --h-From "<$2>" --to alice@mk.test --header "Subject: $id" 2>&1)
    echo "$out" | grep -q "<\*\* *550 5.7.1 Rejected by the DMARC policy of ${2#*@}" || { echo "$out" | grep '<\*\*'; return 1; }
    ! rig_delivered alice "$id" >/dev/null
}
check "DMARC p=reject, SPF failing and no DKIM: 550 5.7.1 through Postfix" t_dmarc_reject user@reject.dmarc.test user@reject.dmarc.test
check "DMARC p=reject, aspf=s: a passing bounce subdomain is not aligned, 550" t_dmarc_reject bounce@bounces.strict.dmarc.test user@strict.dmarc.test
t_big_answer() { [ "$($X dig +ignore +noedns +short _dmarc.big.dmarc.test TXT | wc -l)" -lt 21 ] && t_dmarc_reject user@big.dmarc.test user@big.dmarc.test; }
check "DMARC record in a truncated UDP answer (1.5 KB, 21 TXT records): read over TCP, 550" t_big_answer
# A subdomain without a record: the registered domain's sp=quarantine applies,
# and on_quarantine = hold puts the message in Postfix's hold queue.
t_dmarc_hold() {
    local id="dmarc-hold-$(date +%s%N)" qid=
    rig_send --xclient-addr 192.0.2.10 --from user@sub.dmarc.test --to alice@mk.test --header "Subject: $id" || return 1
    qid=$(grep 'from=<user@sub.dmarc.test>' "$RIG/milter.log" | grep 'action=[a-z_]* hold ' | tail -1 | sed 's/.*\]: \([0-9A-Za-z]*\): client=.*/\1/')
    [ -n "$qid" ] || { tail -3 "$RIG/milter.log"; return 1; }
    hold_q() { $X postqueue -c "$RIG/postfix/etc" -j | grep "\"queue_id\": *\"$qid\"" | grep -q '"queue_name": *"hold"'; }
    for _ in $(seq 1 100); do hold_q && break; sleep 0.05; done
    hold_q || { $X postqueue -c "$RIG/postfix/etc" -p; grep "$qid" "$RIG/postfix/maillog"; return 1; }
    grep -q "$qid: milter-hold: END-OF-MESSAGE .*milter triggers HOLD action" "$RIG/postfix/maillog" || { grep "$qid" "$RIG/postfix/maillog"; return 1; }
    ! rig_delivered alice "$id" >/dev/null
}
check "DMARC sp=quarantine at the registered domain, on_quarantine = hold: held in Postfix's hold queue" t_dmarc_hold
t_two_froms() {
    local id="froms-$(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" --add-header "From: <other@none.dmarc.test>" || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "not delivered"; return 1; }
    rig_header "$f" X-Spam-Status | tr ',= ' '\n\n\n' | grep -qx MULTIPLE_FROM &&
        [ "$(rig_header "$f" Authentication-Results | grep -o 'dmarc=[a-z]* [^;]*header.from=[a-z.]*' | wc -l)" = 2 ] || { rig_header "$f" Authentication-Results; rig_header "$f" X-Spam-Status; return 1; }
}
check "DMARC: two From fields are scored (MULTIPLE_FROM) and each domain is checked" t_two_froms
# The other dispositions, in test mode against the same DNS.
t_dmarc_tm() {
    printf '[general]\ndns_servers = 127.0.0.1:53\n[dmarc]\non_reject = %s\non_quarantine = %s\n' "$1" "$2" > "$RIG/dmarc-tm.conf"
    printf 'From: <user@%s>\nTo: <alice@mk.test>\nSubject: tm\n\nhello\n' "$3" > "$RIG/dmarc-tm.eml"
    $X "$MK_MILTER" -c "$RIG/dmarc-tm.conf" -t --client-ip 192.0.2.10 --from "user@$3" "$RIG/dmarc-tm.eml"
}
t_dmarc_report() { local o; o=$(t_dmarc_tm report report reject.dmarc.test) || return 1; echo "$o"; echo "$o" | grep -q '^verdict: accept' && echo "$o" | grep -q 'DMARC_POLICY_REJECT'; }
check "DMARC on_reject = report: scored, accepted" t_dmarc_report
t_dmarc_spam() { local o; o=$(t_dmarc_tm reject spam sub.dmarc.test) || return 1; echo "$o"; echo "$o" | grep -q '^verdict: add_header' && echo "$o" | grep -q 'X-Spam-Flag: YES'; }
check "DMARC on_quarantine = spam: marked as spam whatever the score" t_dmarc_spam
# t_bad_from FROM-LINES SYMBOL: with on_bad_from = reject, refused naming the problem
t_bad_from() {
    printf '[general]\ndns_servers = 127.0.0.1:53\n[dmarc]\non_bad_from = reject\n' > "$RIG/badfrom.conf"
    printf '%bTo: <alice@mk.test>\nSubject: from\n\nhello\n' "$1" > "$RIG/badfrom.eml"
    local o; o=$($X "$MK_MILTER" -c "$RIG/badfrom.conf" -t --client-ip 192.0.2.10 --from user@none.dmarc.test "$RIG/badfrom.eml") || return 1
    echo "$o"
    echo "$o" | grep -q "^  $2 " && echo "$o" | grep -q '^reply: 550 5.7.1 The '
}
check "RFC 7489 6.6.1: no From field (MISSING_FROM), on_bad_from = reject" t_bad_from '' MISSING_FROM
check "RFC 7489 6.6.1: a From with no domain (FROM_NO_DOMAIN)" t_bad_from 'From: undisclosed-recipients:;\n' FROM_NO_DOMAIN
check "RFC 7489 6.6.1: a From naming a bare word (FROM_NO_DOMAIN)" t_bad_from 'From: root\n' FROM_NO_DOMAIN
check "RFC 7489 6.6.1: two From fields (MULTIPLE_FROM)" t_bad_from 'From: <a@none.dmarc.test>\nFrom: <b@pass.dmarc.test>\n' MULTIPLE_FROM

# --- URI block list through Postfix (zone uribl.test, bitmask answers) ---------
t_uribl() {
    local id="uribl-$(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" \
        --add-header "MIME-Version: 1.0" --add-header "Content-Type: text/html; charset=utf-8" \
        --body '<p>Your parcel: <a href="http://&#119;ww.Spam-Site.example/track?id=1">track it</a> or http://203.0.113.7/x</p>' || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "not delivered"; return 1; }
    local status; status=$(rig_header "$f" X-Spam-Status | tr ',= ' '\n\n\n')
    echo "$status" | grep -qx URIBL_TEST_PH && echo "$status" | grep -qx URIBL_TEST_ABUSE &&
        [ "$(rig_header "$f" X-Spam-Flag)" = YES ] || { rig_header "$f" X-Spam-Status; grep "$id" "$RIG/milter.log"; return 1; }
}
check "URI list: an HTML link (entity-obfuscated host) and an IP link are looked up and scored" t_uribl
# test mode against the same DNS: two bits of one answer; IDN; the cap
t_uribl_tm() {
    printf '[general]\ndns_servers = 127.0.0.1:53\n[dmarc]\nenabled = no\n[uri]\nmax_lookups = %s\n[uribl:multi]\nzone = uribl.test\nbitmask = yes\nreturns = 127.0.0.8 = URIBL_TEST_PH:6, 127.0.0.64 = URIBL_TEST_ABUSE:3\n' "$1" > "$RIG/uribl-tm.conf"
    printf 'From: <a@example.org>\nTo: <b@mk.test>\nSubject: links\nContent-Type: text/plain; charset=utf-8\n\n%s\n' "$2" > "$RIG/uribl-tm.eml"
    $X "$MK_MILTER" -c "$RIG/uribl-tm.conf" -t --client-ip 192.0.2.10 "$RIG/uribl-tm.eml"
}
t_uribl_bits() {
    local o; o=$(t_uribl_tm 10 'see https://x.both-lists.example/') || return 1
    echo "$o"
    echo "$o" | grep -q 'URIBL_TEST_PH .*both-lists.example listed in uribl.test (127.0.0.72)' &&
        echo "$o" | grep -q 'URIBL_TEST_ABUSE .*both-lists.example listed in uribl.test (127.0.0.72)'
}
check "URI list: both bits of 127.0.0.72 give both symbols" t_uribl_bits
t_uribl_idn() {
    local o; o=$(t_uribl_tm 10 $'Buy at www.B\xc3\x9ccher.example today') || return 1
    echo "$o"
    echo "$o" | grep -q 'URIBL_TEST_ABUSE .*xn--bcher-kva.example listed in uribl.test (127.0.0.64)'
}
check "URI list: an IDN link (www.BÜCHER.example) is looked up as A-labels" t_uribl_idn
t_uribl_cap() {
    local o; o=$(t_uribl_tm 2 'http://a.example http://b.example http://c.example http://spam-site.example') || return 1
    echo "$o"
    echo "$o" | grep -q 'URIBL_LIMIT .*2 of 4 linked hosts not looked up (max_lookups = 2)' && ! echo "$o" | grep -q URIBL_TEST_PH
}
check "URI list: max_lookups caps the queries per message, and says so" t_uribl_cap

# --- content rules (SpamAssassin syntax) through Postfix ------------------------
t_rules_log() { grep -q 'rules: 3 loaded from 1 file(s); skipped: .*regex 1' "$RIG/milter.log" || { grep 'rules:' "$RIG/milter.log"; return 1; }; }
check "content rules: the start-up line counts loaded and skipped rules (a broken pattern)" t_rules_log
t_rules() {
    local id="rule test $(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" --body "This carries the mailkeeper rule marker." || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "not delivered"; return 1; }
    local status; status=$(rig_header "$f" X-Spam-Status | tr ',= ' '\n\n\n')
    echo "$status" | grep -qx MK_SUBJ_MARKER && echo "$status" | grep -qx MK_BODY_MARKER && echo "$status" | grep -qx MK_BOTH_MARKERS &&
        rig_header "$f" X-Spam-Status | grep -q 'score=4.0 ' || { rig_header "$f" X-Spam-Status; return 1; }
}
check "content rules: header, body and meta rules hit through Postfix, with their scores" t_rules
t_rules_bad_path() {
    printf '[rules]\npaths = %s/no-such-rules\n' "$RIG" > "$RIG/badrules.conf"
    local out; out=$("$MK_MILTER" -c "$RIG/badrules.conf" -t "$RIG_SRC/data/plain.eml" 2>&1); local rc=$?
    [ $rc = 78 ] && echo "$out" | grep -q 'badrules.conf: \[rules\] paths: .*no-such-rules' || { echo "rc=$rc $out"; return 1; }
}
check "content rules: an unreadable rules path stops start-up, naming it" t_rules_bad_path

# --- reloading (SIGHUP to the pid in the pid file) ---------------------------------
# reload_and_wait: SIGHUP, then the worker's log line that says how it went
reload_and_wait() { bash "$RIG_SRC/reload_wait.sh" "$RIG"; }
status_of() { # SUBJECT-TEXT: the X-Spam-Status of alice's message, one test a line
    local f; f=$(rig_delivered alice "$1") || { echo "not delivered"; return 1; }
    rig_header "$f" X-Spam-Status | tr ',= ' '\n\n\n'
}
t_reload_session() {
    printf 'header MK_RELOAD_A Subject =~ /reload-probe/\nscore MK_RELOAD_A 0.1\n' > "$RIG/rules/reload.cf"
    reload_and_wait || return 1
    local id="reload-probe $(date +%s%N)"
    # the session is open (headers sent) while the rules change and SIGHUP lands
    local out; out=$($X python3 "$RIG_SRC/session_across.py" 127.0.0.1 2525 alice@mk.test "$id" \
        "printf 'header MK_RELOAD_B Subject =~ /reload-probe/\\nscore MK_RELOAD_B 0.1\\n' > '$RIG/rules/reload.cf' && bash '$RIG_SRC/reload_wait.sh' '$RIG'") || { echo "$out"; return 1; }
    echo "$out"
    echo "$out" | grep -q '^250 .*event-rc=0$' || return 1
    grep -q "reloaded $RIG/mailkeeper.conf; rules: 4 loaded" "$RIG/milter.log" || { grep reload "$RIG/milter.log"; return 1; }
    # the open session finished with the set it started with; a new one gets the new set
    status_of "$id" | grep -qx MK_RELOAD_A || { status_of "$id"; return 1; }
    local id2="reload-probe $(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id2" > /dev/null || return 1
    status_of "$id2" | grep -qx MK_RELOAD_B || { status_of "$id2"; return 1; }
}
check "SIGHUP reloads the rules; an SMTP session open across it completes (250), new sessions use the new rules" t_reload_session
t_reload_failures() {
    local n
    # a configuration error: the old set stays, the log names file, line and key
    cp "$RIG/mailkeeper.conf" "$RIG/mailkeeper.conf.good"
    printf '[scoring]\nno_such_key = 1\n' >> "$RIG/mailkeeper.conf"
    reload_and_wait || return 1
    grep -q "reload: $RIG/mailkeeper.conf:[0-9]*: \[scoring\] no_such_key" "$RIG/milter.log" &&
        grep -q 'reload failed: still running' "$RIG/milter.log" || { grep reload "$RIG/milter.log"; return 1; }
    cp "$RIG/mailkeeper.conf.good" "$RIG/mailkeeper.conf"
    # rules that cannot be read: the same
    n=$(grep -c 'reload failed' "$RIG/milter.log")
    chmod 000 "$RIG/rules"
    reload_and_wait; local rc=$?
    chmod 755 "$RIG/rules"
    [ $rc = 0 ] && [ "$(grep -c 'reload failed' "$RIG/milter.log")" -gt "$n" ] &&
        grep -q "reload: .*\[rules\] paths: .*$RIG/rules" "$RIG/milter.log" || { grep reload "$RIG/milter.log"; return 1; }
    local id="reload-probe $(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" > /dev/null || return 1
    status_of "$id" | grep -qx MK_RELOAD_B || { status_of "$id"; return 1; }
    rm -f "$RIG/rules/reload.cf"
    reload_and_wait
}
check "a reload that fails (bad key, unreadable rules) logs why and keeps the old set serving" t_reload_failures
t_worker_restart() {
    local worker; worker=$(pgrep -P "$MILTER_PID" | head -1)
    [ -n "$worker" ] || { echo "no worker"; return 1; }
    kill -SEGV "$worker"
    rig_wait_gone "$worker" || return 1
    local id="restart $(date +%s%N)"
    for _ in $(seq 1 100); do [ -n "$(pgrep -P "$MILTER_PID")" ] && break; sleep 0.05; done
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" > /dev/null || return 1
    local f; f=$(rig_delivered alice "$id") || return 1
    rig_header "$f" X-Spam-Status | grep -q '^No, score=' &&
        grep -q "worker $worker killed by signal 11: starting another" "$RIG/milter.log"
}
check "a worker that crashes is started again by the supervisor; mail goes on being scored" t_worker_restart

# --- Bayes through Postfix --------------------------------------------------------
t_bayes() {
    local d="$RIG/bayes-train" i
    mkdir -p "$d/spam" "$d/ham"
    for i in $(seq 1 8); do
        printf 'From: offers%d@deals.example\nSubject: cheap replica watches %d\nMessage-ID: <s%d@deals.example>\n\nBuy cheap replica watches and pills now, limited offer, act fast %d\n' $i $i $i $i > "$d/spam/$i"
        printf 'From: colleague%d@mk.test\nSubject: minutes of the budget meeting %d\nMessage-ID: <h%d@mk.test>\n\nAttached are the minutes of the quarterly budget meeting, see agenda item %d\n' $i $i $i $i > "$d/ham/$i"
    done
    chmod -R a+rX "$d"
    runuser -u mailkeeper -- "$MK_TOP/rules/mailkeeper-learn" -c "$RIG/mailkeeper.conf" --spam "$d/spam" || return 1
    runuser -u mailkeeper -- "$MK_TOP/rules/mailkeeper-learn" -c "$RIG/mailkeeper.conf" --ham "$d/ham" || return 1
    # learned twice: counted once
    runuser -u mailkeeper -- "$MK_TOP/rules/mailkeeper-learn" -c "$RIG/mailkeeper.conf" --ham "$d/ham" | grep -q '8 message(s): 0 learned, 8 already learned' || return 1
    sleep 0.2
    local id="bayes-spam $(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: cheap replica watches $id" --body "cheap replica watches and pills, limited offer" > /dev/null || return 1
    status_of "$id" | grep -qx BAYES_99 || { status_of "$id"; grep -i bayes "$RIG/milter.log"; return 1; }
    id="bayes-ham $(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: minutes of the budget meeting $id" --body "the minutes of the quarterly budget meeting" > /dev/null || return 1
    status_of "$id" | grep -qx BAYES_00 || { status_of "$id"; return 1; }
    grep -q 'Bayes: loaded .*bayes.db: 8 spam, 8 ham learned' "$RIG/milter.log" || return 1
    # forgotten again, so the tests after this one meet no Bayes vote
    runuser -u mailkeeper -- "$MK_TOP/rules/mailkeeper-learn" -c "$RIG/mailkeeper.conf" --forget "$d/spam" "$d/ham" | grep -q '16 message(s): 0 learned, 0 already learned, 0 moved, 16 forgotten' || return 1
    runuser -u mailkeeper -- "$MK_TOP/rules/mailkeeper-learn" -c "$RIG/mailkeeper.conf" --stats | grep -qx 'global: 0 spam, 0 ham learned, 0 tokens' || return 1
    id="bayes-after $(date +%s%N)"
    sleep 0.2
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: cheap replica watches $id" > /dev/null || return 1
    ! status_of "$id" | grep -q '^BAYES_'
}
check "Bayes through Postfix: after mailkeeper-learn (run as the milter's user) spam gets BAYES_99, ham BAYES_00" t_bayes
# a user's learning sets that user's lists, in the same store, as Dovecot's pipe would
t_lists_learn() {
    local learn=("$MK_TOP/rules/mailkeeper-learn" -c "$RIG/mailkeeper.conf")
    local lists=("$MK_TOP/rules/mailkeeper-lists" -c "$RIG/mailkeeper.conf")
    local m='From: "Deals" <Offers@Deals.EXAMPLE>\nTo: alice@mk.test\nSubject: deal\nMessage-ID: <lists-1@deals.example>\n\nbuy now\n'
    printf "$m" | runuser -u mailkeeper -- "${learn[@]}" --user Alice@mk.test --spam > /dev/null || return 1
    [ "$(runuser -u mailkeeper -- "${lists[@]}" check alice@mk.test offers@deals.example)" = "block (alice@mk.test offers@deals.example)" ] || return 1
    printf "$m" | runuser -u mailkeeper -- "${learn[@]}" --user alice@mk.test --ham | grep -q '1 moved' || return 1
    [ "$(runuser -u mailkeeper -- "${lists[@]}" export alice@mk.test)" = "friend offers@deals.example" ] || return 1
    # a bad import line changes nothing and is named
    local out; out=$(printf 'block spam@x.example\nallow y@x.example\n' | runuser -u mailkeeper -- "${lists[@]}" import alice@mk.test 2>&1) && return 1
    echo "$out" | grep -q '(standard input):2:' || return 1
    [ "$(runuser -u mailkeeper -- "${lists[@]}" export alice@mk.test)" = "friend offers@deals.example" ] || return 1
    # forgotten: off the lists again, no Bayes counts left for alice
    printf "$m" | runuser -u mailkeeper -- "${learn[@]}" --user alice@mk.test --forget > /dev/null || return 1
    [ -z "$(runuser -u mailkeeper -- "${lists[@]}" export alice@mk.test)" ] || return 1
    # an empty message: exit 1, said on stderr
    out=$(printf '' | runuser -u mailkeeper -- "${learn[@]}" --user alice@mk.test --spam 2>&1) && return 1
    echo "$out" | grep -q 'it is empty'
}
check "mailkeeper-learn --user: the sender goes on the user's block list (spam) or friend list (ham); mailkeeper-lists shows it; a bad import changes nothing" t_lists_learn
# the milter honours each recipient's lists
t_lists_milter() {
    local lists=("$MK_TOP/rules/mailkeeper-lists" -c "$RIG/mailkeeper.conf")
    runuser -u mailkeeper -- "${lists[@]}" add alice@mk.test block pest@example.org || return 1
    runuser -u mailkeeper -- "${lists[@]}" add alice@mk.test friend pal@example.org || return 1
    runuser -u mailkeeper -- "${lists[@]}" add alice@mk.test friend pal@fail.spf.test || return 1
    # blocked for alice at RCPT with 550 5.7.1; bob takes it
    local id="block-$(date +%s%N)" out
    out=$(rig_send --xclient-addr 192.0.2.10 --from pest@example.org --to alice@mk.test,bob@mk.test \
        --header "From: pest@example.org" --header "Subject: $id" 2>&1)
    echo "$out" | grep -q '^<\*\* *550 5.7.1 .*block list' || { echo "$out" | tail -12; return 1; }
    rig_delivered bob "$id" > /dev/null || { echo "bob did not get it"; return 1; }
    ! grep -qlF -- "$id" "$RIG/mail/alice/Maildir/new/"* 2>/dev/null || { echo "alice got it"; return 1; }
    # a friend's message that scores as spam (an RBL hit of 6) is not marked for alice
    id="friend-$(date +%s%N)"
    rig_send --xclient-addr 192.0.2.66 --from pal@example.org --to alice@mk.test \
        --header "From: pal@example.org" --header "Subject: $id" > /dev/null || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "friend's message not delivered"; return 1; }
    rig_header "$f" X-Spam-Status | grep -q '^No, .*USER_IN_WELCOMELIST' || { cat "$f"; return 1; }
    ! grep -q '^X-Spam-Flag:' "$f" || { cat "$f"; return 1; }
    # the same to alice and bob: bob's lists differ, so bob is deferred (452 4.5.3)
    id="split-$(date +%s%N)"
    out=$(rig_send --xclient-addr 192.0.2.66 --from pal@example.org --to alice@mk.test,bob@mk.test \
        --header "From: pal@example.org" --header "Subject: $id" 2>&1)
    echo "$out" | grep -q '^<\*\* *452 4.5.3 ' || { echo "$out" | tail -12; return 1; }
    rig_delivered alice "$id" > /dev/null || return 1
    # a forged friend (SPF fails) does not pass
    id="forged-$(date +%s%N)"
    rig_send --xclient-addr 192.0.2.66 --from pal@fail.spf.test --to alice@mk.test \
        --header "From: pal@fail.spf.test" --header "Subject: $id" > /dev/null || return 1
    f=$(rig_delivered alice "$id") || { echo "forged friend not delivered"; return 1; }
    rig_header "$f" X-Spam-Status | grep -q '^Yes, .*USER_IN_WELCOMELIST_FORGED' || { cat "$f"; return 1; }
}
check "the milter honours each recipient's lists: a blocked sender gets 550 5.7.1 for that recipient only, a friend's spammy message is not marked, recipients whose lists differ are deferred (452 4.5.3), a friend whose SPF fails does not pass" t_lists_milter
# SpamAssassin's own rule set, as Debian's spamassassin package installs it
SA_RULES=/usr/share/spamassassin
t_stock_load() {
    printf '[rules]\npaths = %s\n' "$SA_RULES" > "$RIG/stock.conf"
    local out; out=$("$MK_MILTER" -n -c "$RIG/stock.conf") || { echo "$out"; return 1; }
    echo "$out"
    local n; n=$(echo "$out" | sed -n 's/^rules: \([0-9]*\) loaded.*/\1/p')
    [ -n "$n" ] && [ "$n" -ge 1700 ]
}
check "content rules: SpamAssassin's stock rules load (at least 1700 run; the rest skipped by reason)" t_stock_load
t_stock_corpus() {
    local files; files=$(find "$SHARED/testdata/mime" -type f \( -name '*.msg' -o -name '*.eml' \) | sort)
    local n; n=$(echo "$files" | wc -l)
    local out; out=$("$MK_MILTER" -t -c "$RIG/stock.conf" $files 2>&1)
    [ "$(echo "$out" | grep -c '^verdict: ')" = "$n" ] || { echo "$out" | tail -5; return 1; }
}
check "content rules: the stock rules over every MIME torture message: a verdict for each, no crash" t_stock_corpus

# --- miltertest: the milter protocol as Sendmail speaks it -------------------
for s in clean gtube rbl between two-messages; do
    check "miltertest $s.lua" $X miltertest -D sock=inet:$MILTER_PORT@127.0.0.1 -D dir="$RIG_SRC/miltertest" -s "$RIG_SRC/miltertest/$s.lua"
done

# --- test mode against the real DNS ------------------------------------------
tm() { $X "$MK_MILTER" -c "$RIG/mailkeeper.conf" -t "$@" "$RIG_SRC/data/plain.eml"; }
t_tm_two_answers() { tm --client-ip 192.0.2.77 | grep -q 'RBL_TEST_LOW' && tm --client-ip 192.0.2.77 | grep -q 'RBL_TEST_SPAM'; }
check "test mode: one list answering two codes gives two symbols" t_tm_two_answers
t_tm_refused() { tm --client-ip 192.0.2.88 | grep -q 'RBL_TEST_TEMPERROR .*refuses our queries'; }
check "test mode: 127.255.255.x answer is a temperror, not a listing" t_tm_refused
t_tm_outside() { local o; o=$(tm --client-ip 192.0.2.55 2>&1); ! echo "$o" | grep -q '^  RBL_' && echo "$o" | grep -q 'outside 127.0.0.0/8: ignored'; }
check "test mode: answer outside 127/8 is ignored and logged" t_tm_outside

# --- failure: DNS down, DNS silent, milter down, internal error --------------
t_dns_down() {
    rig_dns_stop
    local id="nodns-$(date +%s%N)" t0; t0=$(now_ms)
    rig_send --xclient-addr 192.0.2.99 --to alice@mk.test --header "Subject: $id" || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "not delivered"; return 1; }
    local took=$(( $(now_ms) - t0 ))
    echo "took ${took} ms"
    rig_header "$f" X-Spam-Status | grep -q 'tests=.*RBL_TEST_TEMPERROR' && [ "$took" -lt 4000 ] || { cat "$f"; return 1; }
}
check "DNS server stopped: mail passes within the deadline with RBL temperror" t_dns_down

t_dns_silent() {
    # A server that takes the queries and never answers: the deadline (2 s) decides.
    $X python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
time.sleep(60)' &
    local hole=$!; RIG_PIDS+=("$hole")
    rig_wait_port 53 u || return 1
    local id="silentdns-$(date +%s%N)" t0; t0=$(now_ms)
    rig_send --xclient-addr 192.0.2.99 --to alice@mk.test --header "Subject: $id"
    local rc=$? took=$(( $(now_ms) - t0 ))
    rig_stop_pid "$hole"
    echo "took ${took} ms"
    [ $rc = 0 ] || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "not delivered"; return 1; }
    rig_header "$f" X-Spam-Status | grep -q 'tests=.*RBL_TEST_TEMPERROR' && [ "$took" -ge 1500 ] && [ "$took" -lt 6000 ] || { cat "$f"; return 1; }
}
check "DNS server silent: mail passes after the 2 s deadline with RBL temperror" t_dns_silent
rig_dns_start >/dev/null || bad "NSD restart"

t_milter_down() {
    rig_milter_stop
    local id="retry-$(date +%s%N)" out
    out=$(rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" --header "Message-Id: <$id@example.org>" 2>&1)
    echo "$out" | grep -q '<\*\* 451 4.7.1' || { echo "first try: $out" | tail -6; return 1; }
    ! rig_delivered alice "$id" >/dev/null 2>&1 || { echo "delivered without the milter"; return 1; }
    rig_milter_start || return 1
    # the sender retries the same message, as an SMTP client does after 4xx
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" --header "Message-Id: <$id@example.org>" || return 1
    local f; f=$(rig_delivered alice "$id") || { echo "retry not delivered"; return 1; }
    rig_header "$f" X-Spam-Status | grep -q '^No, '
}
check "milter stopped: Postfix answers 4xx; back up, the retried message is delivered" t_milter_down

t_on_error() {
    rig_milter_stop
    rig_milter_conf "$RIG/onerror.conf" <<'CONF'
[general]
CONF
    sed -i "s|^tmp_dir = .*|tmp_dir = /nonexistent|; s|^\[milter\]|[milter]\nmemory_limit = 64|" "$RIG/onerror.conf"
    rig_milter_start "$RIG/onerror.conf" || return 1
    local id="onerr-$(date +%s%N)" out
    out=$(rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" --body "$(printf 'x%.0s' $(seq 1 200))" 2>&1)
    echo "$out" | grep -q '<\*\* 451 4.7.1' || { echo "$out" | tail -5; return 1; }
    grep -q ': cannot buffer message: cannot create temp file in /nonexistent' "$RIG/milter.log" || return 1
    grep 'cannot buffer message' "$RIG/milter.log" | grep -vq 'NOQUEUE'
    sed -i 's|^\[milter\]|[milter]\non_error = accept|' "$RIG/onerror.conf"
    rig_milter_stop; rig_milter_start "$RIG/onerror.conf" || return 1
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id-accept" --body "$(printf 'x%.0s' $(seq 1 200))" || return 1
    rig_delivered alice "$id-accept" >/dev/null
}
check "internal error: on_error=tempfail answers 451 (logged with queue ID), on_error=accept delivers" t_on_error
rig_milter_stop; rig_milter_start

# --- every MIME torture message through Postfix and through test mode --------
t_torture() {
    local dir=$SHARED/testdata/mime
    [ -d "$dir" ] || { echo "no $dir"; return 1; }
    find "$dir" -type f ! -name '*.md' ! -name 'LICENSE*' ! -name 'COPYING*' ! -name '*.ref' | sort > "$RIG/torture.list"
    # the verdicts of the test mode, file by file
    local n=0
    while read -r f; do
        local v; v=$($X "$MK_MILTER" -c "$RIG/mailkeeper.conf" -t "$f" 2>/dev/null | sed -n 's/^verdict: //p')
        echo "$f $v"; n=$((n+1))
    done < "$RIG/torture.list" > "$RIG/torture.testmode"
    # the same files through Postfix, one SMTP session each
    $X python3 "$RIG_SRC/send_files.py" 127.0.0.1 2525 alice@mk.test < "$RIG/torture.list" > "$RIG/torture.smtp" || return 1
    kill -0 "$MILTER_PID" || { echo "milter died"; return 1; }
    paste -d' ' "$RIG/torture.testmode" "$RIG/torture.smtp" | awk '
        { file=$1; verdict=$2; code=$4 }
        (verdict=="reject" && code!=550) || (verdict!="reject" && code!=250) { print "mismatch: " $0; bad++ }
        code==250 { delivered++ }
        END { printf "%d files, %d delivered, %d mismatches\n", NR, delivered, bad; exit bad>0 }'
}
check "every message of shared/testdata/mime: no crash, verdict as test mode, delivered or rejected" t_torture

# --- stop and daemon mode ------------------------------------------------------
t_sigterm() {
    local pid=$MILTER_PID
    kill -TERM "$pid"; rig_wait_gone "$pid" || return 1
    wait "$pid"; local rc=$?
    MILTER_PID=
    [ $rc = 0 ] && grep -q 'mailkeeper-milter stopped$' "$RIG/milter.log"
}
check "SIGTERM stops the milter cleanly (exit 0)" t_sigterm

t_daemon() {
    rm -f "$RIG/milter.pid"
    $X "$MK_MILTER" -c "$RIG/mailkeeper.conf" || return 1   # returns once detached
    for _ in $(seq 1 100); do [ -s "$RIG/milter.pid" ] && break; sleep 0.05; done
    local pid; pid=$(cat "$RIG/milter.pid") || return 1
    RIG_PIDS+=("$pid")
    rig_wait_port "$MILTER_PORT" || return 1
    [ "$(ps -o user= -p "$pid")" = mailkeeper ] || return 1
    [ "$(ps -o tty= -p "$pid" | tr -d ' ')" = "?" ] || return 1
    local id="daemon-$(date +%s%N)"
    rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --header "Subject: $id" || return 1
    rig_delivered alice "$id" >/dev/null || return 1
    rig_stop_pid "$pid"
}
check "daemon mode: detaches, pid file, serves mail, stops on SIGTERM" t_daemon

# extra_milter NAME SOCKET: a second milter on another socket; sets pid.
extra_milter() {
    rig_milter_conf "$RIG/$1.conf" < /dev/null
    sed -i "s|^socket = .*|socket = $2|" "$RIG/$1.conf"
    $X "$MK_MILTER" -f -c "$RIG/$1.conf" >> "$RIG/milter.log" 2>&1 &
    pid=$!; RIG_PIDS+=("$pid")
}

t_unix_socket() {
    local pid; extra_milter unix "unix:$RIG/milter.sock"
    for _ in $(seq 1 100); do [ -S "$RIG/milter.sock" ] && break; sleep 0.05; done
    [ "$(stat -c %U "$RIG/milter.sock")" = mailkeeper ] || { ls -l "$RIG/milter.sock"; return 1; }
    $X miltertest -D sock="unix:$RIG/milter.sock" -D dir="$RIG_SRC/miltertest" -s "$RIG_SRC/miltertest/gtube.lua" || return 1
    rig_stop_pid "$pid"
}
check "unix socket: owned by the milter's user, speaks the milter protocol" t_unix_socket

t_inet6_socket() {
    local pid; extra_milter inet6 "inet6:8895@::1"
    for _ in $(seq 1 100); do $X ss -ltn | grep -q '\[::1\]:8895 ' && break; sleep 0.05; done
    # miltertest cannot reach inet6 sockets: Postfix uses the milter over [::1] instead
    local etc=$RIG/postfix/etc out
    $X postconf -c "$etc" -e 'smtpd_milters = inet:[::1]:8895' && $X postfix -c "$etc" reload >/dev/null 2>&1
    sleep 1
    out=$(rig_send --xclient-addr 192.0.2.10 --to alice@mk.test --body 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X' 2>&1)
    $X postconf -c "$etc" -e "smtpd_milters = inet:127.0.0.1:$MILTER_PORT" && $X postfix -c "$etc" reload >/dev/null 2>&1
    rig_stop_pid "$pid"
    echo "$out" | grep -q '<\*\* 550 5.7.1 Message rejected as spam (score 1000.0): GTUBE' || { echo "$out" | tail -5; return 1; }
}
check "inet6 socket: Postfix reaches the milter over [::1]" t_inet6_socket

t_bad_config() {
    printf '[milter]\nsocket = inet:8894@127.0.0.1\non_error = sometimes\n' > "$RIG/bad.conf"
    local out; out=$("$MK_MILTER" -c "$RIG/bad.conf" -f 2>&1); local rc=$?
    [ $rc = 78 ] && echo "$out" | grep -q "bad.conf:3: \[milter\] on_error: 'sometimes' is not tempfail or accept" || { echo "rc=$rc $out"; return 1; }
    "$MK_MILTER" -n -c "$RIG/mailkeeper.conf" | grep -q 'configuration OK'
}
check "bad configuration stops start-up naming file, line and key; -n checks" t_bad_config

rig_down
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
