/*
 * mk_config: a table of typed keys drives parsing, defaults and checks.
 * Defaults go through the same setters as the file, so they are checked too.
 * inih reads the file through mk_config_reader(), which counts lines (the
 * handler gets no line number) and refuses lines inih would cut short.
 */
#include "config.h"

#include "mk_config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <unistd.h>

#include "mk_log.h"

#define MK_CONF_MAX_LINE 4096

typedef enum {
    MK_CT_STR,
    MK_CT_BOOL,
    MK_CT_DOUBLE,
    MK_CT_DOUBLE_OR_OFF,
    MK_CT_DURATION_MS,
    MK_CT_SIZE,
    MK_CT_LOGLEVEL,
    MK_CT_ON_ERROR,
    MK_CT_DISPOSE,
    MK_CT_CHOICE, /* one of the words of the key's choices, stored as its index */
    MK_CT_NETLIST,
    MK_CT_SERVERS,
    MK_CT_SOCKET,
    MK_CT_PATH,
    MK_CT_DNSNAME,
    MK_CT_SYMBOL,
    MK_CT_RBL_RETURNS,
    MK_CT_ARCHIVE_RULES, /* one rule per line, continuation lines add rules */
} mk_conf_type;

typedef struct mk_conf_key {
    const char *section;
    const char *name;
    mk_conf_type type;
    size_t offset;
    const char *def;     /* NULL: no default (checked at the end where required) */
    const char *choices; /* MK_CT_CHOICE: the words allowed, "|"-separated */
} mk_conf_key;

#define MK_K(sec, key, type, field, def)                                                           \
    {                                                                                              \
        sec, key, type, offsetof(mk_config, field), def, NULL                                      \
    }
#define MK_KC(sec, key, field, def, choices)                                                       \
    {                                                                                              \
        sec, key, MK_CT_CHOICE, offsetof(mk_config, field), def, choices                           \
    }
static const mk_conf_key mk_conf_keys[] = {
    MK_K("general", "user", MK_CT_STR, user, "mailkeeper"),
    MK_K("general", "log_level", MK_CT_LOGLEVEL, log_level, "info"),
    MK_K("general", "dns_servers", MK_CT_SERVERS, dns_servers, ""),
    MK_K("general", "dns_timeout", MK_CT_DURATION_MS, dns_timeout_ms, "5s"),
    MK_K("general", "trusted_networks", MK_CT_NETLIST, trusted_networks, ""),
    MK_K("general", "local_domains", MK_CT_STR, local_domains, ""),
    MK_K("general", "internal_networks", MK_CT_NETLIST, internal_networks, "127.0.0.0/8, ::1/128"),
    MK_K("general", "tmp_dir", MK_CT_PATH, tmp_dir, "/tmp"),
    MK_K("general", "state_dir", MK_CT_PATH, state_dir, LOCALSTATEDIR "/lib/mailkeeper"),
    MK_K("milter", "socket", MK_CT_SOCKET, socket, "inet:8894@127.0.0.1"),
    MK_K("milter", "authserv_id", MK_CT_DNSNAME, authserv_id, "localhost"),
    MK_K("milter", "pid_file", MK_CT_STR, pid_file, ""),
    MK_K("milter", "on_error", MK_CT_ON_ERROR, on_error, "tempfail"),
    MK_K("milter", "memory_limit", MK_CT_SIZE, memory_limit, "1M"),
    MK_K("scoring", "add_header_score", MK_CT_DOUBLE, add_header_score, "5.0"),
    MK_K("scoring", "tempfail_score", MK_CT_DOUBLE_OR_OFF, tempfail_score, "off"),
    MK_K("scoring", "reject_score", MK_CT_DOUBLE, reject_score, "15.0"),
    MK_K("scoring", "reject_message", MK_CT_STR, reject_message, "Message rejected as spam"),
    MK_K("scoring", "gtube", MK_CT_BOOL, gtube, "yes"),
    MK_K("scoring", "remove_foreign_headers", MK_CT_BOOL, remove_foreign_headers, "yes"),
    MK_K("spf", "enabled", MK_CT_BOOL, spf_enabled, "yes"),
    MK_K("dkim", "enabled", MK_CT_BOOL, dkim_enabled, "yes"),
    MK_K("dkim", "min_key_bits", MK_CT_SIZE, dkim_min_key_bits, "1024"),
    MK_K("dmarc", "enabled", MK_CT_BOOL, dmarc_enabled, "yes"),
    MK_K("dmarc", "on_reject", MK_CT_DISPOSE, dmarc_on_reject, "reject"),
    MK_K("dmarc", "on_quarantine", MK_CT_DISPOSE, dmarc_on_quarantine, "spam"),
    MK_K("dmarc", "on_bad_from", MK_CT_DISPOSE, dmarc_on_bad_from, "report"),
    MK_K("dmarc", "honour_pct", MK_CT_BOOL, dmarc_honour_pct, "yes"),
    MK_K("uri", "max_lookups", MK_CT_SIZE, uri_max_lookups, "64"),
    MK_K("rules", "paths", MK_CT_STR, rules_paths, ""),
    MK_K("rules", "prefilter", MK_CT_BOOL, rules_prefilter, "yes"),
    MK_K("lists", "learn", MK_CT_BOOL, lists_learn, "yes"),
    MK_K("lists", "recipient_delimiter", MK_CT_STR, lists_recipient_delimiter, "+"),
    MK_KC("lists", "sender", lists_sender, "from", "from|from+return-path"),
    MK_K("lists", "enabled", MK_CT_BOOL, lists_enabled, "yes"),
    MK_KC("lists", "friend_action", lists_friend_action, "skip", "skip|score"),
    MK_K("lists", "friend_score", MK_CT_DOUBLE, lists_friend_score, "-100"),
    MK_K("lists", "friend_on_auth_fail", MK_CT_BOOL, lists_friend_on_auth_fail, "no"),
    MK_K("lists", "block_action", MK_CT_DISPOSE, lists_block_action, "reject"),
    MK_K("lists", "block_score", MK_CT_DOUBLE, lists_block_score, "100"),
    MK_K("lists", "split_recipients", MK_CT_BOOL, lists_split_recipients, "yes"),
    MK_K("archive", "enabled", MK_CT_BOOL, archive_enabled, "no"),
    MK_K("archive", "rejected", MK_CT_BOOL, archive_rejected, "no"),
    MK_K("archive", "directory", MK_CT_STR, archive_dir, "archive"),
    MK_K("archive", "group", MK_CT_STR, archive_group, "mailkeeper-archive"),
    MK_K("archive", "key_file", MK_CT_STR, archive_key_file, ""),
    MK_K("archive", "rules", MK_CT_ARCHIVE_RULES, archive_rules, ""),
    MK_K("archive", "retention_years", MK_CT_SIZE, archive_retention_years, "7"),
    MK_K("vault", "enabled", MK_CT_BOOL, vault_enabled, "no"),
    MK_K("vault", "directory", MK_CT_STR, vault_dir, "vault"),
    MK_K("vault", "keywords", MK_CT_STR, vault_keywords, "[Secure]"),
    MK_K("vault", "url", MK_CT_STR, vault_url, "https://localhost:8443/"),
    MK_K("vault", "expire_days", MK_CT_SIZE, vault_expire_days, "30"),
    MK_K("vault", "notify_sender", MK_CT_BOOL, vault_notify_sender, "yes"),
    MK_K("vault", "local_senders", MK_CT_BOOL, vault_local_senders, "no"),
    MK_K("webvault", "listen", MK_CT_STR, webvault_listen, "0.0.0.0:8443"),
    MK_K("webvault", "cert_file", MK_CT_STR, webvault_cert_file,
         SYSCONFDIR "/mailkeeper/webvault.crt"),
    MK_K("webvault", "key_file", MK_CT_STR, webvault_key_file,
         SYSCONFDIR "/mailkeeper/webvault.key"),
    MK_K("webvault", "sendmail", MK_CT_STR, webvault_sendmail, "/usr/sbin/sendmail"),
    MK_K("webvault", "code_from", MK_CT_STR, webvault_code_from, ""),
    MK_K("webvault", "code_ttl", MK_CT_DURATION_MS, webvault_code_ttl_ms, "15m"),
    MK_K("webvault", "max_fails", MK_CT_SIZE, webvault_max_fails, "5"),
    MK_K("webvault", "lockout", MK_CT_DURATION_MS, webvault_lockout_ms, "30m"),
    MK_K("webvault", "session_idle", MK_CT_DURATION_MS, webvault_session_idle_ms, "15m"),
    MK_K("webvault", "session_max", MK_CT_DURATION_MS, webvault_session_max_ms, "8h"),
    MK_K("webvault", "max_requests", MK_CT_SIZE, webvault_max_requests, "300"),
    MK_K("webvault", "max_codes", MK_CT_SIZE, webvault_max_codes, "10"),
    MK_K("bayes", "enabled", MK_CT_BOOL, bayes_enabled, "yes"),
    MK_K("bayes", "database", MK_CT_STR, bayes_database, "bayes.db"),
    MK_K("bayes", "min_spam", MK_CT_SIZE, bayes_min_spam, "200"),
    MK_K("bayes", "min_ham", MK_CT_SIZE, bayes_min_ham, "200"),
    MK_K("bayes", "per_user", MK_CT_BOOL, bayes_per_user, "no"),
    MK_KC("bayes", "learn_to", bayes_learn_to, "auto", "user|global|both|auto"),
    MK_K("bayes", "max_tokens", MK_CT_SIZE, bayes_max_tokens, "300000"),
    MK_K("bayes", "refresh", MK_CT_DURATION_MS, bayes_refresh_ms, "10s"),
    MK_K("bayes", "learn_socket", MK_CT_STR, bayes_learn_socket, "learn.sock"),
};
#undef MK_K
#undef MK_KC

/* The keys of [rbl:NAME] and [uribl:NAME]: section "" is both kinds. */
#define MK_R(kind, key, type, field, def)                                                          \
    {                                                                                              \
        kind, key, type, offsetof(mk_conf_rbl, field), def, NULL                                   \
    }
static const mk_conf_key mk_conf_rbl_keys[] = {
    MK_R("", "zone", MK_CT_DNSNAME, zone, NULL),
    MK_R("", "symbol", MK_CT_SYMBOL, symbol, NULL),
    MK_R("", "score", MK_CT_DOUBLE, score, "3.0"),
    MK_R("", "returns", MK_CT_RBL_RETURNS, returns, ""),
    MK_R("rbl:", "reason", MK_CT_STR, reason, "Client address %i is listed in %z"),
    MK_R("uribl:", "reason", MK_CT_STR, reason, "The message links to %i, listed in %z"),
    MK_R("", "ipv4", MK_CT_BOOL, ipv4, "yes"),
    MK_R("rbl:", "ipv6", MK_CT_BOOL, ipv6, "yes"),
    MK_R("uribl:", "ipv6", MK_CT_BOOL, ipv6, "no"),
    MK_R("uribl:", "bitmask", MK_CT_BOOL, bitmask, "no"),
    MK_R("", "temperror_score", MK_CT_DOUBLE, temperror_score, "0.0"),
};
#undef MK_R

#define MK_N_KEYS     (sizeof(mk_conf_keys) / sizeof(mk_conf_keys[0]))
#define MK_N_RBL_KEYS (sizeof(mk_conf_rbl_keys) / sizeof(mk_conf_rbl_keys[0]))

/* Parser state for one load. */
typedef struct mk_conf_state {
    mk_config *cfg;
    const char *name; /* file name for messages */
    FILE *fp;
    const char *text; /* or a string */
    int line;
    int section_line;        /* line of the last [section] header */
    int key_line[MK_N_KEYS]; /* where each key was set, 0 if not */
    int *rbl_key_line;       /* n_rbls x MK_N_RBL_KEYS */
    int *uribl_key_line;     /* n_uribls x MK_N_RBL_KEYS */
    char last_section[128];
    char last_key[64];
    int last_line;
    char *err;
    size_t errlen, erroff;
    int nerr;
} mk_conf_state;

static void mk_conf_error(mk_conf_state *st, int line, const char *section, const char *key,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void mk_conf_error(mk_conf_state *st, int line, const char *section, const char *key,
                          const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st->nerr++;
    if (st->nerr > 20 || st->erroff + 1 >= st->errlen)
        return;
    int n;
    if (line > 0)
        n = snprintf(st->err + st->erroff, st->errlen - st->erroff, "%s%s:%d: [%s] %s: %s",
                     st->erroff ? "\n" : "", st->name, line, section, key, msg);
    else
        n = snprintf(st->err + st->erroff, st->errlen - st->erroff, "%s%s: [%s] %s: %s",
                     st->erroff ? "\n" : "", st->name, section, key, msg);
    if (n > 0)
        st->erroff += (size_t)n < st->errlen - st->erroff ? (size_t)n : st->errlen - st->erroff - 1;
}

int mk_config_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

int mk_config_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* "250ms", "5s", "2m", "1h"; a bare number is seconds. */
int mk_config_parse_duration_ms(const char *s, long *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || v < 0 || !isfinite(v))
        return -1;
    double mul;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else if (strcmp(end, "d") == 0)
        mul = 86400000;
    else
        return -1;
    if (v * mul > 1e12)
        return -1;
    *out = (long)(v * mul);
    return 0;
}

/* "4096", "512K", "1M", "2G" (powers of 1024). */
int mk_config_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024ULL;
    else if (*end == 'm' || *end == 'M')
        mul = 1024ULL * 1024;
    else if (*end == 'g' || *end == 'G')
        mul = 1024ULL * 1024 * 1024;
    else if (*end != '\0')
        return -1;
    if (*end != '\0' && end[1] != '\0' && strcasecmp(end + 1, "B") != 0)
        return -1;
    if (v > (unsigned long long)SIZE_MAX / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

static int mk_conf_is_symbol(const char *s)
{
    if (*s == '\0' || strlen(s) > 63)
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static int mk_conf_is_dnsname(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253)
        return 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

/* libmilter's forms: inet:PORT[@HOST], inet6:PORT[@HOST], unix:PATH, local:PATH. */
static int mk_conf_check_socket(const char *s, char *why, size_t len)
{
    const char *rest;
    if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
        rest = strchr(s, ':') + 1;
        if (rest[0] != '/') {
            snprintf(why, len, "a unix socket needs an absolute path (unix:/run/...)");
            return -1;
        }
        return 0;
    }
    if (strncmp(s, "inet:", 5) == 0)
        rest = s + 5;
    else if (strncmp(s, "inet6:", 6) == 0)
        rest = s + 6;
    else {
        snprintf(why, len, "expected inet:PORT@HOST, inet6:PORT@HOST or unix:PATH");
        return -1;
    }
    char *end;
    errno = 0;
    long port = strtol(rest, &end, 10);
    if (errno != 0 || end == rest || port < 1 || port > 65535 || (*end != '\0' && *end != '@') ||
        (*end == '@' && end[1] == '\0')) {
        snprintf(why, len, "expected inet:PORT@HOST with a port from 1 to 65535");
        return -1;
    }
    return 0;
}

static void mk_conf_replace_str(char **slot, const char *value)
{
    char *dup = strdup(value);
    if (dup == NULL)
        return;
    free(*slot);
    *slot = dup;
}

/* "127.0.0.2 = SYMBOL:score, 127.0.0.4 = SYMBOL2:score" appended to the list. */
static int mk_conf_rbl_returns(mk_conf_rbl *rbl, const char *text, char *why, size_t len)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return -1;
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        if (*item == '\0')
            continue;
        char *eq = strchr(item, '=');
        char *colon = eq ? strchr(eq, ':') : NULL;
        if (eq == NULL || colon == NULL) {
            snprintf(why, len, "'%s' is not ADDRESS = SYMBOL:SCORE", item);
            rc = -1;
            break;
        }
        *eq = '\0';
        *colon = '\0';
        char *addr = item, *sym = eq + 1, *score = colon + 1;
        for (char *e = eq - 1; e >= addr && isspace((unsigned char)*e); e--)
            *e = '\0';
        while (isspace((unsigned char)*sym))
            sym++;
        for (char *e = colon - 1; e >= sym && isspace((unsigned char)*e); e--)
            *e = '\0';
        while (isspace((unsigned char)*score))
            score++;
        for (char *e = score + strlen(score) - 1; e >= score && isspace((unsigned char)*e); e--)
            *e = '\0';
        mk_conf_rbl_return r;
        memset(&r, 0, sizeof(r));
        if (mk_net_parse_addr(addr, &r.addr) != 0 || r.addr.family != AF_INET ||
            r.addr.bytes[0] != 127) {
            snprintf(why, len, "'%s' is not an answer address in 127.0.0.0/8", addr);
            rc = -1;
            break;
        }
        if (!mk_conf_is_symbol(sym)) {
            snprintf(why, len, "'%s' is not a symbol name (letters, digits, _)", sym);
            rc = -1;
            break;
        }
        if (mk_config_parse_double(score, &r.score) != 0) {
            snprintf(why, len, "'%s' is not a score", score);
            rc = -1;
            break;
        }
        mk_conf_rbl_return *grown = realloc(rbl->returns, (rbl->n_returns + 1) * sizeof(*grown));
        r.symbol = strdup(sym);
        if (grown == NULL || r.symbol == NULL) {
            free(r.symbol);
            if (grown != NULL)
                rbl->returns = grown;
            rc = -1;
            break;
        }
        rbl->returns = grown;
        rbl->returns[rbl->n_returns++] = r;
    }
    free(copy);
    return rc;
}

/* Stores value into the field at base + key->offset; 0, or -1 with why. */
static int mk_conf_set(const mk_conf_key *key, void *base, const char *value, int append, char *why,
                       size_t len)
{
    void *field = (char *)base + key->offset;
    switch (key->type) {
    case MK_CT_STR:
        mk_conf_replace_str(field, value);
        return 0;
    case MK_CT_PATH:
        if (value[0] != '/') {
            snprintf(why, len, "'%s' is not an absolute path", value);
            return -1;
        }
        mk_conf_replace_str(field, value);
        return 0;
    case MK_CT_DNSNAME:
        if (!mk_conf_is_dnsname(value)) {
            snprintf(why, len, "'%s' is not a DNS name", value);
            return -1;
        }
        mk_conf_replace_str(field, value);
        return 0;
    case MK_CT_SYMBOL:
        if (!mk_conf_is_symbol(value)) {
            snprintf(why, len, "'%s' is not a symbol name (letters, digits, _)", value);
            return -1;
        }
        mk_conf_replace_str(field, value);
        return 0;
    case MK_CT_BOOL:
        if (mk_config_parse_bool(value, field) != 0) {
            snprintf(why, len, "'%s' is not yes or no", value);
            return -1;
        }
        return 0;
    case MK_CT_DOUBLE:
        if (mk_config_parse_double(value, field) != 0) {
            snprintf(why, len, "'%s' is not a number", value);
            return -1;
        }
        return 0;
    case MK_CT_DOUBLE_OR_OFF:
        if (strcasecmp(value, "off") == 0 || strcasecmp(value, "no") == 0) {
            *(double *)field = NAN;
            return 0;
        }
        if (mk_config_parse_double(value, field) != 0) {
            snprintf(why, len, "'%s' is not a number or off", value);
            return -1;
        }
        return 0;
    case MK_CT_DURATION_MS:
        if (mk_config_parse_duration_ms(value, field) != 0) {
            snprintf(why, len, "'%s' is not a duration (500ms, 5s, 2m)", value);
            return -1;
        }
        return 0;
    case MK_CT_SIZE:
        if (mk_config_parse_size(value, field) != 0) {
            snprintf(why, len, "'%s' is not a size (65536, 512K, 1M)", value);
            return -1;
        }
        return 0;
    case MK_CT_LOGLEVEL: {
        int level = mk_log_level_parse(value);
        if (level < 0) {
            snprintf(why, len, "'%s' is not one of err, warning, notice, info, debug", value);
            return -1;
        }
        *(int *)field = level;
        return 0;
    }
    case MK_CT_ON_ERROR:
        if (strcasecmp(value, "tempfail") == 0)
            *(int *)field = MK_ON_ERROR_TEMPFAIL;
        else if (strcasecmp(value, "accept") == 0)
            *(int *)field = MK_ON_ERROR_ACCEPT;
        else {
            snprintf(why, len, "'%s' is not tempfail or accept", value);
            return -1;
        }
        return 0;
    case MK_CT_DISPOSE: {
        static const char *const names[] = {"report", "spam", "hold", "reject"};
        for (int i = 0; i < 4; i++)
            if (strcasecmp(value, names[i]) == 0) {
                *(int *)field = i;
                return 0;
            }
        snprintf(why, len, "'%s' is not one of reject, hold, spam, report", value);
        return -1;
    }
    case MK_CT_CHOICE: {
        size_t vlen = strlen(value);
        int i = 0;
        for (const char *c = key->choices; *c != '\0'; i++) {
            size_t n = strcspn(c, "|");
            if (n == vlen && strncasecmp(c, value, n) == 0) {
                *(int *)field = i;
                return 0;
            }
            c += n + (c[n] == '|');
        }
        snprintf(why, len, "'%s' is not one of %s", value, key->choices);
        return -1;
    }
    case MK_CT_NETLIST: {
        mk_netlist *list = field;
        mk_netlist add = {NULL, 0};
        if (mk_net_list_parse(value, &add, why, len) != 0)
            return -1;
        if (!append) {
            mk_net_list_free(list);
            *list = add;
            return 0;
        }
        mk_cidr *grown = realloc(list->nets, (list->n + add.n) * sizeof(*grown));
        if (grown == NULL && list->n + add.n > 0) {
            mk_net_list_free(&add);
            return -1;
        }
        if (add.n > 0)
            memcpy(grown + list->n, add.nets, add.n * sizeof(*grown));
        list->nets = grown;
        list->n += add.n;
        mk_net_list_free(&add);
        return 0;
    }
    case MK_CT_SERVERS: {
        char csv[1024];
        if (mk_net_servers_parse(value, csv, sizeof(csv), why, len) != 0)
            return -1;
        if (append && **(char **)field != '\0' && csv[0] != '\0') {
            char both[2048];
            snprintf(both, sizeof(both), "%s,%s", *(char **)field, csv);
            mk_conf_replace_str(field, both);
        } else if (!append || csv[0] != '\0') {
            mk_conf_replace_str(field, csv);
        }
        return 0;
    }
    case MK_CT_SOCKET:
        if (mk_conf_check_socket(value, why, len) != 0)
            return -1;
        mk_conf_replace_str(field, value);
        return 0;
    case MK_CT_ARCHIVE_RULES: {
        mk_config *cfg = base;
        if (!append) {
            for (size_t i = 0; i < cfg->n_archive_rules; i++)
                free(cfg->archive_rules[i].pattern);
            cfg->n_archive_rules = 0;
        }
        if (*value == '\0')
            return 0;
        /* FIELD:PATTERN skip | FIELD:PATTERN keep N[y] */
        char fname[16], pattern[512], action[16], years[16] = "";
        int n = sscanf(value, "%15[a-z]:%511s %15s %15s", fname, pattern, action, years);
        mk_conf_archive_rule r = {0};
        char *end = NULL;
        if (n >= 3 && strcmp(fname, "to") == 0)
            r.field = MK_ARCHIVE_RULE_TO;
        else if (n >= 3 && strcmp(fname, "from") == 0)
            r.field = MK_ARCHIVE_RULE_FROM;
        else if (n >= 3 && strcmp(fname, "subject") == 0)
            r.field = MK_ARCHIVE_RULE_SUBJECT;
        else {
            snprintf(why, len,
                     "'%s' is not FIELD:PATTERN skip|keep YEARS (FIELD: to, from, subject)", value);
            return -1;
        }
        if (strcmp(action, "skip") == 0 && n == 3) {
            r.skip = 1;
        } else if (strcmp(action, "keep") == 0 && n == 4 &&
                   (r.years = (int)strtol(years, &end, 10)) > 0 && r.years <= 100 &&
                   (*end == '\0' || strcmp(end, "y") == 0)) {
        } else {
            snprintf(why, len, "'%s': the action is 'skip' or 'keep YEARS' (1 to 100)", value);
            return -1;
        }
        mk_conf_archive_rule *grown =
            realloc(cfg->archive_rules, (cfg->n_archive_rules + 1) * sizeof(*grown));
        r.pattern = strdup(pattern);
        if (grown == NULL || r.pattern == NULL) {
            free(r.pattern);
            if (grown != NULL)
                cfg->archive_rules = grown;
            return -1;
        }
        cfg->archive_rules = grown;
        cfg->archive_rules[cfg->n_archive_rules++] = r;
        return 0;
    }
    case MK_CT_RBL_RETURNS: {
        mk_conf_rbl *rbl = base;
        if (!append) {
            for (size_t i = 0; i < rbl->n_returns; i++)
                free(rbl->returns[i].symbol);
            rbl->n_returns = 0;
        }
        return mk_conf_rbl_returns(rbl, value, why, len);
    }
    }
    return -1;
}

static int mk_conf_type_appends(mk_conf_type t)
{
    return t == MK_CT_NETLIST || t == MK_CT_SERVERS || t == MK_CT_RBL_RETURNS ||
           t == MK_CT_ARCHIVE_RULES;
}

/* Whether key belongs to sections of kind ("rbl:" or "uribl:"). */
static int mk_conf_rbl_key_of(const mk_conf_key *key, const char *kind)
{
    return key->section[0] == '\0' || strcmp(key->section, kind) == 0;
}

/* The lists of one kind, their count and the lines their keys were set on. */
typedef struct mk_conf_lists {
    const char *kind; /* "rbl:", "uribl:" */
    mk_conf_rbl **lists;
    size_t *n;
    int **key_line; /* n x MK_N_RBL_KEYS */
} mk_conf_lists;

static mk_conf_lists mk_conf_lists_of(mk_conf_state *st, int uri)
{
    mk_config *cfg = st->cfg;
    return uri ? (mk_conf_lists){"uribl:", &cfg->uribls, &cfg->n_uribls, &st->uribl_key_line}
               : (mk_conf_lists){"rbl:", &cfg->rbls, &cfg->n_rbls, &st->rbl_key_line};
}

static mk_conf_rbl *mk_conf_rbl_get(mk_conf_state *st, mk_conf_lists l, const char *name)
{
    for (size_t i = 0; i < *l.n; i++)
        if (strcmp((*l.lists)[i].name, name) == 0)
            return &(*l.lists)[i];
    mk_conf_rbl *grown = realloc(*l.lists, (*l.n + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    *l.lists = grown;
    int *lines = realloc(*l.key_line, (*l.n + 1) * MK_N_RBL_KEYS * sizeof(int));
    if (lines == NULL)
        return NULL;
    *l.key_line = lines;
    memset(lines + *l.n * MK_N_RBL_KEYS, 0, MK_N_RBL_KEYS * sizeof(int));
    mk_conf_rbl *rbl = &grown[(*l.n)++];
    memset(rbl, 0, sizeof(*rbl));
    rbl->name = strdup(name);
    rbl->line = st->section_line ? st->section_line : st->line;
    char why[256];
    for (size_t k = 0; k < MK_N_RBL_KEYS; k++)
        if (mk_conf_rbl_keys[k].def != NULL && mk_conf_rbl_key_of(&mk_conf_rbl_keys[k], l.kind))
            mk_conf_set(&mk_conf_rbl_keys[k], rbl, mk_conf_rbl_keys[k].def, 0, why, sizeof(why));
    return rbl;
}

/* One key of an [rbl:NAME] or [uribl:NAME] section: 1, or 0 after an error. */
static int mk_conf_rbl_handler(mk_conf_state *st, mk_conf_lists l, const char *section,
                               const char *name, const char *value, int cont)
{
    char why[512];
    const char *lname = section + strlen(l.kind);
    if (!mk_conf_is_symbol(lname)) {
        mk_conf_error(st, st->line, section, name,
                      "list name '%s' may hold only letters, digits and _", lname);
        return 0;
    }
    mk_conf_rbl *rbl = mk_conf_rbl_get(st, l, lname);
    if (rbl == NULL)
        return 0;
    size_t idx = (size_t)(rbl - *l.lists);
    for (size_t k = 0; k < MK_N_RBL_KEYS; k++) {
        const mk_conf_key *key = &mk_conf_rbl_keys[k];
        if (strcmp(key->name, name) != 0 || !mk_conf_rbl_key_of(key, l.kind))
            continue;
        int *seen = &(*l.key_line)[idx * MK_N_RBL_KEYS + k];
        if (*seen && !(cont && mk_conf_type_appends(key->type))) {
            mk_conf_error(st, st->line, section, name, "set twice (first on line %d)", *seen);
            return 0;
        }
        if (!*seen)
            *seen = st->line;
        if (mk_conf_set(key, rbl, value, cont, why, sizeof(why)) != 0) {
            mk_conf_error(st, st->line, section, name, "%s", why);
            return 0;
        }
        return 1;
    }
    mk_conf_error(st, st->line, section, name, "unknown key");
    return 0;
}

static int mk_conf_handler(void *user, const char *section, const char *name, const char *value)
{
    mk_conf_state *st = user;
    char why[512];
    int cont = strcmp(section, st->last_section) == 0 && strcmp(name, st->last_key) == 0 &&
               st->last_line == st->line - 1;
    snprintf(st->last_section, sizeof(st->last_section), "%s", section);
    snprintf(st->last_key, sizeof(st->last_key), "%s", name);
    st->last_line = st->line;

    if (strncmp(section, "rbl:", 4) == 0)
        return mk_conf_rbl_handler(st, mk_conf_lists_of(st, 0), section, name, value, cont);
    if (strncmp(section, "uribl:", 6) == 0)
        return mk_conf_rbl_handler(st, mk_conf_lists_of(st, 1), section, name, value, cont);
    if (strcmp(section, "scores") == 0) {
        mk_config *cfg = st->cfg;
        double score;
        if (!mk_conf_is_symbol(name)) {
            mk_conf_error(st, st->line, section, name, "not a symbol name (letters, digits, _)");
            return 0;
        }
        if (mk_config_parse_double(value, &score) != 0) {
            mk_conf_error(st, st->line, section, name, "'%s' is not a number", value);
            return 0;
        }
        for (size_t i = 0; i < cfg->n_scores; i++)
            if (strcmp(cfg->scores[i].symbol, name) == 0) {
                mk_conf_error(st, st->line, section, name, "set twice (first on line %d)",
                              cfg->scores[i].line);
                return 0;
            }
        mk_conf_score *grown = realloc(cfg->scores, (cfg->n_scores + 1) * sizeof(*grown));
        if (grown == NULL)
            return 0;
        cfg->scores = grown;
        cfg->scores[cfg->n_scores].symbol = strdup(name);
        cfg->scores[cfg->n_scores].score = score;
        cfg->scores[cfg->n_scores].line = st->line;
        cfg->n_scores++;
        return 1;
    }
    int known_section = 0;
    for (size_t k = 0; k < MK_N_KEYS; k++) {
        const mk_conf_key *key = &mk_conf_keys[k];
        if (strcmp(key->section, section) != 0)
            continue;
        known_section = 1;
        if (strcmp(key->name, name) != 0)
            continue;
        if (st->key_line[k] && !(cont && mk_conf_type_appends(key->type))) {
            mk_conf_error(st, st->line, section, name, "set twice (first on line %d)",
                          st->key_line[k]);
            return 0;
        }
        if (!st->key_line[k])
            st->key_line[k] = st->line;
        if (mk_conf_set(key, st->cfg, value, cont, why, sizeof(why)) != 0) {
            mk_conf_error(st, st->line, section, name, "%s", why);
            return 0;
        }
        return 1;
    }
    if (!known_section)
        mk_conf_error(st, st->line, section, name,
                      section[0] ? "unknown section" : "key outside any [section]");
    else
        mk_conf_error(st, st->line, section, name, "unknown key");
    return 0;
}

/* fgets-style reader for inih that counts lines and refuses overlong ones. */
static char *mk_config_reader(char *str, int num, void *stream)
{
    mk_conf_state *st = stream;
    char line[MK_CONF_MAX_LINE + 2];
    size_t n = 0;
    if (st->fp != NULL) {
        if (fgets(line, sizeof(line), st->fp) == NULL)
            return NULL;
        n = strlen(line);
        if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
            int c;
            while ((c = fgetc(st->fp)) != EOF && c != '\n')
                ;
        }
    } else {
        if (*st->text == '\0')
            return NULL;
        const char *nl = strchr(st->text, '\n');
        n = nl ? (size_t)(nl - st->text) + 1 : strlen(st->text);
        size_t copy = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
        memcpy(line, st->text, copy);
        line[copy] = '\0';
        st->text += n;
        n = copy;
    }
    st->line++;
    const char *first = line;
    while (*first == ' ' || *first == '\t')
        first++;
    if (*first == '[')
        st->section_line = st->line;
    if (n >= (size_t)num - 1 || n > MK_CONF_MAX_LINE) {
        mk_conf_error(st, st->line, "-", "-",
                      "line longer than %d characters; continue a list on indented lines",
                      num - 3 < MK_CONF_MAX_LINE ? num - 3 : MK_CONF_MAX_LINE);
        snprintf(str, (size_t)num, "; overlong line dropped\n");
        return str;
    }
    memcpy(str, line, n + 1);
    return str;
}

/* The line where [section] key was set, 0 when it has its default. */
static int mk_conf_key_line(const mk_conf_state *st, const char *section, const char *name)
{
    for (size_t k = 0; k < MK_N_KEYS; k++)
        if (strcmp(mk_conf_keys[k].section, section) == 0 &&
            strcmp(mk_conf_keys[k].name, name) == 0)
            return st->key_line[k];
    return 0;
}

static void mk_conf_finish(mk_conf_state *st)
{
    mk_config *cfg = st->cfg;
    for (int uri = 0; uri < 2; uri++) {
        mk_conf_lists l = mk_conf_lists_of(st, uri);
        for (size_t i = 0; i < *l.n; i++) {
            mk_conf_rbl *rbl = &(*l.lists)[i];
            char section[80];
            snprintf(section, sizeof(section), "%s%s", l.kind, rbl->name);
            if (rbl->zone == NULL)
                mk_conf_error(st, rbl->line, section, "zone", "missing: a list needs its DNS zone");
            if (rbl->symbol == NULL) {
                char sym[80];
                snprintf(sym, sizeof(sym), "%s_%s", uri ? "URIBL" : "RBL", rbl->name);
                for (char *p = sym; *p; p++)
                    *p = (char)toupper((unsigned char)*p);
                rbl->symbol = strdup(sym);
            }
            if (!uri && !rbl->ipv4 && !rbl->ipv6)
                mk_conf_error(st, rbl->line, section, "ipv4", "ipv4 and ipv6 are both off");
            /* a bit mask answer names each bit once: 127.0.0.2, .4, .8 ... */
            for (size_t r = 0; uri && rbl->bitmask && r < rbl->n_returns; r++) {
                const unsigned char *b = rbl->returns[r].addr.bytes;
                if (b[1] != 0 || b[2] != 0 || b[3] == 0 || (b[3] & (b[3] - 1)) != 0)
                    mk_conf_error(st, rbl->line, section, "returns",
                                  "with bitmask = yes each answer must be 127.0.0.N with N one "
                                  "bit (2, 4, 8, ..., 128); %d.%d.%d.%d is not",
                                  b[0], b[1], b[2], b[3]);
            }
        }
    }
    if (mk_conf_key_line(st, "milter", "authserv_id") == 0) {
        char host[256];
        if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0' && mk_conf_is_dnsname(host)) {
            host[sizeof(host) - 1] = '\0';
            mk_conf_replace_str(&cfg->authserv_id, host);
        }
    }
    if (!isnan(cfg->tempfail_score) && cfg->tempfail_score >= cfg->reject_score)
        mk_conf_error(st, mk_conf_key_line(st, "scoring", "tempfail_score"), "scoring",
                      "tempfail_score", "must be below reject_score (%.2f)", cfg->reject_score);
    if (cfg->add_header_score > cfg->reject_score)
        mk_conf_error(st, mk_conf_key_line(st, "scoring", "add_header_score"), "scoring",
                      "add_header_score", "must not be above reject_score (%.2f)",
                      cfg->reject_score);
    if (cfg->dns_timeout_ms < 10)
        mk_conf_error(st, mk_conf_key_line(st, "general", "dns_timeout"), "general", "dns_timeout",
                      "must be at least 10ms");
}

static mk_config *mk_conf_new_defaults(void)
{
    mk_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return NULL;
    char why[256];
    for (size_t k = 0; k < MK_N_KEYS; k++)
        if (mk_conf_set(&mk_conf_keys[k], cfg, mk_conf_keys[k].def, 0, why, sizeof(why)) != 0) {
            mk_config_free(cfg);
            return NULL;
        }
    return cfg;
}

static mk_config *mk_conf_run(mk_conf_state *st)
{
    int rc = ini_parse_stream(mk_config_reader, st, mk_conf_handler, st);
    if (rc > 0 && st->nerr == 0)
        mk_conf_error(st, rc, "-", "-", "syntax error (expected [section] or key = value)");
    mk_conf_finish(st);
    free(st->rbl_key_line);
    free(st->uribl_key_line);
    if (st->nerr > 0) {
        mk_config_free(st->cfg);
        return NULL;
    }
    return st->cfg;
}

mk_config *mk_config_load_string(const char *text, const char *name, char *err, size_t errlen)
{
    mk_conf_state st;
    memset(&st, 0, sizeof(st));
    st.cfg = mk_conf_new_defaults();
    st.name = name;
    st.text = text;
    st.err = err;
    st.errlen = errlen;
    err[0] = '\0';
    if (st.cfg == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st.cfg->path = strdup(name);
    return mk_conf_run(&st);
}

mk_config *mk_config_load(const char *path, char *err, size_t errlen)
{
    if (path == NULL) {
        mk_config *cfg = mk_config_load_string("", "(defaults)", err, errlen);
        return cfg;
    }
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    mk_conf_state st;
    memset(&st, 0, sizeof(st));
    st.cfg = mk_conf_new_defaults();
    st.name = path;
    st.fp = fp;
    st.err = err;
    st.errlen = errlen;
    err[0] = '\0';
    if (st.cfg == NULL) {
        fclose(fp);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st.cfg->path = strdup(path);
    mk_config *cfg = mk_conf_run(&st);
    if (ferror(fp) && cfg != NULL) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        mk_config_free(cfg);
        cfg = NULL;
    }
    fclose(fp);
    return cfg;
}

void mk_config_free(mk_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t k = 0; k < MK_N_KEYS; k++) {
        void *field = (char *)cfg + mk_conf_keys[k].offset;
        mk_conf_type t = mk_conf_keys[k].type;
        if (t == MK_CT_NETLIST)
            mk_net_list_free(field);
        else if (t == MK_CT_STR || t == MK_CT_PATH || t == MK_CT_SERVERS || t == MK_CT_SOCKET ||
                 t == MK_CT_DNSNAME || t == MK_CT_SYMBOL)
            free(*(char **)field);
    }
    for (size_t i = 0; i < cfg->n_archive_rules; i++)
        free(cfg->archive_rules[i].pattern);
    free(cfg->archive_rules);
    mk_conf_rbl *lists[2] = {cfg->rbls, cfg->uribls};
    size_t n[2] = {cfg->n_rbls, cfg->n_uribls};
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < n[l]; i++) {
            mk_conf_rbl *r = &lists[l][i];
            free(r->name);
            free(r->zone);
            free(r->symbol);
            free(r->reason);
            for (size_t j = 0; j < r->n_returns; j++)
                free(r->returns[j].symbol);
            free(r->returns);
        }
        free(lists[l]);
    }
    for (size_t i = 0; i < cfg->n_scores; i++)
        free(cfg->scores[i].symbol);
    free(cfg->scores);
    free(cfg->path);
    free(cfg);
}

double mk_config_score(const mk_config *cfg, const char *symbol, double def)
{
    for (size_t i = 0; i < cfg->n_scores; i++)
        if (strcmp(cfg->scores[i].symbol, symbol) == 0)
            return cfg->scores[i].score;
    return def;
}

mk_config *mk_config_load_tool(const char *prog, const char *path)
{
    if (path == NULL && access(MK_CONFIG_DEFAULT_PATH, F_OK) == 0)
        path = MK_CONFIG_DEFAULT_PATH;
    char err[4096];
    mk_config *cfg = mk_config_load(path, err, sizeof(err));
    if (cfg == NULL)
        fprintf(stderr, "%s\n%s: configuration has errors\n", err, prog);
    else
        mk_log_open(prog, 0, cfg->log_level);
    return cfg;
}
