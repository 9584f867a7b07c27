#!/bin/bash
# The test command: installs what is missing, builds (warnings are errors),
# runs the unit tests, the integration tests with real servers, the unit
# tests and the MIME torture set again under ASan+UBSan, and make distcheck.
# Ends with "N passed, N failed". Run as root on Debian 12.
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
pass=0; fail=0
add() { pass=$((pass + $1)); fail=$((fail + $2)); }
section() { echo; echo "=== $* ($(date +%T))"; }

section "dependencies"
bash contrib/install-deps.sh test || { echo "0 passed, 1 failed"; exit 1; }

section "build"
if ! { ./autogen.sh > /tmp/mk-autogen.log 2>&1 && ./configure -q --enable-werror && make -j"$(nproc)" >/tmp/mk-make.log 2>&1; }; then
    tail -30 /tmp/mk-make.log /tmp/mk-autogen.log 2>/dev/null
    echo "0 passed, 1 failed"; exit 1
fi
echo "PASS: build with -Wall -Wextra -Werror"; add 1 0

if clang-format --dry-run -Werror lib/*.[ch] rules/*.[ch] milter/*.[ch] archive/*.[ch] vault/*.[ch] webvault/*.[ch] tests/unit/*.[ch] tests/spf/*.c tests/dkim/*.c 2>/tmp/mk-format.log; then
    echo "PASS: sources formatted as .clang-format says"; add 1 0
else
    head -20 /tmp/mk-format.log; echo "FAIL: clang-format (run clang-format -i on the files above)"; add 0 1
fi

# make check's TAP summary: "# PASS: N", "# FAIL: N", "# ERROR: N".
unit_counts() {
    local log=$1 p f e
    p=$(sed -n 's/^# PASS: *//p' "$log"); f=$(sed -n 's/^# FAIL: *//p' "$log"); e=$(sed -n 's/^# ERROR: *//p' "$log")
    add "${p:-0}" $(( ${f:-0} + ${e:-0} ))
    [ -n "$p" ] || add 0 1
}

section "unit tests (make check)"
make -j"$(nproc)" check > /tmp/mk-check.log 2>&1
grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS):' /tmp/mk-check.log
grep -A30 '^FAIL\|^ERROR' tests/unit/*.log 2>/dev/null | head -60
grep -E '^# ' /tmp/mk-check.log
unit_counts /tmp/mk-check.log

section "SPF conformance (openspf suites through mailkeeper's SPF evaluation)"
for suite in rfc7208 rfc4408; do
    if python3 tests/spf/run_suite.py tests/spf/spf_driver "$TOP/../shared/testdata/spf/$suite-tests.yml" "$suite" > /tmp/mk-spf.log 2>&1; then
        echo "PASS: SPF $suite: $(tail -1 /tmp/mk-spf.log)"; add 1 0
    else
        grep -v 'known deviation' /tmp/mk-spf.log | tail -20; echo "FAIL: SPF $suite conformance"; add 0 1
    fi
done

section "DKIM verification cases (mk_dkim_verify with key files)"
bash tests/dkim/run_corpus.sh tests/dkim/dkim_driver "$TOP/../shared/testdata/dkim" 2>&1 | tee /tmp/mk-dkim.log
last=$(tail -1 /tmp/mk-dkim.log)
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then add "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; else echo "FAIL: DKIM cases did not run"; add 0 1; fi

section "content rules against SpamAssassin itself (same messages, same run)"
# in a network namespace of its own: neither engine may reach a resolver
ns=mk-agree-$$
if ip netns add "$ns" && ip -n "$ns" link set lo up &&
    ip netns exec "$ns" python3 tests/sa/agreement.py milter/mailkeeper-milter "$TOP/../shared/testdata" > /tmp/mk-agree.log 2>&1; then
    echo "PASS: rule x message agreement with spamassassin: $(grep '^agreement:' /tmp/mk-agree.log)"; add 1 0
else
    tail -25 /tmp/mk-agree.log; echo "FAIL: rule agreement with spamassassin"; add 0 1
fi
cat /tmp/mk-agree.log
ip netns del "$ns" 2>/dev/null

# the vectorscan prefilter changes no verdict and no rule hit
mapfile -t pfmsgs < <(find "$TOP/../shared/testdata" -type f \( -name '*.eml' -o -name '*.msg' \) | sort)
for pf in yes no; do
    printf '[dkim]\nenabled = no\n[spf]\nenabled = no\n[bayes]\nenabled = no\n[rules]\npaths = /usr/share/spamassassin\nprefilter = %s\n' "$pf" > /tmp/mk-pf-$pf.conf
    milter/mailkeeper-milter -c /tmp/mk-pf-$pf.conf -t "${pfmsgs[@]}" > /tmp/mk-pf-$pf.out 2>/dev/null
done
if [ "${#pfmsgs[@]}" -gt 100 ] && [ "$(grep -c '^verdict: ' /tmp/mk-pf-yes.out)" = "${#pfmsgs[@]}" ] &&
    cmp -s /tmp/mk-pf-yes.out /tmp/mk-pf-no.out; then
    echo "PASS: stock rules with and without the vectorscan prefilter: same hits on ${#pfmsgs[@]} messages"; add 1 0
else
    diff /tmp/mk-pf-no.out /tmp/mk-pf-yes.out | head -20; echo "FAIL: the prefilter changed a result"; add 0 1
fi

section "integration tests (netns, NSD, Postfix, miltertest)"
bash tests/integration/run.sh 2>&1 | tee /tmp/mk-integration.log
last=$(tail -1 /tmp/mk-integration.log)
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then add "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; else echo "FAIL: integration run did not finish"; add 0 1; fi

section "the compliance archive from the command line"
bash tests/archive/cli.sh 2>&1 | tee /tmp/mk-archive-cli.log
last=$(tail -1 /tmp/mk-archive-cli.log)
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then add "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; else echo "FAIL: archive CLI run did not finish"; add 0 1; fi

section "the compliance archive through Postfix (capture, fault test with SIGKILL)"
bash tests/integration/archive.sh 2>&1 | tee /tmp/mk-archive.log
last=$(tail -1 /tmp/mk-archive.log)
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then add "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; else echo "FAIL: archive run did not finish"; add 0 1; fi

section "the secure vault's divert through Postfix (notification, nothing in clear, mailkeeper-vault)"
bash tests/integration/vault.sh 2>&1 | tee /tmp/mk-vault.log
last=$(tail -1 /tmp/mk-vault.log)
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then add "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; else echo "FAIL: vault run did not finish"; add 0 1; fi

section "Dovecot end to end (LMTP from Postfix with the milter, IMAP moves, the shipped recipe)"
bash tests/integration/dovecot.sh 2>&1 | tee /tmp/mk-dovecot.log
last=$(tail -1 /tmp/mk-dovecot.log)
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then add "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; else echo "FAIL: Dovecot run did not finish"; add 0 1; fi

section "ASan + UBSan: unit tests and the MIME torture set in test mode"
# Built from the dist tarball: a second build beside the in-tree one.
SHARED_MIME=$TOP/../shared/testdata/mime
rm -rf _build-asan && mkdir _build-asan
if make dist > /tmp/mk-asan-make.log 2>&1 &&
    tar -xzf "mailkeeper-$(sed -n 's/^PACKAGE_VERSION = //p' Makefile).tar.gz" -C _build-asan --strip-components=1 &&
    (cd _build-asan && ./configure -q --enable-sanitizers --enable-werror && make -j"$(nproc)") >> /tmp/mk-asan-make.log 2>&1; then
    (cd _build-asan && MK_SHARED_MIME=$SHARED_MIME ASAN_OPTIONS=detect_leaks=1 make -j"$(nproc)" check > /tmp/mk-asan-check.log 2>&1)
    grep -E '^(FAIL|ERROR):' /tmp/mk-asan-check.log; grep -E '^# ' /tmp/mk-asan-check.log
    unit_counts /tmp/mk-asan-check.log
    # Outside any namespace: no check may ask DNS (DKIM-signed samples would).
    printf '[dkim]\nenabled = no\n[spf]\nenabled = no\n' > /tmp/mk-nodns.conf
    bad=0; n=0
    while read -r f; do
        n=$((n+1))
        if ! ASAN_OPTIONS=detect_leaks=1 _build-asan/milter/mailkeeper-milter -c /tmp/mk-nodns.conf -t "$f" > /tmp/mk-asan-tm.out 2>&1 ||
            grep -q 'runtime error\|AddressSanitizer\|LeakSanitizer' /tmp/mk-asan-tm.out; then
            echo "FAIL: ASan test mode: $f"; sed 's/^/    /' /tmp/mk-asan-tm.out | head -20; bad=$((bad+1))
        fi
    done < <(find "$SHARED_MIME" tests/golden -type f -name '*' ! -name '*.md' ! -name '*.ref' ! -name '*.conf' | sort)
    if [ "$n" -gt 100 ] && [ "$bad" = 0 ]; then echo "PASS: ASan+UBSan test mode over $n messages, no report"; add 1 0
    else echo "FAIL: ASan+UBSan test mode: $bad of $n failed"; add 0 1; fi
    # SpamAssassin's stock rules over the same messages, in one run
    { cat /tmp/mk-nodns.conf; printf '[rules]\npaths = /usr/share/spamassassin\n'; } > /tmp/mk-rules.conf
    mapfile -t msgs < <(find "$SHARED_MIME" -type f \( -name '*.msg' -o -name '*.eml' \) | sort)
    if ASAN_OPTIONS=detect_leaks=1 _build-asan/milter/mailkeeper-milter -c /tmp/mk-rules.conf -t "${msgs[@]}" > /tmp/mk-asan-rules.out 2>&1 &&
        ! grep -q 'runtime error\|AddressSanitizer\|LeakSanitizer' /tmp/mk-asan-rules.out &&
        [ "$(grep -c '^verdict: ' /tmp/mk-asan-rules.out)" = "${#msgs[@]}" ]; then
        echo "PASS: ASan+UBSan: SpamAssassin's stock rules over ${#msgs[@]} messages, no report"; add 1 0
    else
        grep -m5 -A15 'runtime error\|AddressSanitizer\|LeakSanitizer' /tmp/mk-asan-rules.out; tail -5 /tmp/mk-asan-rules.out
        echo "FAIL: ASan+UBSan stock rules"; add 0 1
    fi
    for suite in rfc7208 rfc4408; do
        if ASAN_OPTIONS=detect_leaks=1 python3 tests/spf/run_suite.py _build-asan/tests/spf/spf_driver \
            "$TOP/../shared/testdata/spf/$suite-tests.yml" "$suite" > /tmp/mk-asan-spf.log 2>&1; then
            echo "PASS: ASan+UBSan SPF $suite: $(tail -1 /tmp/mk-asan-spf.log)"; add 1 0
        else
            tail -20 /tmp/mk-asan-spf.log; echo "FAIL: ASan+UBSan SPF $suite"; add 0 1
        fi
    done
    if ASAN_OPTIONS=detect_leaks=1 bash tests/dkim/run_corpus.sh _build-asan/tests/dkim/dkim_driver \
        "$TOP/../shared/testdata/dkim" > /tmp/mk-asan-dkim.log 2>&1; then
        echo "PASS: ASan+UBSan DKIM cases: $(tail -1 /tmp/mk-asan-dkim.log)"; add 1 0
    else
        tail -20 /tmp/mk-asan-dkim.log; echo "FAIL: ASan+UBSan DKIM cases"; add 0 1
    fi
else
    tail -30 /tmp/mk-asan-make.log; echo "FAIL: sanitizer build"; add 0 1
fi

section "make distcheck"
if make -j"$(nproc)" distcheck > /tmp/mk-distcheck.log 2>&1; then
    echo "PASS: make distcheck"; add 1 0
else
    tail -30 /tmp/mk-distcheck.log; echo "FAIL: make distcheck"; add 0 1
fi

section "configure names the Debian package of a missing library"
tmp=$(mktemp -d /tmp/mk-conf.XXXXXX)
if [ -f "mailkeeper-$(sed -n 's/^PACKAGE_VERSION = //p' Makefile).tar.gz" ] &&
    tar -xzf mailkeeper-*.tar.gz -C "$tmp" --strip-components=1 &&
    ! (cd "$tmp" && PKG_CONFIG_LIBDIR=/nonexistent ./configure) > /tmp/mk-conf.log 2>&1 &&
    grep -q 'gmime-3.0 >= 3.2 not found: install the Debian package libgmime-3.0-dev' /tmp/mk-conf.log; then
    echo "PASS: configure stops and names libgmime-3.0-dev"; add 1 0
else
    tail -5 /tmp/mk-conf.log; echo "FAIL: configure with no libraries"; add 0 1
fi
rm -rf "$tmp"

echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
