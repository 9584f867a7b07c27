# rig.sh: the mailkeeper test rig, sourced by the integration tests, the
# demo and the benchmark. Everything runs inside a network namespace made
# here, whose resolv.conf names the rig's own DNS server (NSD on
# 127.0.0.1:53): no query reaches the machine's resolver, no traffic leaves
# loopback. Every process started is stopped again by its PID (rig_down).
#
# Needs: root, postfix, nsd, swaks, iproute2. Set MK_MILTER to the binary.

RIG_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MK_TOP=$(cd "$RIG_SRC/../.." && pwd)
: "${MK_MILTER:=$MK_TOP/milter/mailkeeper-milter}"
MILTER_PORT=8894
RIG_PIDS=()

rig_log() { echo "rig: $*" >&2; }

# The tests' tally: ok NAME, bad NAME; check NAME COMMAND... passes when
# COMMAND exits 0 and shows the end of its output if not.
pass=0; fail=0
ok()  { echo "PASS: $*"; pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }
check() {
    local name=$1; shift
    if "$@" > "$RIG/.last" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/    /' "$RIG/.last" | tail -20; fi
}

# Waits until something listens on 127.0.0.1:PORT (tcp, or udp with -u) in the namespace.
rig_wait_port() {
    local port=$1 proto=${2:-t} tries=${3:-200}
    for _ in $(seq 1 "$tries"); do
        $X ss -ln"$proto" 2>/dev/null | grep -q "127.0.0.1:$port " && return 0
        sleep 0.05
    done
    rig_log "nothing listens on 127.0.0.1:$port"
    return 1
}

# Waits for a PID to be gone (up to ~15 s: libmilter takes ~5 s after SIGTERM).
rig_wait_gone() {
    local pid=$1
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}

rig_stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    rig_wait_gone "$pid" || { rig_log "pid $pid ignored SIGTERM: killing"; kill -9 "$pid" 2>/dev/null; rig_wait_gone "$pid"; }
}

rig_subst() { # template out
    sed -e "s|@RIG@|$RIG|g" -e "s|@MILTER_PORT@|$MILTER_PORT|g" \
        -e "s|@UID@|$(id -u nobody)|g" -e "s|@GID@|$(id -g nobody)|g" "$1" > "$2"
}

# Makes the rig directory and the network namespace.
rig_up() {
    RIG=$(mktemp -d /tmp/mk-rig.XXXXXX)
    chmod 755 "$RIG"
    NS=mkrig$$
    X="ip netns exec $NS"
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    mkdir -p "/etc/netns/$NS"
    echo "nameserver 127.0.0.1" > "/etc/netns/$NS/resolv.conf"
    printf '127.0.0.1 localhost mx.mk.test %s\n::1 localhost\n' "$(hostname)" > "/etc/netns/$NS/hosts"
    id mailkeeper >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin mailkeeper
    mkdir -p "$RIG/dns" "$RIG/mail" "$RIG/postfix/etc" "$RIG/postfix/data" "$RIG/tmp"
    chown nobody:nogroup "$RIG/mail"
    chmod 1777 "$RIG/tmp"
    mkdir -p "$RIG/state" && chown mailkeeper: "$RIG/state" # the milter's databases
    trap rig_down EXIT
}

# The DKIM keys of the shared test messages, as a zone (TXT strings of at
# most 255 characters).
rig_dkim_zone() {
    local keys=${MK_SHARED:-$MK_TOP/../shared}/testdata/dkim/mimekit/keys.opendkim-queryfile.txt
    {
        printf '$ORIGIN football.example.com.\n$TTL 300\n'
        printf '@ IN SOA ns1.football.example.com. hostmaster.football.example.com. ( 1 3600 600 86400 300 )\n'
        printf '  IN NS ns1.football.example.com.\nns1 IN A 127.0.0.1\n'
        printf '_dmarc IN TXT "v=DMARC1; p=none"\n'
        [ -f "$keys" ] && grep '\.football\.example\.com[[:space:]]' "$keys" | while read -r name value; do
            printf '%s. IN TXT' "$name"
            while [ -n "$value" ]; do printf ' "%s"' "${value:0:255}"; value=${value:255}; done
            printf '\n'
        done
    } > "$RIG/dns/football.example.com.zone"
}

# Zones a caller wrote to $RIG/dns-extra/NAME.zone are served too.
rig_dns_start() {
    rig_subst "$RIG_SRC/dns/nsd.conf.in" "$RIG/dns/nsd.conf"
    cp "$RIG_SRC"/dns/*.zone "$RIG/dns/"
    rig_dkim_zone
    local z
    for z in "$RIG"/dns-extra/*.zone; do
        [ -f "$z" ] || continue
        cp "$z" "$RIG/dns/"
        printf 'zone:\n    name: "%s"\n    zonefile: "%s"\n' "$(basename "$z" .zone)" "$(basename "$z")" >> "$RIG/dns/nsd.conf"
    done
    $X nsd -d -c "$RIG/dns/nsd.conf" > "$RIG/dns/nsd.out" 2>&1 &
    DNS_PID=$!
    RIG_PIDS+=("$DNS_PID")
    rig_wait_port 53 u
}

rig_dns_stop() {
    rig_stop_pid "$DNS_PID"
    DNS_PID=
}

rig_postfix_start() {
    local etc=$RIG/postfix/etc
    rig_subst "$RIG_SRC/postfix/main.cf.in" "$etc/main.cf"
    rig_subst "$RIG_SRC/postfix/master.cf.in" "$etc/master.cf"
    cp "$RIG_SRC/postfix/vmailbox" "$RIG_SRC/postfix/transport" "$etc/"
    mkdir -p "$RIG/postfix/spool"
    chown postfix "$RIG/postfix/data"
    $X postfix -c "$etc" check >"$RIG/postfix/check.out" 2>&1 || true
    $X postfix -c "$etc" start >/dev/null 2>&1
    rig_wait_port 2525 && rig_wait_port 2527
}

rig_postfix_stop() {
    [ -f "$RIG/postfix/etc/main.cf" ] || return 0
    local pid
    pid=$(cat "$RIG/postfix/spool/pid/master.pid" 2>/dev/null | tr -d ' ')
    $X postfix -c "$RIG/postfix/etc" stop >/dev/null 2>&1 || true
    [ -n "$pid" ] && { rig_wait_gone "$pid" || kill -9 "$pid" 2>/dev/null; }
}

# Writes the milter's configuration for the rig: the test lists, plus the
# lines given on standard input (appended).
rig_milter_conf() {
    local conf=${1:-$RIG/mailkeeper.conf}
    {
        cat <<CONF
[general]
dns_servers = 127.0.0.1:53
dns_timeout = 2s
tmp_dir = $RIG/tmp
state_dir = $RIG/state
log_level = info
[milter]
socket = inet:$MILTER_PORT@127.0.0.1
authserv_id = mx.mk.test
pid_file = $RIG/milter.pid
[scoring]
add_header_score = 5
reject_score = 15
CONF
        cat
    } > "$conf"
}

rig_milter_start() {
    local conf=${1:-$RIG/mailkeeper.conf}
    $X "$MK_MILTER" -f -c "$conf" >> "$RIG/milter.log" 2>&1 &
    MILTER_PID=$!
    RIG_PIDS+=("$MILTER_PID")
    rig_wait_port "$MILTER_PORT"
}

rig_milter_stop() {
    rig_stop_pid "$MILTER_PID"
    MILTER_PID=
}

rig_down() {
    trap - EXIT
    [ -n "${RIG:-}" ] || return 0
    rig_postfix_stop
    for pid in "${RIG_PIDS[@]}"; do rig_stop_pid "$pid"; done
    if ip netns list | grep -qw "$NS"; then
        local left
        left=$(ip netns pids "$NS")
        [ -n "$left" ] && { rig_log "still in $NS: $left"; kill -9 $left 2>/dev/null; sleep 0.2; }
        ip netns del "$NS"
    fi
    rm -rf "/etc/netns/$NS"
    if [ -n "${MK_KEEP_RIG:-}" ]; then rig_log "kept $RIG"; else rm -rf "$RIG"; fi
}

# The delivered file of user (alice, bob) holding TEXT, waiting up to ~10 s.
rig_delivered() {
    local user=$1 text=$2
    for _ in $(seq 1 200); do
        local f
        f=$(grep -lF -- "$text" "$RIG/mail/$user/Maildir/new/"* 2>/dev/null | head -1)
        [ -n "$f" ] && { echo "$f"; return 0; }
        sleep 0.05
    done
    return 1
}

# swaks into the rig's Postfix: rig_send [swaks options...]
rig_send() {
    $X swaks --server 127.0.0.1:2525 --helo client.example --from sender@example.org "$@"
}

# The value of header NAME in FILE, unfolded onto one line (the first one).
rig_header() {
    awk -v want="$(echo "$2" | tr 'A-Z' 'a-z')" '
        /^\r?$/ { exit }
        /^[ \t]/ { if (on) { sub(/^[ \t]+/, " "); v = v $0 }; next }
        { if (on) exit
          i = index($0, ":")
          if (i > 0 && tolower(substr($0, 1, i - 1)) == want) { on = 1; v = substr($0, i + 1); sub(/^ /, "", v) } }
        END { if (on) print v; else exit 1 }' "$1"
}
