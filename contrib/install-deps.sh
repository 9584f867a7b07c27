#!/bin/sh
# install-deps.sh [build|run|test|bench]: installs the Debian 12 packages
# mailkeeper needs for that job, only those missing. Needs root.
set -e
job=${1:-build}
# Hyperscan (libhs) for the content rules' prefilter: Intel's own on amd64,
# where rspamd (whose Debian package needs libhyperscan5, which conflicts
# with vectorscan) may share the host; the portable vectorscan elsewhere
case "$(dpkg --print-architecture 2>/dev/null)" in
    amd64) hs=libhyperscan-dev ;;
    *) hs=libvectorscan-dev ;;
esac
build="autoconf automake libtool pkg-config gcc make libc6-dev
       libmilter-dev libinih-dev libgmime-3.0-dev libc-ares-dev libcmocka-dev libspf2-dev
       libopendkim-dev libopendmarc-dev libpsl-dev libidn2-dev libxml2-dev libpcre2-dev $hs libsqlite3-dev publicsuffix
       libzstd-dev libssl-dev libevent-dev libmimalloc-dev"
rig="postfix swaks iproute2 procps python3 openssl curl msmtp"
case "$job" in
    build) want="$build" ;;
    run) want="$build $rig" ;;
    test) want="$build $rig nsd miltertest dnsutils clang-format python3-yaml opendkim-tools openssl spamassassin
                dovecot-imapd dovecot-lmtpd dovecot-sieve faketime" ;;
    bench) want="$build $rig nsd time opendkim-tools openssl bc" ;;
    *) echo "usage: $0 build|run|test|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Postfix asks what kind of site it is: none, the rig writes its own config.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing > /tmp/mailkeeper-apt.log 2>&1 ||
    { tail -20 /tmp/mailkeeper-apt.log; exit 1; }
