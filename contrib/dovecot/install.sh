#!/bin/sh
# install.sh: installs mailkeeper's Dovecot recipe (see mailkeeper-dovecot(7)
# and README.md here): a conf.d file for imap_sieve, the sieve scripts
# (compiled with sievec) and the pipe wrapper.
#
#   sh install.sh [--dovecot-dir /etc/dovecot] [--sieve-dir DIR] [--pipe-dir DIR]
#                 [--junk "Junk Spam"] [--trash Trash] [--learn PATH] [--learnc PATH]
#                 [--config /etc/mailkeeper/mailkeeper.conf] [--domain DOMAIN]
#                 [--group mailkeeper] [--dovecot-conf FILE]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dovecot_dir=/etc/dovecot
sieve_dir=
pipe_dir=
junk="Junk"
trash="Trash"
learn=$(command -v mailkeeper-learn 2>/dev/null || echo /usr/local/bin/mailkeeper-learn)
learnc=
config=/etc/mailkeeper/mailkeeper.conf
domain=
group=mailkeeper
dovecot_conf=
while [ $# -gt 0 ]; do
    case "$1" in
        --dovecot-dir) dovecot_dir=$2 ;;
        --sieve-dir) sieve_dir=$2 ;;
        --pipe-dir) pipe_dir=$2 ;;
        --junk) junk=$2 ;;
        --trash) trash=$2 ;;
        --learn) learn=$2 ;;
        --learnc) learnc=$2 ;;
        --config) config=$2 ;;
        --domain) domain=$2 ;;
        --group) group=$2 ;;
        --dovecot-conf) dovecot_conf=$2 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 64 ;;
    esac
    shift 2
done
: "${sieve_dir:=$dovecot_dir/sieve-mailkeeper}"
: "${dovecot_conf:=$dovecot_dir/dovecot.conf}"
: "${pipe_dir:=$dovecot_dir/sieve-pipe}"
for name in $junk $trash; do
    case "$name" in
        *[\"\\*%]* | "") echo "install.sh: bad folder name '$name'" >&2; exit 64 ;;
    esac
done
# the client of the resident learner (mailkeeper-learn --serve) sits beside
# the learner; the socket is the one the configuration names
: "${learnc:=$(dirname "$learn")/mailkeeper-learnc}"
socket=$("$learn" -c "$config" --socket-path) || { echo "install.sh: $config: no learn socket" >&2; exit 78; }
first_junk=${junk%% *}
# the folders a message moved out of Junk into is not ham in: Trash and Junk folders
not_ham=$(for n in $trash $junk; do printf '"%s", ' "$n"; done | sed 's/, $//')

mkdir -p "$dovecot_dir/conf.d" "$sieve_dir" "$pipe_dir"
cp "$here/mailkeeper-spam.sieve" "$sieve_dir/"
sed "s|@NOT_HAM@|$not_ham|" "$here/mailkeeper-ham.sieve.in" > "$sieve_dir/mailkeeper-ham.sieve"
sed "s|@JUNK@|$first_junk|" "$here/mailkeeper-junk.sieve.in" > "$sieve_dir/mailkeeper-junk.sieve"
sed -e "s|@LEARN@|$learn|" -e "s|@LEARNC@|$learnc|" -e "s|@SOCKET@|$socket|" \
    -e "s|@CONF@|$config|" -e "s|@DOMAIN@|$domain|" \
    "$here/mailkeeper-sieve-learn.in" > "$pipe_dir/mailkeeper-sieve-learn"
chmod 755 "$pipe_dir/mailkeeper-sieve-learn"

conf=$dovecot_dir/conf.d/90-mailkeeper.conf
{
    echo "# mailkeeper: learning from the Junk folder, filing spam into it."
    echo "# Written by mailkeeper's contrib/dovecot/install.sh; see mailkeeper-dovecot(7)."
    echo "protocol imap {"
    echo "  mail_plugins = \$mail_plugins imap_sieve"
    echo "}"
    echo "protocol lmtp {"
    echo "  mail_plugins = \$mail_plugins sieve"
    echo "}"
    echo "protocol lda {"
    echo "  mail_plugins = \$mail_plugins sieve"
    echo "}"
    echo "# the learner writes mailkeeper's store: mail processes get its group"
    echo "mail_access_groups = \$mail_access_groups $group"
    echo "plugin {"
    echo "  sieve_plugins = sieve_imapsieve sieve_extprograms"
    echo "  sieve_global_extensions = +vnd.dovecot.pipe +vnd.dovecot.environment"
    echo "  sieve_pipe_bin_dir = $pipe_dir"
    echo "  # delivery: X-Spam-Flag: YES goes into $first_junk"
    echo "  sieve_before = $sieve_dir/mailkeeper-junk.sieve"
    i=1
    for name in $junk; do
        echo "  # into $name (IMAP MOVE or COPY, or APPEND by a sync tool): spam"
        echo "  imapsieve_mailbox${i}_name = $name"
        echo "  imapsieve_mailbox${i}_causes = COPY APPEND"
        echo "  imapsieve_mailbox${i}_before = file:$sieve_dir/mailkeeper-spam.sieve"
        i=$((i + 1))
        echo "  # out of $name into any folder but Trash: ham"
        echo "  imapsieve_mailbox${i}_name = *"
        echo "  imapsieve_mailbox${i}_from = $name"
        echo "  imapsieve_mailbox${i}_causes = COPY"
        echo "  imapsieve_mailbox${i}_before = file:$sieve_dir/mailkeeper-ham.sieve"
        i=$((i + 1))
    done
    echo "}"
} > "$conf"

# compiled here, as root: the mail user cannot write beside the scripts
for s in spam ham junk; do
    sievec -c "$dovecot_conf" "$sieve_dir/mailkeeper-$s.sieve"
done
echo "installed: $conf, $sieve_dir/mailkeeper-{spam,ham,junk}.sieve(c), $pipe_dir/mailkeeper-sieve-learn"
