/*
 * mk_config: mailkeeper.conf, the one INI file every program reads (libinih).
 * Every key has a default, so an empty file (or none) works. Unknown sections
 * and keys, bad values and unreadable files are errors naming file, line and
 * key. Sections: [general] (shared), [milter], [scoring], [spf], [dkim],
 * [dmarc], [uri], [scores] (symbol = score overrides), one [rbl:NAME] per
 * DNS block list of client addresses and one [uribl:NAME] per URI list.
 * The keys are documented in doc/mailkeeper.conf.5.
 */
#ifndef MK_CONFIG_H
#define MK_CONFIG_H

#include <stddef.h>

#include "mk_net.h"

#define MK_CONFIG_DEFAULT_PATH SYSCONFDIR "/mailkeeper/mailkeeper.conf"

enum { MK_ON_ERROR_TEMPFAIL, MK_ON_ERROR_ACCEPT };

/* [lists] sender: the From address, or the envelope sender (Return-Path) too. */
enum { MK_LIST_SENDER_FROM, MK_LIST_SENDER_FROM_RETURN_PATH };
/* [lists] friend_action: never marked as spam, or only a (large negative) score. */
enum { MK_FRIEND_SKIP, MK_FRIEND_SCORE };

/* What to do with a message a check condemns (DMARC): only score and
 * report it, force the spam headers, hold it in the MTA's queue, refuse it. */
enum { MK_DISPOSE_REPORT, MK_DISPOSE_SPAM, MK_DISPOSE_HOLD, MK_DISPOSE_REJECT };

/* What one answer address of a block list means. */
typedef struct mk_conf_rbl_return {
    mk_addr addr;
    char *symbol;
    double score;
} mk_conf_rbl_return;

/* One [rbl:NAME] section (a list of client addresses) or [uribl:NAME]
 * (a list of the domains and addresses messages link to). */
typedef struct mk_conf_rbl {
    char *name;
    int line; /* where the section starts, for messages */
    char *zone;
    char *symbol; /* for listed answers not in returns; default RBL_<NAME> */
    double score;
    mk_conf_rbl_return *returns;
    size_t n_returns;
    char *reason;   /* %i what is listed (address, domain), %z zone, %t the list's TXT record */
    int ipv4, ipv6; /* which addresses are looked up (clients; linked addresses) */
    int bitmask;    /* uribl: each returns address names one bit of the answer */
    double temperror_score;
} mk_conf_rbl;

/* One rule of [archive] rules: which messages are kept how long, or not. */
enum { MK_ARCHIVE_RULE_TO, MK_ARCHIVE_RULE_FROM, MK_ARCHIVE_RULE_SUBJECT };
typedef struct mk_conf_archive_rule {
    int field;     /* MK_ARCHIVE_RULE_* */
    char *pattern; /* a glob (fnmatch), matched without regard to case */
    int skip;      /* not archived */
    int years;     /* kept that long */
} mk_conf_archive_rule;

/* One line of [scores]. */
typedef struct mk_conf_score {
    char *symbol;
    double score;
    int line;
} mk_conf_score;

typedef struct mk_config {
    char *path; /* the file read, or "(defaults)" */
    /* [general] */
    char *user;
    int log_level;
    char *dns_servers; /* c-ares CSV form; empty: /etc/resolv.conf */
    long dns_timeout_ms;
    mk_netlist trusted_networks;
    char *local_domains;          /* the domains mail is delivered to here, comma-separated */
    mk_netlist internal_networks; /* clients whose mail is ours (outgoing or internal) */
    char *tmp_dir;
    char *state_dir; /* databases (Bayes, lists, archive index) live under it */
    /* [milter] */
    char *socket;
    char *authserv_id; /* Authentication-Results; default: the host's name */
    char *pid_file;
    int on_error;
    size_t memory_limit;
    /* [scoring] */
    double add_header_score;
    double tempfail_score; /* NAN when off */
    double reject_score;
    char *reject_message;
    int gtube;
    int remove_foreign_headers;
    /* [spf] */
    int spf_enabled;
    /* [dkim] */
    int dkim_enabled;
    size_t dkim_min_key_bits;
    /* [dmarc] */
    int dmarc_enabled;
    int dmarc_on_reject, dmarc_on_quarantine, dmarc_on_bad_from; /* MK_DISPOSE_* */
    int dmarc_honour_pct; /* no: every failing message gets the full policy */
    /* [scores] */
    mk_conf_score *scores;
    size_t n_scores;
    /* [rules] */
    char *rules_paths;   /* SpamAssassin rule files and directories, comma-separated; "" none */
    int rules_prefilter; /* body and rawbody rules behind a vectorscan prefilter */
    /* [lists] */
    int lists_learn;                 /* mailkeeper-learn --user also lists the sender */
    char *lists_recipient_delimiter; /* characters that start a tag: alice+news@ is alice@ */
    int lists_sender;                /* MK_LIST_SENDER_*: whose address learning lists */
    int lists_enabled;               /* the milter honours the lists */
    int lists_friend_action;         /* MK_FRIEND_*: what a friend entry does */
    double lists_friend_score;       /* USER_IN_WELCOMELIST */
    int lists_friend_on_auth_fail;   /* a friend entry counts even when SPF or DMARC fails */
    int lists_block_action;          /* MK_DISPOSE_* */
    double lists_block_score;        /* USER_IN_BLOCKLIST */
    int lists_split_recipients;      /* 452 for recipients whose lists differ from the first's */
    /* [archive] */
    int archive_enabled;                 /* the milter archives what it lets through */
    int archive_rejected;                /* and what it refuses */
    char *archive_dir;                   /* under state_dir unless absolute */
    char *archive_group;                 /* who may use mailkeeper-archive (beside root) */
    char *archive_key_file;              /* "": files not encrypted at rest */
    mk_conf_archive_rule *archive_rules; /* first match decides; none: kept retention_years */
    size_t n_archive_rules;
    size_t archive_retention_years; /* how long a message is kept by default */
    /* [vault] */
    int vault_enabled;        /* the milter diverts outgoing mail with a keyword */
    char *vault_dir;          /* under state_dir unless absolute */
    char *vault_keywords;     /* comma-separated, matched in the Subject without regard to case */
    char *vault_url;          /* the reader's base address: links are URL/m/SECRET */
    size_t vault_expire_days; /* how long a message can be read */
    int vault_notify_sender;  /* the sender gets a copy of the notification, with a revoke link */
    int vault_local_senders; /* a sender of local_domains counts as outgoing, whatever the client */
    /* [webvault] */
    char *webvault_listen;         /* "ADDRESS:PORT" */
    char *webvault_cert_file;      /* PEM certificate (chain) */
    char *webvault_key_file;       /* PEM private key */
    char *webvault_sendmail;       /* the command that sends codes and replies */
    char *webvault_code_from;      /* the sender of the code mails ("": sendmail's own) */
    long webvault_code_ttl_ms;     /* a code's life */
    size_t webvault_max_fails;     /* wrong codes before a lockout */
    long webvault_lockout_ms;      /* how long a lockout lasts */
    long webvault_session_idle_ms; /* a session ends unused this long */
    long webvault_session_max_ms;  /* and this long after it began */
    size_t webvault_max_requests;  /* per client address and minute */
    size_t webvault_max_codes;     /* codes asked per client address and hour */
    /* [bayes] */
    int bayes_enabled;
    char *bayes_database;     /* under state_dir unless absolute */
    char *bayes_learn_socket; /* mailkeeper-learn --serve's; under state_dir unless absolute */
    size_t bayes_min_spam, bayes_min_ham;
    int bayes_per_user;
    int bayes_learn_to;      /* a user's learning trains: 0 the user's store, 1 the global, 2 both,
                                3 (auto) both with per_user, else the global one */
    size_t bayes_max_tokens; /* expiry keeps a store below it; 0: never */
    long bayes_refresh_ms;   /* how often the milter looks for what was learned */
    /* [uri] */
    size_t uri_max_lookups; /* URI list queries per message */
    /* [rbl:NAME] */
    mk_conf_rbl *rbls;
    size_t n_rbls;
    /* [uribl:NAME] */
    mk_conf_rbl *uribls;
    size_t n_uribls;
} mk_config;

/* For the command-line tools: reads path, or without one the default file
 * when it exists (else the embedded defaults), and opens the log (syslog,
 * as prog, at the configured level); every problem is said on stderr,
 * then "PROG: configuration has errors", and NULL returned. */
mk_config *mk_config_load_tool(const char *prog, const char *path);

/* Reads path (NULL: the embedded defaults only). Returns a config to free
 * with mk_config_free(), or NULL with every problem found, one per line as
 * "FILE:LINE: [SECTION] KEY: what is wrong", in err. */
mk_config *mk_config_load(const char *path, char *err, size_t errlen);
/* The same from a string (tests); name stands for the file in messages. */
mk_config *mk_config_load_string(const char *text, const char *name, char *err, size_t errlen);
void mk_config_free(mk_config *cfg);

/* The score configured in [scores] for symbol, or def when none is. */
double mk_config_score(const mk_config *cfg, const char *symbol, double def);

/* Parsers shared with the programs' command lines; 0 or -1. */
int mk_config_parse_double(const char *s, double *out);
int mk_config_parse_bool(const char *s, int *out);
int mk_config_parse_duration_ms(const char *s, long *out);
int mk_config_parse_size(const char *s, size_t *out);

#endif
