# mailkeeper: a message moved, copied or appended into a Junk folder is
# spam: learn it, and its sender goes on the user's block list.
# Run by Dovecot's imapsieve (imapsieve_mailboxN_before), see
# mailkeeper-dovecot(7).
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

if environment :matches "imap.user" "*" {
    set "username" "${1}";
}
pipe :copy "mailkeeper-sieve-learn" ["spam", "${username}"];
