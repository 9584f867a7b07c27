/*
 * mk_sa: content rules in SpamAssassin's syntax. Rule files are read once
 * at start (mk_sa_load): header, body, rawbody, full, uri and meta rules,
 * score, describe, tflags, if/ifplugin/else/endif and include. Regular
 * expressions are compiled with PCRE2 (JIT); what mailkeeper cannot run
 * the same way (eval: tests, rules of plugins it does not have, patterns
 * PCRE2 refuses, Perl code in patterns) is skipped and counted by reason,
 * never run differently. Per message (mk_sa_eval) the rules see what
 * SpamAssassin's see: decoded headers, the rendered body as paragraphs,
 * the decoded raw body, the whole message, the links.
 */
#ifndef MK_SA_H
#define MK_SA_H

#include <stddef.h>

#include <libpsl.h>

#include "mk_msg.h"
#include "mk_net.h"

typedef struct mk_sa_rules mk_sa_rules;

/* c in lower case when an ASCII capital; inline, where a loop over many
 * bytes would call g_ascii_tolower for each. */
static inline char mk_sa_ascii_lower(char c)
{
    unsigned char u = (unsigned char)c;
    return (char)((unsigned)(u - 'A') < 26 ? u | 0x20 : u);
}

/* Why rules were not loaded; counted per reason. */
typedef enum {
    MK_SA_SKIP_EVAL,     /* an eval: test mailkeeper does not have */
    MK_SA_SKIP_PLUGIN,   /* inside ifplugin/if of a plugin it does not have */
    MK_SA_SKIP_REGEX,    /* a pattern PCRE2 refuses, or Perl code inside one */
    MK_SA_SKIP_SYNTAX,   /* a line it cannot read */
    MK_SA_SKIP_META,     /* a meta naming a rule that does not exist, or in a loop */
    MK_SA_SKIP_DISABLED, /* score 0, and no meta uses it */
    MK_SA_SKIP_N
} mk_sa_skip;

const char *mk_sa_skip_name(mk_sa_skip why);

typedef struct mk_sa_stats {
    size_t loaded; /* rules that run, and the unread ones */
    size_t unread; /* loaded, but not run: they score nothing, and no rule that runs reads them */
    size_t skipped[MK_SA_SKIP_N];
    /* metas skipped for reading a rule that does not run, by why that one
     * (in the end) does not: [MK_SA_SKIP_META] a name nowhere defined, or a loop */
    size_t meta_on[MK_SA_SKIP_N];
    /* metas that run reading a name nowhere defined, or a test SpamAssassin
     * does not run here either (network, a plugin it does not load): as
     * SpamAssassin does, they read it as not hit */
    size_t meta_undefined, meta_absent;
    size_t files;
    size_t other_directives;   /* lines of SpamAssassin settings that are not rules */
    size_t prefiltered;        /* body and rawbody patterns in the vectorscan prefilter */
    size_t prefiltered_header; /* header patterns in it (headers read by many rules) */
    size_t prefilter_ordinary; /* body, rawbody, uri patterns left out: they match ordinary text */
    size_t prefilter_gated;    /* body, rawbody, uri patterns behind a count of a part of them */
    size_t prefiltered_uri;    /* uri patterns in it */
    size_t prefilter_ascii;    /* patterns of all kinds in it as their ASCII copies */
    size_t prefilter_tail;     /* body, rawbody, uri patterns in it by their tails */
    size_t prefilter_lit;      /* body, rawbody, uri patterns behind a gate of their literals */
} mk_sa_stats;

/* Reads the rule files: each path a file, or a directory whose *.cf files
 * are read in name order. Problems with single lines are logged (file and
 * line) and counted; NULL only when a path cannot be read at all, with why
 * in err. cache: a directory (made if need be; NULL: none) where patterns
 * too large for PCRE2 as written keep the form that compiled, for the
 * next start. Free with mk_sa_free(). */
mk_sa_rules *mk_sa_load(const char *const *paths, size_t n_paths, const char *cache, char *err,
                        size_t errlen);
void mk_sa_free(mk_sa_rules *rules);
/* Whether body and rawbody rules go through a vectorscan prefilter (one
 * pass says which may match; only those run PCRE2). Off after
 * mk_sa_load(); turning it on compiles the databases (seconds for the
 * stock rules), or reads them from cache (a directory, made if need be;
 * NULL: none), where they are kept. Call before the rules are shared. */
void mk_sa_use_prefilter(mk_sa_rules *rules, int on, const char *cache);
/* Whether the prefilter puts body, rawbody and uri rules with literals
 * behind literal gates (on after mk_sa_load()); from the next
 * mk_sa_use_prefilter() on. Off, their patterns go into the databases as
 * the others' do (to compare, and to test those). */
void mk_sa_prefilter_literals(mk_sa_rules *rules, int on);
const mk_sa_stats *mk_sa_stats_of(const mk_sa_rules *rules);
/* The start-up line: "rules: N loaded from F file(s); skipped: REASON N,
 * ...; metas skipped by the rule they read: ...; N of M (P %) of the rules
 * that are neither network nor plugin tests[; N body and rawbody patterns
 * behind the prefilter]". */
void mk_sa_summary(const mk_sa_rules *rules, char *out, size_t len);
/* Room for the start-up line with every part of it (the stock rules'
 * take some 1,200 bytes) */
#define MK_SA_SUMMARY_MAX 4096
/* The name of the i-th rule that runs (in the order they run), or NULL
 * past the last. */
const char *mk_sa_rule_running(const mk_sa_rules *rules, size_t i);
/* Whether any rule that runs reads the whole message (full rules) or the
 * links (uri rules): what the caller need not prepare otherwise. */
int mk_sa_reads_full(const mk_sa_rules *rules);
int mk_sa_reads_uris(const mk_sa_rules *rules);

/* What a message offers the rules; strings belong to the caller. */
typedef struct mk_sa_input {
    const mk_msg *msg;
    const char *envelope_from;
    const char *body_text; /* mk_sa_body_text(msg), or NULL to make it */
    const char *full;      /* the message as received */
    size_t full_len;
    const char *const *uris; /* the links, as written */
    size_t n_uris;
    /* which of SpamAssassin's score sets applies: network tests on (DNS
     * checks configured), Bayes voting on this message */
    int network;
    int bayes_voted;
    /* where the Received chain stops being trusted (NULL or empty: infer
     * it as SpamAssassin does) */
    const mk_netlist *trusted_networks;
    const struct mk_relays *relays; /* the chain read already, or NULL to read it */
    const psl_ctx_t *psl;           /* registered domains (NULL: the last two labels) */
    const GPtrArray *html;          /* mk_sa_html_parts(msg), or NULL to make them */
} mk_sa_input;

/* One rule that hit. */
typedef struct mk_sa_hit {
    const char *name; /* the rule's, owned by the rules */
    double score;
    const char *describe; /* or NULL */
    unsigned count;
} mk_sa_hit;

/* Runs every rule over the message. hits is g_malloc'd (g_free it), *n_hits
 * set; rules named __* (parts of metas) and rules scoring 0 are not
 * listed. limit_hits: matches stopped by the PCRE2 match limit. 0 or -1
 * when out of memory. */
int mk_sa_eval(const mk_sa_rules *rules, const mk_sa_input *in, mk_sa_hit **hits, size_t *n_hits,
               size_t *limit_hits);

/* The body as SpamAssassin's body rules see it: the Subject, then the
 * text of every text part (HTML rendered; its first 50,000 bytes, and on
 * to the next line end or space), paragraphs on their own line, white
 * space squeezed, lines over 2048 bytes cut at a space. doms:
 * mk_html_doms(msg), or NULL to read each HTML part here. g_free() it. */
char *mk_sa_body_text(const mk_msg *msg, const GPtrArray *doms);

/* The body text as one sees it, for Bayes (SpamAssassin's
 * visible_rendered): as mk_sa_body_text, but HTML parts rendered as
 * mk_sa_html renders them, less the text no one sees (white on white, a
 * font of size 1, display: none, ...); that text goes to *invisible, in
 * lines as the body's, or NULL when there is none. html:
 * mk_sa_html_parts(msg), or NULL to make them. g_free both. */
char *mk_sa_visible_text(const mk_msg *msg, const GPtrArray *html, char **invisible);

/* What mk_sa_html reads of each text/html part of msg, in the order of
 * its texts: the HTML evals' statistics and the text one sees, made once
 * for the rules and Bayes. g_ptr_array_unref it. */
GPtrArray *mk_sa_html_parts(const mk_msg *msg);

#endif
