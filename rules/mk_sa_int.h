/*
 * mk_sa_int: the compiled rule set, shared by the loader (mk_sa_load.c)
 * and the evaluation (mk_sa_eval.c). Not for other parts.
 */
#ifndef MK_SA_INT_H
#define MK_SA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <glib.h>
#include <pcre2.h>

#include "mk_sa.h"

/* SpamAssassin's four score sets: bit 0 network tests on, bit 1 Bayes
 * voting; a rule's line gives one score for all or four. */
#define MK_SA_SCORESETS 4

typedef enum {
    MK_SA_HEADER,
    MK_SA_MIMEHEADER, /* the headers of every MIME part (MIMEHeader plugin) */
    MK_SA_BODY,
    MK_SA_RAWBODY,
    MK_SA_FULL,
    MK_SA_URI,
    MK_SA_META
} mk_sa_kind;

/* How a header rule reads the header: decoded (the default) or :raw; the
 * value whole, or only its :addr addresses or :name display names. */
typedef enum {
    MK_SA_HDR_DECODED = 0,
    MK_SA_HDR_RAW = 1,
    MK_SA_HDR_ADDR = 2,
    MK_SA_HDR_NAME = 4,
} mk_sa_hdr_mode;

/* One token of a meta expression in reverse Polish order. */
typedef enum {
    MK_SA_T_RULE,
    MK_SA_T_NUM,
    MK_SA_T_NOT,
    MK_SA_T_NEG,
    MK_SA_T_AND,
    MK_SA_T_OR,
    MK_SA_T_ADD,
    MK_SA_T_SUB,
    MK_SA_T_MUL,
    MK_SA_T_DIV,
    MK_SA_T_LT,
    MK_SA_T_GT,
    MK_SA_T_LE,
    MK_SA_T_GE,
    MK_SA_T_EQ,
    MK_SA_T_NE,
} mk_sa_tok_type;

typedef struct mk_sa_tok {
    mk_sa_tok_type type;
    size_t rule; /* MK_SA_T_RULE */
    double num;  /* MK_SA_T_NUM */
} mk_sa_tok;

struct mk_sa_view;
struct mk_sa_rule;

/* An eval: test mailkeeper has (mk_sa_evals.c): its name, how many
 * arguments it takes, and the test itself (the rule's count: 0 or 1). */
typedef struct mk_sa_evaldef {
    const char *name;
    unsigned min_args, max_args;
    int needs_full; /* reads the message as received */
    unsigned (*run)(struct mk_sa_view *v, const struct mk_sa_rule *r);
    const char *const *first_args; /* the first arguments it reads; NULL: any */
    /* 1 + the argument that is a pattern, compiled once as the rule is
     * read (mk_sa_rule.arg_re); 0: none */
    unsigned re_arg;
} mk_sa_evaldef;

/* The eval test called name, or NULL when mailkeeper does not have it. */
const mk_sa_evaldef *mk_sa_evaldef_find(const char *name);

typedef struct mk_sa_rule {
    /* What the evaluation loop reads of a rule that runs, first and
     * together: the rules are read in evaluation order, not memory order,
     * and each read of a line of them missed the caches. */
    mk_sa_kind kind;
    int prefiltered;  /* in a prefilter database: its kind's, or its header slot's */
    int slot;         /* header rules: the header view they read (mk_sa_rules.slots); -1: none */
    unsigned unset_n; /* header rules: its count when the header is absent (fixed) */
    pcre2_code *re;
    const mk_sa_evaldef *eval; /* an eval: rule, with its arguments (unquoted) */
    char **args;
    int negate; /* header !~ */
    int exists; /* header NAME exists:Header */
    int multiple;
    unsigned maxhits;
    size_t n_args;
    /* the rest */
    char *name;
    pcre2_code *arg_re; /* an eval: its pattern argument (mk_sa_evaldef.re_arg), or NULL */
    int arg_re_bad;     /* that argument does not compile: the test is never hit */
    int defined;        /* a header/body/... line was read for it */
    char *pattern;      /* the source, compiled once every file is read */
    char *source; /* body, rawbody, header, uri: the pattern with its tags expanded, as compiled */
    uint32_t opts;
    int replace;  /* listed in replace_rules: its <TAG>s are expanded */
    char *header; /* header rules: the name, or ALL, ToCc, EnvelopeFrom */
    mk_sa_hdr_mode mode;
    char *if_unset; /* the value of an absent header, or NULL */
    char *expr;     /* meta: the expression as written */
    mk_sa_tok *rpn;
    size_t n_rpn;
    double score[MK_SA_SCORESETS];
    int has_score;
    char *describe;
    int nice;
    int skip;   /* not run, for skip_why */
    int absent; /* not run by SpamAssassin here either (undefined, network, a plugin it does
                 * not load): metas read it as not hit, as SpamAssassin does */
    mk_sa_skip skip_why;
    mk_sa_skip root_why; /* MK_SA_SKIP_META: why the rule it reads (in the end) does not run */
    char *file;
    int line;
} mk_sa_rule;

/* The SpamAssassin settings of the rule files that plugins mailkeeper has
 * read (mk_sa_settings.c): RegistryBoundaries' TLDs, FreeMail, VBounce. */
typedef struct mk_sa_settings {
    GHashTable *tlds;       /* util_rb_tld, lower case */
    GHashTable *fm_domains; /* freemail_domains without wildcards, lower case */
    GPtrArray *fm_wild;     /* freemail_domains with * or ? */
    GHashTable *fm_welcome; /* freemail_welcomelist: addresses and domains */
    int fm_max_body_emails, fm_max_body_freemails, fm_skip_over_max, fm_skip_bulk_envfrom;
    pcre2_code *fm_wild_re;  /* \@(?:wildcards)$; NULL: none */
    pcre2_code *email_re;    /* FreeMail's address pattern, ending in a known TLD */
    pcre2_code *strip_url;   /* links with an address inside, not counted */
    pcre2_code *strip_email; /* <address> and "address wrote:", not counted */
    pcre2_code *fm_default_welcome, *fm_bulk_envfrom;
    GPtrArray *bounce_relays; /* welcomelist_bounce_relays, globs, lower case */
    /* fixed patterns the evals share, compiled once with the rules: the
     * parts of a date (mk_sa_evals.c MK_SA_DATE_*), a HELO of a free mail
     * service, charset names */
    pcre2_code *date[6];
    GRegex *dotcom_helo, *iso_any, *iso_known;
} mk_sa_settings;

enum {
    MK_SA_DATE_DMY,    /* " 22 Sep 2002 " */
    MK_SA_DATE_MDTY,   /* " Sep 22 10:00:00 2002 " */
    MK_SA_DATE_DMY2,   /* " 22 Sep 02 " */
    MK_SA_DATE_TIME,   /* " 10:00[:00] " */
    MK_SA_DATE_OFFSET, /* " +0100 " */
    MK_SA_DATE_ZONE,   /* "EST" */
};

/* Reads a setting line (directive dir, its argument); 1 when it was one
 * of those, 0 when not. */
int mk_sa_settings_line(mk_sa_settings *s, const char *dir, const char *arg);
/* Sets the defaults; _finish compiles the patterns once every file is
 * read; _clear frees what they hold (not s). */
void mk_sa_settings_init(mk_sa_settings *s);
void mk_sa_settings_finish(mk_sa_settings *s);
void mk_sa_settings_clear(mk_sa_settings *s);
/* Whether pattern re (a rule set's, compiled with JIT) matches s. */
int mk_sa_settings_match(const pcre2_code *re, const char *s);

/* FreeMail's and VBounce's eval: tests (mk_sa_freemail.c) */
unsigned mk_sa_ev_freemail_from(struct mk_sa_view *v, const struct mk_sa_rule *r);
unsigned mk_sa_ev_freemail_header(struct mk_sa_view *v, const struct mk_sa_rule *r);
unsigned mk_sa_ev_freemail_replyto(struct mk_sa_view *v, const struct mk_sa_rule *r);
unsigned mk_sa_ev_freemail_body(struct mk_sa_view *v, const struct mk_sa_rule *r);
unsigned mk_sa_ev_any_bounce_relays(struct mk_sa_view *v, const struct mk_sa_rule *r);
unsigned mk_sa_ev_bounce_relays(struct mk_sa_view *v, const struct mk_sa_rule *r);

/* What a header rule's header name stands for: one SpamAssassin makes
 * up, or the message's headers of that name. */
typedef enum {
    MK_SA_HK_NAMED,     /* the headers so named */
    MK_SA_HK_ALL,       /* ALL */
    MK_SA_HK_TOCC,      /* ToCc */
    MK_SA_HK_ENVFROM,   /* EnvelopeFrom */
    MK_SA_HK_TRUSTED,   /* ALL-TRUSTED, ALL-INTERNAL */
    MK_SA_HK_UNTRUSTED, /* ALL-UNTRUSTED, ALL-EXTERNAL */
    MK_SA_HK_RELAYS,    /* X-Spam-Relays-* */
    MK_SA_HK_MESSAGEID, /* MESSAGEID */
} mk_sa_hdr_kind;

/* The kind of header name (mk_sa_eval.c). */
mk_sa_hdr_kind mk_sa_header_kind(const char *name);

/* A header as header rules read it (a name, or ALL, ToCc, ..., in a
 * mode): made once per message however many rules read it. */
typedef struct mk_sa_hslot {
    char *header;
    mk_sa_hdr_kind kind; /* of header, worked out once */
    mk_sa_hdr_mode mode;
    size_t n_rules;
    struct mk_sa_prefilter *pf; /* its rules' patterns; NULL: none */
} mk_sa_hslot;

/* A running rule as the evaluation loop reads it first (mk_sa_rules.steps,
 * in evaluation order; mk_sa_steps_build): enough to run a meta, or to
 * pass over a rule its prefilter rules out, without reading the rule
 * itself, which the rest of a message's work has pushed out of the caches
 * by then (the loop spent most of its time waiting for those reads). */
typedef struct mk_sa_step {
    uint32_t rule;
    uint8_t kind; /* mk_sa_kind */
    uint8_t pf;   /* a body, rawbody or uri rule the prefilter holds: 1 + which (mk_sa_rules.pf) */
    uint8_t zero; /* a meta: its value (0 or 1) when every rule it reads counts 0 */
    uint32_t rpn, n_rpn; /* a meta: its tokens, at mk_sa_rules.rpn[rpn] */
    /* the metas that read it: mk_sa_rules.readers[readers, readers + n_readers) */
    uint32_t readers, n_readers;
} mk_sa_step;

/* A meta's token as the evaluation loop reads it (8 bytes, not
 * mk_sa_tok's 24): arg is the rule (MK_SA_T_RULE) or where the number
 * is in mk_sa_rules.nums (MK_SA_T_NUM). */
typedef struct mk_sa_mtok {
    uint32_t type; /* mk_sa_tok_type */
    uint32_t arg;
} mk_sa_mtok;

struct mk_sa_rules {
    mk_sa_settings set;
    mk_sa_rule *r;
    size_t n, cap;
    GHashTable *by_name; /* name -> index + 1 */
    size_t *order;       /* what runs, metas after what they read */
    size_t n_order;
    mk_sa_step *steps; /* order as the loop reads it, n_order of them */
    mk_sa_mtok *rpn;   /* the metas' tokens, one after another in order */
    double *nums;      /* the numbers they read */
    /* the metas that read each rule, a run per step (mk_sa_step.readers):
     * a meta runs only when a rule it reads counted more than 0; else it
     * takes its step's zero */
    uint32_t *readers;
    int reads_full, reads_uris; /* what a message's evaluation needs */
    pcre2_match_context *mctx;
    mk_sa_stats stats;
    int pf_no_lits; /* literal gates off (mk_sa_prefilter_literals) */
    /* ReplaceTags: replace_tag, replace_pre, replace_inter, replace_post */
    GHashTable *tags[4];
    char *tag_start, *tag_end;
    struct mk_sa_prefilter *pf[3]; /* body, rawbody, uri; NULL: none */
    mk_sa_hslot *slots;            /* the headers the running header rules read */
    size_t n_slots;
    struct mk_sa_jit_pool *jit; /* JIT stacks for the messages being evaluated */
};

/* (Re)builds rs->steps, rs->rpn and the metas' readers from the order and
 * the rules. */
void mk_sa_steps_build(mk_sa_rules *rs);
/* The value of a meta's tokens rpn[0, n) (their numbers in nums) over the
 * counts of the rules. */
double mk_sa_meta_value(const mk_sa_mtok *rpn, size_t n, const double *nums,
                        const unsigned *counts);

/* What was worked out from patterns, kept from one start to the next in
 * file of dir (mk_sa_memo.c); every key holds salt (what the values
 * depend on besides the pattern: the format's version, the library's).
 * dir NULL: a memo that keeps nothing. */
typedef struct mk_sa_memo mk_sa_memo;
mk_sa_memo *mk_sa_memo_open(const char *dir, const char *file, const char *salt);
/* The value kept of kind for pattern with opts, or NULL; owned by m. */
const char *mk_sa_memo_get(mk_sa_memo *m, const char *kind, const char *pattern, uint32_t opts);
/* Keeps value (no NUL inside) of kind for pattern with opts. */
void mk_sa_memo_put(mk_sa_memo *m, const char *kind, const char *pattern, uint32_t opts,
                    const char *value);
/* Writes the file again if a value was added or one read went unused (it
 * keeps the values of the last rules loaded), and frees m. */
void mk_sa_memo_close(mk_sa_memo *m);

/* The patterns of rules ids[0, n) of rs in vectorscan databases
 * (prefilter mode); marks the rules inside them prefiltered (a rule
 * without a pattern vectorscan reads stays out, and with ordinary set,
 * one whose prefilter copy matches ordinary mail text: it would pass
 * every message; with ordinary set, those left out go behind gates where
 * they can, marked prefiltered too). cache: a directory for compiled
 * databases, or NULL; the names of the files used are added to used.
 * memo: how each pattern is held, as found at earlier starts
 * (mk_sa_prefilter_memo), and kept for the next. NULL when none compiles
 * and none was left out so. Free with mk_sa_prefilter_free(). */
typedef struct mk_sa_prefilter mk_sa_prefilter;
mk_sa_prefilter *mk_sa_prefilter_build(mk_sa_rules *rs, const size_t *ids, size_t n,
                                       const char *cache, GHashTable *used, mk_sa_memo *memo,
                                       int ordinary);
/* The memo of how the prefilter holds each pattern, in the file
 * prefilter-plan of cache (or NULL: one that keeps nothing); close it
 * with mk_sa_memo_close() after the last build. */
mk_sa_memo *mk_sa_prefilter_memo(const char *cache);
/* Removes the cached databases in cache whose names are not in used. */
void mk_sa_prefilter_prune(const char *cache, GHashTable *used);
void mk_sa_prefilter_free(mk_sa_prefilter *pf);
size_t mk_sa_prefilter_size(const mk_sa_prefilter *pf);
/* The patterns left out for matching ordinary text. */
size_t mk_sa_prefilter_ordinary(const mk_sa_prefilter *pf);
/* The patterns behind gates: a count of a part of them (below), the
 * literal gates not counted. */
size_t mk_sa_prefilter_gated(const mk_sa_prefilter *pf);
/* Of those, the chain gates that count a wider gate's part (its own not
 * scanned for) */
size_t mk_sa_prefilter_shared(const mk_sa_prefilter *pf);
/* The patterns held by their ASCII copies (mk_sa_pf_ascii.c): as written,
 * they are scanned for only on the lines that hold an 8-bit byte. */
size_t mk_sa_prefilter_ascii(const mk_sa_prefilter *pf);
/* The patterns held by their tail, a costly lead left out (mk_sa_pf_lead.c). */
size_t mk_sa_prefilter_tails(const mk_sa_prefilter *pf);
/* The patterns behind a gate of their literals (mk_sa_pf_lits.c). */
size_t mk_sa_prefilter_lits(const mk_sa_prefilter *pf);
/* Scans the lines as one text (thread-safe); sets maybe[i] for each rule
 * i of the database that may match. With where (or NULL, a pointer per
 * rule), where[i] becomes a flag per line (uint8_t, 1: it may match
 * there; the caller g_frees it) for each rule that may match; a rule
 * set in maybe with where[i] NULL may match in any line. 0, or -1 when
 * the scan failed (then every rule may match, anywhere). */
int mk_sa_prefilter_scan(mk_sa_prefilter *pf, const char *const *lines, uint8_t *maybe,
                         uint8_t **where);

enum { MK_SA_TAG, MK_SA_TAG_PRE, MK_SA_TAG_INTER, MK_SA_TAG_POST };

/* JIT stacks of finished evaluations, kept for the next, so a message
 * costs no mmap and munmap of its own (one stack per message running). */
typedef struct mk_sa_jit_pool {
    GMutex lock;
    GPtrArray *free; /* of pcre2_jit_stack * */
} mk_sa_jit_pool;

/* One message as the rules see it, each view made on first use. */
typedef struct mk_sa_view {
    const struct mk_sa_rules *rs;
    const mk_sa_input *in;
    GHashTable *hdr;     /* "mode:name" -> GString (NULL value: absent) */
    GHashTable *by_name; /* name (any case) -> GPtrArray of its GMimeHeader *; or NULL */
    GString **slot_val;  /* per header slot (rs->slots): its text (owned), or NULL */
    uint8_t *slot_done;  /* per header slot: slot_val is set */
    char **body, **raw;
    size_t *body_len, *raw_len; /* their lines' lengths */
    GHashTable *evals;          /* eval results shared by several rules ("name" -> value) */
    GHashTable *addrs;          /* a header value -> its InternetAddressList; or NULL */
    struct mk_relays *relays;   /* the Received chain, read on first use (unless in->relays) */
    GPtrArray *html; /* of mk_sa_html *: each text/html part, read on first use (a reference) */
    GPtrArray *mime_headers; /* of GMimeHeader *: every MIME part's, on first use; or NULL */
} mk_sa_view;

/* Gives each running header rule its slot (rs->slots) and its count
 * when the header is absent; once, after the rules are ordered. */
void mk_sa_prepare_headers(mk_sa_rules *rs);

/* The envelope sender: the MTA's, or as SpamAssassin finds it in the
 * headers when the MTA did not say; NULL when none. Owned by v. */
const char *mk_sa_view_envelope_from(mk_sa_view *v);

/* The addresses of a header's value (raw or decoded), parsed once a
 * message however many rules and evals read them (the stock rules'
 * header slots and evals parsed From six times: raw in three modes,
 * decoded for three evals). Owned by v. */
InternetAddressList *mk_sa_view_addrs(mk_sa_view *v, const char *value);

/* What a header rule reading header name (or ALL, ToCc, EnvelopeFrom, ...)
 * in mode sees: one line per header (or address, or name); NULL when
 * the header is absent. Owned by v, kept for the message. */
const GString *mk_sa_view_header(mk_sa_view *v, const char *name, mk_sa_hdr_mode mode);

/* Appends a header's raw value with its line ends as SpamAssassin sees
 * them (LF: the MTA's CRLF is the wire's, not the message's). */
void mk_sa_append_raw(GString *out, const char *raw);

/* The message's relays (X-Spam-Relays-*), read on first use. */
const struct mk_relays *mk_sa_view_relays(mk_sa_view *v);

/* The body rules' lines (paragraphs), made on first use. */
char *const *mk_sa_view_body(mk_sa_view *v);

/* pattern, too large for PCRE2, with its costliest counted repeat of a
 * group written as one named group and subroutine calls (mk_sa_rx.c);
 * NULL when there is none to shrink. g_free it. */
char *mk_sa_rx_shrink(const char *pattern);

/* pattern, too large for PCRE2, with the group it writes out most (by
 * bytes: a letter tag of the obfuscation rules, say) written once in a
 * (?(DEFINE)...) block and called where it stood (mk_sa_rx.c); NULL when
 * no group of 16 bytes or more stands twice, or the pattern refers to
 * groups by number or sets options inline. g_free it. */
char *mk_sa_rx_share(const char *pattern);

/* The gate of a pattern the prefilter cannot hold (mk_sa_pf_gate.c): a
 * part of it (a group) that every match holds *count times over without
 * overlap, the nth best (0: the highest count, then the longest), or
 * NULL (no more; options set inline, back references, /x). g_free it. */
char *mk_sa_pf_gate_part(const char *pattern, uint32_t opts, unsigned nth, unsigned *count);
/* How many lines hold count of the ends[0, n) (sorted) of a part's
 * matches, each width or more past the last, those lines marked in
 * ok[line] (or, ok NULL, 1 at the first such line); the lines end at
 * line_end[0, n_lines) (exclusive, in order). */
size_t mk_sa_pf_gate_pass(const unsigned long long *ends, size_t n, const size_t *line_end,
                          size_t n_lines, unsigned count, unsigned width, uint8_t *ok);

/* A chain gate (mk_sa_pf_chain.c) of a pattern that is one group
 * repeated, (?:R){k} with k of 2 or more: R, g_free it (*k set), or
 * NULL. */
char *mk_sa_pf_chain_part(const char *pattern, uint32_t opts, unsigned *k);
/* A copy of part for vectorscan to keep whole, or (reverse) that copy
 * read backwards, matching the reversed texts of its matches: each
 * repeat of a group, and of an item beyond three, widened to * or +;
 * NULL when part holds what the copy does not follow (anchors,
 * lookarounds, back references, options, most letter escapes). g_free
 * it. */
char *mk_sa_pf_chain_copy(const char *part, int reverse);
/* Whether the chain copy narrow is the copy wide with one of its optional
 * groups, (...)?, left out: then wide matches whatever narrow does (the
 * group matching nothing), in the same place, and a chain gate may count
 * wide's matches for narrow's. */
int mk_sa_pf_chain_within(const char *narrow, const char *wide);
/* How many lines (their ends line_end[0, n_lines), exclusive) may hold a
 * chain of k matches of the part end to end: k - 1 joints (a position in
 * starts and in ends) and then an end, in order, on one line; ends and
 * starts sorted. With ok, their flags set there (else it stops at the
 * first). */
size_t mk_sa_pf_chain_pass(const unsigned long long *ends, size_t n_ends,
                           const unsigned long long *starts, size_t n_starts,
                           const size_t *line_end, size_t n_lines, unsigned k, uint8_t *ok);

/* The shortest literal a literal gate may hold. A short one is in many
 * lines (with 3, "your" and "mail" gated stock rules onto most
 * messages), and PCRE2 running there cost what the smaller databases
 * saved; with 6, the stock rules ran 2 % faster than without gates. */
#define MK_SA_PF_LIT_MIN 6
/* The literals one of which every match of pattern (as PCRE2 reads it
 * with opts, bytes) holds, each min bytes or longer, none holding
 * another; lower-cased and *caseless set when they are to be found
 * without regard to case (mk_sa_pf_lits.c). NULL when it has no such
 * set, or holds a construct not followed; else g_strfreev it. */
char **mk_sa_pf_lits(const char *pattern, uint32_t opts, size_t min, int *caseless);

/* A pattern as it matches text of ASCII bytes only (mk_sa_pf_ascii.c):
 * MK_SA_ASCII_COPY with *ascii (g_free it) the pattern without what needs
 * a byte of 0x80 or more, which matches ASCII text wherever the pattern
 * does; MK_SA_ASCII_NEVER when no ASCII text can match it;
 * MK_SA_ASCII_SAME when nothing was dropped, or the pattern holds a
 * construct not followed (*ascii NULL). */
typedef enum { MK_SA_ASCII_SAME, MK_SA_ASCII_COPY, MK_SA_ASCII_NEVER } mk_sa_ascii;
mk_sa_ascii mk_sa_pf_ascii(const char *pattern, uint32_t opts, char **ascii);

/* The tail of a pattern (a sequence at its top level) after a costly
 * lead: an open-ended repeat of letters or digits before the literal
 * vectorscan would start from (mk_sa_pf_lead.c). It matches wherever the
 * pattern does. NULL when the pattern has no such lead, or holds what is
 * not followed; else g_free it. */
char *mk_sa_pf_lead(const char *pattern, uint32_t opts);

/* The prefilter's copy of a pattern too long for vectorscan, its letter
 * groups (small groups of look-alike characters, as the stock obfuscation
 * rules write them) widened to ones that match more and are written
 * shorter (mk_sa_pf_compact.c); not for /x patterns. g_free it. */
char *mk_sa_pf_compact(const char *pattern);

/* Reading patterns (mk_sa_rx.c, for the shrinking and the prefilter):
 * the ']' closing the character class that opens at p ('['), or the end
 * of the string; the length of a counted quantifier {n}, {n,} or {n,m}
 * at p (0: none) with its bounds (open_ended: {n,}); whether a pattern
 * has back references. */
const char *mk_sa_rx_class_end(const char *p);
/* The groups of a pattern, each as it closes (inner ones first): the
 * offsets of its '(' and ')', how many groups hold it, whether a '|'
 * stands at its own level; NULL when the pattern cannot be read (a
 * class or \Q with no end, groups 256 deep). top_alt (or NULL): whether
 * a '|' stands outside every group. g_array_free(, TRUE) it. */
typedef struct mk_sa_rx_span {
    size_t open, close;
    unsigned depth;
    int alt;
} mk_sa_rx_span;
GArray *mk_sa_rx_groups(const char *pattern, int *top_alt);
size_t mk_sa_rx_count(const char *p, unsigned *min, unsigned *max, int *open_ended);
int mk_sa_rx_backrefs(const char *pattern);
/* The byte value of the escape at p ('\\'), its length in *len; -1 for
 * an escape that stands for a class of characters or an assertion (\d,
 * \b...), -2 for one not followed (back references and the like). */
int mk_sa_rx_escape(const char *p, size_t *len);

/* Match limits: a pattern that backtracks past them stops, counted. */
#define MK_SA_MATCH_LIMIT 200000
#define MK_SA_DEPTH_LIMIT 20000

#endif
