/*
 * mk_sa_prefilter: the body, rawbody and uri patterns of a rule set (and
 * those of each header many rules read) in Hyperscan (or vectorscan)
 * databases of 64 patterns each (a header's of 256), compiled in
 * prefilter mode, so one pass over a message's text (its links, one a
 * line) per database says which rules may match, and in which lines (the
 * body's, rawbody's and links' databases report every match, each in the
 * line it ends in); PCRE2 then runs only those, on those lines. Prefilter
 * mode may report a match PCRE2 would not (lookarounds and
 * back-references are widened), never the other way; the text is scanned
 * whole with ^ and $ at every line, which again can only widen (\A and \z
 * are read as ^ and $). A
 * pattern vectorscan cannot read stays outside the database and always
 * runs; so does a body, rawbody or uri pattern whose prefilter copy
 * matches ordinary mail text (built in below): it would pass nearly every
 * message, its share of each scan saving nothing. Such a pattern, or one
 * vectorscan cannot read, may instead stand behind a gate, found in a
 * database of its own with every match reported: the pattern as written
 * (its counted repeats kept), or a part every match holds count times
 * (mk_sa_pf_gate.c); it runs only on the lines where its gate holds.
 *
 * A pattern whose lead (what comes before the literal vectorscan starts
 * from) holds an open-ended repeat of letters or digits is held by its
 * tail, the lead left out (mk_sa_pf_lead.c): the automaton for such a
 * lead runs along the whole text.
 *
 * Bounded repeats make vectorscan's compile time grow fast: a counted
 * repeat of a group (...){m,n} or with a bound of 100 or more is widened
 * to * or + in the prefilter's copy of the pattern.
 *
 * Compiled databases are kept in a cache directory (the caller's; files
 * named by the SHA-256 of vectorscan's version, the file's kind and the
 * patterns, flags and rule numbers they hold), so a restart or reload
 * with the same rules reads them back in milliseconds (mapped), with the
 * list of which patterns are in the databases and which are left out, and
 * why (.ok); files no longer used are removed. How each pattern is held
 * (its ASCII copy, tail, literals or gate, each found with databases of
 * its own) is kept in the cache's prefilter-plan (mk_sa_memo.c): warm,
 * the stock rules' start took 0.46 s of CPU without it, 0.28 s with it.
 *
 * Scratch space (one per concurrent scan) is kept in a small pool.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <hs.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mk_log.h"
#include "mk_sa_int.h"

/* Patterns per database: vectorscan's compile time grows faster than the
 * number of patterns, and a scan per database costs little. The stock
 * body rules' 209 patterns, each database scanning 300 corpus bodies
 * with the caches cleared before each: in 7 databases 197K cycles a
 * body, in 4 168K, in 2 161K (in 1, 6.8 MB, 381K). */
#define MK_SA_PF_CHUNK 64

/* Patterns per database of a header's prefilter. A header is short: a
 * scan of it costs mostly the loading of each database's tables, which
 * the rest of a message's work has pushed out of the caches, so one
 * database a header is cheapest (the stock rules' Subject took five
 * scans of 27,000 cycles each). The body's stay in chunks: each reports
 * every match, and a large one outgrows the caches (above). */
#define MK_SA_PF_CHUNK_SHORT 256

/* A rule the prefilter cannot hold, behind a count of a part of it
 * (mk_sa_pf_gate.c): it may match where a line holds count matches of
 * the part, each ending width or more past the last. */
typedef struct mk_sa_pf_gate {
    unsigned rule, count, width;
    unsigned chain; /* a chain gate (mk_sa_pf_chain.c): count matches of the part end to end */
    /* the part whose matches it counts (an id in the gates' database): its
     * own, or for a chain gate a wider chain part that matches wherever
     * its own does (mk_sa_pf_chain_within), its own then not scanned for */
    unsigned part;
} mk_sa_pf_gate;

struct mk_sa_prefilter {
    GPtrArray *db;     /* of hs_database_t * */
    GPtrArray *db8;    /* of hs_database_t *: patterns as written, for the 8-bit lines */
    unsigned *always8; /* rules that may match wherever a line holds an 8-bit byte */
    size_t n_always8;
    size_t n_ascii;        /* rules held as their ASCII copy (mk_sa_pf_ascii.c) */
    size_t n_tail;         /* rules held by their tail (mk_sa_pf_lead.c) */
    size_t n_lit;          /* rules behind a literal gate (mk_sa_pf_lits.c) */
    hs_database_t *gates;  /* the gated rules' parts, every match reported; NULL: none */
    hs_database_t *rgates; /* the chain gates' parts reversed, for the text reversed; or NULL */
    mk_sa_pf_gate *gate;   /* by the part's id in gates */
    size_t n_gates;
    hs_scratch_t *proto; /* fits every database; cloned for each concurrent scan */
    GMutex lock;
    GPtrArray *free_scratch; /* of hs_scratch_t *, guarded by lock */
    size_t n_patterns;       /* in the databases */
    size_t n_ordinary;       /* left out: they match ordinary text */
};

/* A match's end, as vectorscan reports it from the gates' database. */
typedef struct mk_sa_pf_end {
    unsigned gate;
    unsigned long long to;
} mk_sa_pf_end;

/* The Hyperscan flags for a pattern with PCRE2 options opts: prefilter
 * mode, one report per pattern (a header's; the body's report every match),
 * ^ and $ at every line. */
static unsigned mk_sa_pf_flags(uint32_t opts)
{
    unsigned f = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH | HS_FLAG_MULTILINE | HS_FLAG_ALLOWEMPTY;
    if (opts & PCRE2_CASELESS)
        f |= HS_FLAG_CASELESS;
    if (opts & PCRE2_DOTALL)
        f |= HS_FLAG_DOTALL;
    return f;
}

/* The longest pattern vectorscan reads; a longer one has its letter
 * groups widened (mk_sa_pf_compact) */
#define MK_SA_PF_LEN_MAX 16000

/* Bytes a pattern may grow by copies of short repeated groups (below) */
#define MK_SA_PF_COPY_MAX 1024

/* Whether pattern s refers to its groups (back-references, subroutine
 * calls, named groups), so a group may not be copied. */
static int mk_sa_pf_refers(const char *s)
{
    if (mk_sa_rx_backrefs(s))
        return 1;
    for (const char *p = s; *p != '\0'; p++) {
        if (p[0] == '\\' && (p[1] == '0' || p[1] == 'g' || p[1] == 'k'))
            return 1;
        if (p[0] == '(' && p[1] == '?' &&
            ((p[2] == '<' && p[3] != '=' && p[3] != '!') || p[2] == 'P' || p[2] == '&' ||
             p[2] == '\'' || g_ascii_isdigit(p[2]) || p[2] == '+' || p[2] == 'R'))
            return 1;
        if (p[0] == '\\' && p[1] != '\0')
            p++;
    }
    return 0;
}

/* The pattern as the prefilter reads it: the text is scanned whole, so
 * anchors at the start and end of the subject (\A, \z, \Z) become anchors
 * at each line (^, $, with multi-line on); /x as (?x). Unless exact,
 * counted repeats that make vectorscan's compile time grow fast (of a
 * group, or with a bound of 100 or more: on the stock rules some 60
 * patterns that took 36 of 40 seconds) become * or +, which only widens
 * what matches: a prefilter may report too much, never too little. A
 * short group keeps its lower bound as copies, (G){3} as GGG+, or the
 * prefilter would pass nearly every message for a rule such as ten long
 * words in a row. Character classes and \Q...\E (and /x comments) are
 * copied as they are. g_free it. */
static char *mk_sa_pf_pattern(const char *s, uint32_t opts, int exact)
{
    GString *out = g_string_new((opts & PCRE2_EXTENDED) ? "(?x)" : "");
    int can_copy = !mk_sa_pf_refers(s);
    /* where the open groups start in out; the last group closed */
    GArray *open = g_array_new(FALSE, FALSE, sizeof(size_t));
    size_t group = 0, closed = (size_t)-1, copied = 0; /* closed: out's length after its ')' */
    for (const char *p = s; *p != '\0'; p++) {
        if (p[0] == '\\' && p[1] == 'Q') { /* \Q...\E, as it is */
            const char *e = strstr(p + 2, "\\E");
            size_t n = e != NULL ? (size_t)(e + 2 - p) : strlen(p);
            g_string_append_len(out, p, (gssize)n);
            p += n - 1;
            continue;
        }
        if (*p == '\\' && p[1] != '\0') {
            if (p[1] == 'A' || p[1] == 'z' || p[1] == 'Z')
                g_string_append_c(out, p[1] == 'A' ? '^' : '$');
            else
                g_string_append_len(out, p, 2);
            p++;
            continue;
        }
        if (*p == '[') { /* a character class, as it is */
            const char *e = mk_sa_rx_class_end(p);
            size_t n = *e != '\0' ? (size_t)(e + 1 - p) : strlen(p);
            g_string_append_len(out, p, (gssize)n);
            p += n - 1;
            continue;
        }
        if (*p == '#' && (opts & PCRE2_EXTENDED)) { /* a comment, to the line's end */
            size_t n = strcspn(p, "\n");
            g_string_append_len(out, p, (gssize)n);
            p += n - 1;
            continue;
        }
        unsigned lo, hi;
        int open_ended;
        size_t n = mk_sa_rx_count(p, &lo, &hi, &open_ended);
        if (n > 0 && (p[n] == '?' || p[n] == '+'))
            n++; /* lazy or possessive: either way the same matches or fewer */
        if (!exact && n > 0 && p > s && (open_ended || hi >= 100 || p[-1] == ')')) {
            size_t glen = out->len - group;
            if (closed == out->len && can_copy && lo >= 2 && lo <= 16 &&
                copied + glen * (lo - 1) <= MK_SA_PF_COPY_MAX) {
                for (unsigned c = 1; c < lo; c++)
                    g_string_append_len(out, out->str + group, (gssize)glen);
                copied += glen * (lo - 1);
            }
            g_string_append_c(out, lo == 0 ? '*' : '+');
            p += n - 1;
            continue;
        }
        if (*p == '(') {
            g_array_append_val(open, out->len);
        } else if (*p == ')' && open->len > 0) {
            group = g_array_index(open, size_t, open->len - 1);
            g_array_set_size(open, open->len - 1);
            g_string_append_c(out, *p);
            closed = out->len;
            continue;
        }
        g_string_append_c(out, *p);
    }
    g_array_free(open, TRUE);
    return g_string_free(out, FALSE);
}

/* The prefilter's copy of a rule's pattern (source, with PCRE2 options
 * opts; exact: its counted repeats kept); g_free it. */
static char *mk_sa_pf_copy(const char *source, uint32_t opts, int exact)
{
    char *e = mk_sa_pf_pattern(source, opts, exact);
    if (strlen(e) > MK_SA_PF_LEN_MAX && !(opts & PCRE2_EXTENDED)) {
        char *shorter = mk_sa_pf_compact(e);
        g_free(e);
        e = shorter;
    }
    return e;
}

/* A pattern the prefilter may hold: its copy for vectorscan, flags, rule. */
typedef struct mk_sa_pf_pat {
    char *expr;
    unsigned flags, id;
    char state;  /* MK_SA_PF_IN, _UNREAD or _ORDINARY, as the cache's list writes it */
    char held;   /* in a database (mk_sa_pf_databases) */
    char tail;   /* expr is the pattern's tail, without a costly lead (mk_sa_pf_lead.c) */
    char *rexpr; /* a chain gate's part reversed (expr: as written), or NULL */
} mk_sa_pf_pat;

enum {
    MK_SA_PF_UNREAD = '0',  /* vectorscan cannot read (or compile) it: it always runs */
    MK_SA_PF_IN = '1',      /* in a database */
    MK_SA_PF_ORDINARY = '2' /* matches ordinary text (below): it always runs */
};

/* Ordinary mail. A pattern whose prefilter copy matches it would pass
 * nearly every message (vectorscan approximates large patterns that far:
 * the stock form-filling rules pass all 6,046 corpus messages), so its
 * share of each scan costs time and saves none; it runs without the
 * prefilter, as it would after it. */
static const char mk_sa_pf_ordinary[] =
    "Hello Maria,\n"
    "Thank you for sending the report this morning. I read through the first two sections "
    "and they look good to me; the figures in the second table match what we discussed at "
    "the meeting last week.\n"
    "A few small points before we share it with the rest of the team:\n"
    "- the summary could be a little shorter, perhaps three paragraphs;\n"
    "- please check the dates in the schedule, since the review moved to 14 March at 10:30;\n"
    "- the chart on page 6 needs a title.\n"
    "I will be in the office until the end of the month and then away for a week. If anything "
    "comes up while I am travelling, Peter knows where the files are and can answer most "
    "questions.\n"
    "I also added my comments on the budget notes to the shared folder. They are at "
    "https://intranet.example.com/projects/report and the older version is still in the "
    "archive.\n"
    "Best regards,\n"
    "Daniel\n";

/* The cache file of patterns p[0, n) under dir, its name ending in
 * suffix, found with text (or NULL); g_free it. */
static char *mk_sa_pf_cache_path(const char *dir, mk_sa_pf_pat *const *p, guint n,
                                 const char *suffix, const char *text)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    const char *v = hs_version();
    g_checksum_update(sum, (const guchar *)v, (gssize)strlen(v) + 1);
    g_checksum_update(sum, (const guchar *)suffix, (gssize)strlen(suffix) + 1);
    if (text != NULL)
        g_checksum_update(sum, (const guchar *)text, (gssize)strlen(text) + 1);
    for (guint k = 0; k < n; k++) {
        char num[32];
        snprintf(num, sizeof(num), "%u:%u:", p[k]->flags, p[k]->id);
        g_checksum_update(sum, (const guchar *)num, (gssize)strlen(num));
        g_checksum_update(sum, (const guchar *)p[k]->expr, (gssize)strlen(p[k]->expr) + 1);
    }
    char *name = g_strconcat(g_checksum_get_string(sum), suffix, NULL);
    g_checksum_free(sum);
    char *path = g_build_filename(dir, name, NULL);
    g_free(name);
    return path;
}

/* The database of patterns p[0, n) from the cache, or compiled (and then
 * cached); *file: its file's name (g_free it), or NULL without a cache.
 * NULL with *cerr on a compile error. */
static hs_database_t *mk_sa_pf_compile(const char *cache, mk_sa_pf_pat *const *p, guint n,
                                       hs_compile_error_t **cerr, char **file)
{
    *file = NULL;
    char *path = cache != NULL ? mk_sa_pf_cache_path(cache, p, n, ".hs", NULL) : NULL;
    hs_database_t *db = NULL;
    /* mapped, not read: vectorscan copies it anyway (the stock rules' files
     * hold 36 MB, which a read copied once more) */
    GMappedFile *map = path != NULL ? g_mapped_file_new(path, FALSE, NULL) : NULL;
    if (map != NULL && hs_deserialize_database(g_mapped_file_get_contents(map),
                                               g_mapped_file_get_length(map), &db) != HS_SUCCESS)
        db = NULL; /* damaged or from another build: compiled again */
    if (map != NULL)
        g_mapped_file_unref(map);
    int compiled = db == NULL;
    if (db == NULL) {
        const char **exprs = g_new(const char *, n);
        unsigned *flags = g_new(unsigned, n), *ids = g_new(unsigned, n);
        for (guint k = 0; k < n; k++)
            exprs[k] = p[k]->expr, flags[k] = p[k]->flags, ids[k] = p[k]->id;
        if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &db, cerr) != HS_SUCCESS)
            db = NULL;
        g_free(exprs);
        g_free(flags);
        g_free(ids);
    }
    if (db == NULL) {
        g_free(path);
        return NULL;
    }
    char *ser = NULL;
    size_t slen = 0;
    if (path != NULL && compiled && hs_serialize_database(db, &ser, &slen) == HS_SUCCESS) {
        if (!g_file_set_contents(path, ser, (gssize)slen, NULL))
            mk_log(LOG_DEBUG, NULL, "rules: prefilter: cannot write %s", path);
        free(ser);
    }
    if (path != NULL)
        *file = g_path_get_basename(path);
    g_free(path);
    return db;
}

/* mk_sa_pf_compile, the file's name added to used (or NULL). */
static hs_database_t *mk_sa_pf_compile_kept(const char *cache, GHashTable *used,
                                            mk_sa_pf_pat *const *p, guint n,
                                            hs_compile_error_t **cerr)
{
    char *file = NULL;
    hs_database_t *db = mk_sa_pf_compile(cache, p, n, cerr, &file);
    if (file != NULL && used != NULL)
        g_hash_table_add(used, file);
    else
        g_free(file);
    return db;
}

/* Sets the state of each pattern from the cache's list for the same
 * patterns (a file of MK_SA_PF_* characters, its name ending in .ok),
 * which saves a start with a warm cache most of its time; 1 when read.
 * Else asks hs_expression_info which vectorscan reads (what it cannot
 * stays out of the databases, and always runs), and returns 0: the
 * caller finds the rest and writes the list. */
static int mk_sa_pf_states(const char *list, mk_sa_pf_pat *const *p, guint n)
{
    gchar *text = NULL;
    gsize len = 0;
    if (list != NULL && g_file_get_contents(list, &text, &len, NULL) && len == n &&
        strspn(text, "012") == n) {
        for (guint k = 0; k < n; k++)
            p[k]->state = text[k];
        g_free(text);
        return 1;
    }
    g_free(text);
    for (guint k = 0; k < n; k++) {
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *cerr = NULL;
        int ok = hs_expression_info(p[k]->expr, p[k]->flags, &info, &cerr) == HS_SUCCESS;
        if (!ok)
            hs_free_compile_error(cerr);
        free(info);
        p[k]->state = ok ? MK_SA_PF_IN : MK_SA_PF_UNREAD;
    }
    return 0;
}

/* Where a scan of a message's lines (as one text) puts what it finds:
 * each pattern id reported in maybe and, with where, the line its match
 * ends in flagged in where[id] (a flag per line of the caller's, made on
 * the first; the caller g_frees them). */
typedef struct mk_sa_pf_marks {
    uint8_t *maybe;
    uint8_t **where;        /* or NULL: no lines kept */
    const size_t *line_end; /* where each line of the text scanned ends (exclusive) */
    const size_t *line_of;  /* the caller's line of each (NULL: the same) */
    size_t n_lines;         /* of the text scanned */
    size_t n_all;           /* the caller's lines */
    size_t at;              /* the line of the last match: the next ends there most often */
} mk_sa_pf_marks;

/* The line (of line_end[0, n)) that offset to falls in: the first ending
 * at or after it; n when none does. hint: the likely one. */
static size_t mk_sa_pf_line_at(const size_t *line_end, size_t n, size_t hint, unsigned long long to)
{
    if (hint < n && line_end[hint] >= to && (hint == 0 || line_end[hint - 1] < to))
        return hint;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (line_end[mid] < to)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Flags line l (the caller's) of where[id], made on first need. */
static void mk_sa_pf_flag_line(const mk_sa_pf_marks *m, unsigned id, size_t l)
{
    if (m->where[id] == NULL)
        m->where[id] = g_new0(uint8_t, m->n_all + 1);
    m->where[id][l] = 1;
}

/* Vectorscan's report from a message's scan (ctx: its mk_sa_pf_marks):
 * pattern id may match, in the line its match ends in. Every match of a
 * pattern in a line is a match of its prefilter copy ending at the same
 * place (the copy only widens; ^, $ and \b read the same at a line's
 * ends), so the lines flagged hold every match PCRE2 can find. */
static int mk_sa_pf_mark(unsigned id, unsigned long long from, unsigned long long to,
                         unsigned flags, void *ctx)
{
    (void)from, (void)flags;
    mk_sa_pf_marks *m = ctx;
    m->maybe[id] = 1;
    if (m->where == NULL)
        return 0;
    size_t l = mk_sa_pf_line_at(m->line_end, m->n_lines, m->at, to);
    if (l == m->n_lines)
        return 0; /* past the last line's end: no match in a line ends there */
    m->at = l;
    mk_sa_pf_flag_line(m, id, m->line_of != NULL ? m->line_of[l] : l);
    return 0;
}

/* Scans the ordinary text above with db, setting fired[id] for each
 * pattern id it finds there; 0, or -1 when it could not scan. */
static int mk_sa_pf_scan_ordinary(hs_database_t *db, uint8_t *fired)
{
    hs_scratch_t *s = NULL;
    if (hs_alloc_scratch(db, &s) != HS_SUCCESS)
        return -1;
    mk_sa_pf_marks m = {.maybe = fired}; /* (no lines kept) */
    hs_error_t rc =
        hs_scan(db, mk_sa_pf_ordinary, sizeof(mk_sa_pf_ordinary) - 1, 0, s, mk_sa_pf_mark, &m);
    hs_free_scratch(s);
    return rc == HS_SUCCESS ? 0 : -1;
}

/* Marks MK_SA_PF_ORDINARY the patterns p[0, n) that db (theirs) finds in
 * ordinary text; whether any. fired: scratch of a byte per rule, zeroed. */
static int mk_sa_pf_ordinary_of(hs_database_t *db, mk_sa_pf_pat *const *p, guint n, uint8_t *fired)
{
    int any = 0;
    if (mk_sa_pf_scan_ordinary(db, fired) == 0)
        for (guint k = 0; k < n; k++)
            if (fired[p[k]->id]) {
                p[k]->state = MK_SA_PF_ORDINARY;
                fired[p[k]->id] = 0;
                any = 1;
            }
    return any;
}

/* The least width of a pattern's tail held in its stead: a shorter one
 * (\@ of [bcdfgjklmnpqrstvwxz]{7}\S*\@) passes nearly every message. */
#define MK_SA_PF_TAIL_WIDTH 4

/* Whether pattern p, alone, compiles and tells lines apart: it matches
 * MK_SA_PF_TAIL_WIDTH characters or more, and not ordinary text. Its
 * database is cached (its file added to used) as the others are, so a
 * start with a warm cache only reads it. */
static int mk_sa_pf_tells(const char *cache, GHashTable *used, mk_sa_pf_pat *p)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *cerr = NULL;
    int wide = hs_expression_info(p->expr, p->flags, &info, &cerr) == HS_SUCCESS &&
               info->min_width >= MK_SA_PF_TAIL_WIDTH;
    free(info);
    hs_free_compile_error(cerr);
    cerr = NULL;
    if (!wide)
        return 0;
    hs_database_t *db = mk_sa_pf_compile_kept(cache, used, &p, 1, &cerr);
    hs_free_compile_error(cerr);
    uint8_t *fired = g_new0(uint8_t, p->id + 1);
    int tells = db != NULL && mk_sa_pf_scan_ordinary(db, fired) == 0 && !fired[p->id];
    g_free(fired);
    if (db != NULL)
        hs_free_database(db);
    return tells;
}

/* Vectorscan's report from the gates' database: one more end of part id
 * (ctx: a GArray of mk_sa_pf_end). */
static int mk_sa_pf_gate_hit(unsigned id, unsigned long long from, unsigned long long to,
                             unsigned flags, void *ctx)
{
    (void)from, (void)flags;
    mk_sa_pf_end e = {id, to};
    g_array_append_val((GArray *)ctx, e);
    return 0;
}

static gint mk_sa_pf_end_cmp(gconstpointer a, gconstpointer b)
{
    const mk_sa_pf_end *x = a, *y = b;
    if (x->gate != y->gate)
        return x->gate < y->gate ? -1 : 1;
    return x->to < y->to ? -1 : x->to > y->to;
}

/* Where the chain gates' parts start in the lines of text flagged in
 * lines[0, n_lines) (each ends at line_end[i], a '\n'): the ends of rdb's
 * parts (theirs reversed) in those lines, joined and reversed, as
 * positions in text, sorted as mk_sa_pf_end_cmp sorts; NULL when the scan
 * failed. Every start of a match that lies within a line is found; a
 * match across the end of a line may differ from the whole text's, which
 * a chain within one line never uses. */
static GArray *mk_sa_pf_starts(hs_database_t *rdb, hs_scratch_t *s, const char *text,
                               const size_t *line_end, size_t n_lines, const uint8_t *lines)
{
    /* the lines flagged, one after another: where each starts in the
     * joined text (at) and in text (orig) */
    size_t n_seg = 0, len = 0;
    for (size_t i = 0; i < n_lines; i++)
        if (lines[i])
            n_seg++, len += line_end[i] + 1 - (i > 0 ? line_end[i - 1] + 1 : 0);
    size_t *at = g_new(size_t, n_seg + 1), *orig = g_new(size_t, n_seg + 1);
    char *rtext = g_malloc(len + 1);
    size_t k = 0, filled = 0;
    for (size_t i = 0; i < n_lines; i++) {
        if (!lines[i])
            continue;
        size_t from = i > 0 ? line_end[i - 1] + 1 : 0;
        at[k] = filled, orig[k++] = from;
        for (size_t j = from; j <= line_end[i]; j++) /* reversed as it goes in */
            rtext[len - 1 - filled++] = text[j];
    }
    GArray *starts = g_array_new(FALSE, FALSE, sizeof(mk_sa_pf_end));
    int ok = hs_scan(rdb, rtext, (unsigned)len, 0, s, mk_sa_pf_gate_hit, starts) == HS_SUCCESS;
    g_free(rtext);
    for (guint i = 0; ok && i < starts->len; i++) {
        mk_sa_pf_end *e = &g_array_index(starts, mk_sa_pf_end, i);
        size_t p = len - (size_t)e->to, lo = 0, hi = n_seg; /* the last segment at or before p */
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (at[mid] <= p)
                lo = mid;
            else
                hi = mid;
        }
        e->to = orig[lo] + (p - at[lo]);
    }
    g_free(at);
    g_free(orig);
    if (!ok) {
        g_array_free(starts, TRUE);
        return NULL;
    }
    g_array_sort(starts, mk_sa_pf_end_cmp);
    return starts;
}

/* The positions of the matches in ends (sorted by part), in that order
 * (g_free it), and in *at where each part's begin: part p's are at
 * [(*at)[p], (*at)[p + 1]), for the n parts (g_free it). */
static unsigned long long *mk_sa_pf_by_part(const GArray *ends, size_t n, guint **at)
{
    unsigned long long *to = g_new(unsigned long long, ends->len + 1);
    *at = g_new(guint, n + 1);
    guint k = 0;
    for (size_t p = 0; p <= n; p++) {
        (*at)[p] = k;
        for (; k < ends->len && g_array_index(ends, mk_sa_pf_end, k).gate <= p; k++)
            to[k] = g_array_index(ends, mk_sa_pf_end, k).to;
    }
    return to;
}

/* Scans text (its lines ending at line_end[0, n_lines), exclusive) with
 * db, the parts of gate[0, n), and with rdb (or NULL) the chain gates'
 * parts reversed; pass[g]: whether gate g's count (or chain) is held in
 * a line, and with ok (or NULL), ok[g]: NULL, or where it is (a flag per
 * line; g_free it). 0, or -1 when a scan failed (pass is then unset).
 * Only the lines where a chain gate's count is held are scanned
 * reversed (a chain of count matches holds count matches, each ending
 * width or more past the last): the count gates of the form-filling
 * rules passed about one message in three. */
static int mk_sa_pf_gates_scan(hs_database_t *db, hs_database_t *rdb, const mk_sa_pf_gate *gate,
                               size_t n, hs_scratch_t *s, const char *text, size_t len,
                               const size_t *line_end, size_t n_lines, uint8_t *pass, uint8_t **ok)
{
    GArray *ends = g_array_new(FALSE, FALSE, sizeof(mk_sa_pf_end));
    if (hs_scan(db, text, (unsigned)len, 0, s, mk_sa_pf_gate_hit, ends) != HS_SUCCESS) {
        g_array_free(ends, TRUE);
        return -1;
    }
    g_array_sort(ends, mk_sa_pf_end_cmp);
    guint *at, *at_from = NULL;
    unsigned long long *to = mk_sa_pf_by_part(ends, n, &at), *from = NULL;
    uint8_t *chained = NULL; /* lines where a chain gate's count is held */
    int any_chain = 0;       /* in some line */
    memset(pass, 0, n);
    for (unsigned g = 0; g < n; g++) {
        unsigned p = gate[g].part;
        if (at[p + 1] == at[p])
            continue;
        int chain = gate[g].chain && rdb != NULL;
        if (chain && chained == NULL)
            chained = g_new0(uint8_t, n_lines + 1);
        uint8_t *lines_ok = ok != NULL && !chain ? g_new0(uint8_t, n_lines + 1) : NULL;
        pass[g] = mk_sa_pf_gate_pass(to + at[p], at[p + 1] - at[p], line_end, n_lines,
                                     gate[g].count, gate[g].width, chain ? chained : lines_ok) > 0;
        any_chain |= chain && pass[g];
        if (ok != NULL && pass[g] && !chain)
            ok[g] = lines_ok;
        else
            g_free(lines_ok);
    }
    int rc = 0;
    GArray *starts = NULL;
    if (any_chain && (starts = mk_sa_pf_starts(rdb, s, text, line_end, n_lines, chained)) == NULL)
        rc = -1;
    if (starts != NULL)
        from = mk_sa_pf_by_part(starts, n, &at_from);
    for (unsigned g = 0; starts != NULL && g < n; g++) { /* the chain gates whose count held */
        if (!gate[g].chain || !pass[g])
            continue;
        unsigned p = gate[g].part;
        uint8_t *lines_ok = ok != NULL ? g_new0(uint8_t, n_lines + 1) : NULL;
        pass[g] = mk_sa_pf_chain_pass(to + at[p], at[p + 1] - at[p], from + at_from[p],
                                      at_from[p + 1] - at_from[p], line_end, n_lines, gate[g].count,
                                      lines_ok) > 0;
        if (ok != NULL && pass[g])
            ok[g] = lines_ok;
        else
            g_free(lines_ok);
    }
    if (rc != 0)
        memset(pass, 0, n);
    g_free(at);
    g_free(at_from);
    g_free(to);
    g_free(from);
    g_free(chained);
    g_array_free(ends, TRUE);
    if (starts != NULL)
        g_array_free(starts, TRUE);
    return rc;
}

/* The lines of ordinary text: where each ends; *n their number. g_free it. */
static size_t *mk_sa_pf_ordinary_lines(size_t *n)
{
    size_t *end = g_new(size_t, sizeof(mk_sa_pf_ordinary));
    *n = 0;
    for (size_t i = 0; i + 1 < sizeof(mk_sa_pf_ordinary); i++)
        if (mk_sa_pf_ordinary[i] == '\n')
            end[(*n)++] = i;
    return end;
}

/* The parts of a pattern tried for its gate, best first */
#define MK_SA_PF_GATE_TRIES 4

/* The longest pattern tried as written behind a gate: vectorscan's
 * compile time grows fast with large counted repeats (the stock
 * form-filling rules as written take 3 to 17 seconds each). */
#define MK_SA_PF_WHOLE_MAX 1024

/* Gates being found: where their databases are cached, the lines of
 * ordinary text, and those found so far. */
typedef struct mk_sa_pf_gating {
    const char *cache;
    GHashTable *used;
    mk_sa_memo *memo;
    size_t *line_end; /* where the lines of ordinary text end (owned) */
    size_t n_lines;
    char *ordinary_low; /* the ordinary text in lower case, for caseless literals (owned) */
    GArray *pats;       /* of mk_sa_pf_pat, id: its index in gates */
    GArray *gates;      /* of mk_sa_pf_gate */
} mk_sa_pf_gating;

/* Whether gate (its part expr with vectorscan's flags, compiled alone as
 * db, and for a chain gate reversed as rdb) lets a line of ordinary text
 * through, or cannot tell lines apart (db NULL: *why left as it is; the
 * part may match nothing; a scan fails); sets gate->width to the part's
 * least width and *why. Frees db and rdb. */
static int mk_sa_pf_gate_lets_through(const mk_sa_pf_gating *gt, hs_database_t *db,
                                      hs_database_t *rdb, const char *expr, unsigned flags,
                                      mk_sa_pf_gate *gate, const char **why)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *cerr = NULL;
    hs_scratch_t *s = NULL;
    uint8_t pass = 1;
    if (db != NULL && hs_expression_info(expr, flags, &info, &cerr) == HS_SUCCESS) {
        gate->width = info->min_width;
        free(info);
        *why = gate->width == 0 ? "may match nothing" : "passes ordinary text";
        if (gate->width > 0 && hs_alloc_scratch(db, &s) == HS_SUCCESS &&
            (rdb == NULL || hs_alloc_scratch(rdb, &s) == HS_SUCCESS) &&
            mk_sa_pf_gates_scan(db, rdb, gate, 1, s, mk_sa_pf_ordinary,
                                sizeof(mk_sa_pf_ordinary) - 1, gt->line_end, gt->n_lines, &pass,
                                NULL) != 0)
            pass = 1;
    }
    hs_free_compile_error(cerr);
    if (s != NULL)
        hs_free_scratch(s);
    if (db != NULL)
        hs_free_database(db);
    if (rdb != NULL)
        hs_free_database(rdb);
    return pass || gate->width == 0;
}

/* Adds to gt the gate of rule: count matches of expr (taken; vectorscan's
 * flags), each ending width or more past the last; or with rexpr (taken;
 * expr reversed), count matches of expr end to end (mk_sa_pf_chain.c). */
static void mk_sa_pf_gate_add(mk_sa_pf_gating *gt, unsigned rule, char *expr, unsigned flags,
                              unsigned count, unsigned width, char *rexpr)
{
    mk_sa_pf_pat pat = {
        .expr = expr, .flags = flags, .id = gt->gates->len, .state = MK_SA_PF_IN, .rexpr = rexpr};
    mk_sa_pf_gate gate = {rule, count, width, rexpr != NULL, gt->gates->len};
    g_array_append_val(gt->pats, pat);
    g_array_append_val(gt->gates, gate);
}

/* A gate of rule r (number rule) by part, a piece of its pattern that
 * count matches of (on one line) must precede any match, its counted
 * repeats kept or (exact 0) widened: added to gt when vectorscan
 * compiles it alone and no line of ordinary text holds its count;
 * whether it was. what names the part in the debug log. The database is
 * cached as the others are. */
static int mk_sa_pf_gate_try(mk_sa_pf_gating *gt, const mk_sa_rule *r, unsigned rule,
                             const char *part, unsigned count, int exact, const char *what)
{
    mk_sa_pf_pat pat = {.expr = mk_sa_pf_copy(part, r->opts, exact),
                        .flags = mk_sa_pf_flags(r->opts) &
                                 ~(unsigned)(HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY),
                        .id = 0, /* alone; in the gates' database, its index */
                        .state = MK_SA_PF_IN};
    mk_sa_pf_gate gate = {rule, count, 0, 0, 0};
    hs_compile_error_t *cerr = NULL;
    mk_sa_pf_pat *one[] = {&pat};
    hs_database_t *db = mk_sa_pf_compile_kept(gt->cache, gt->used, one, 1, &cerr);
    hs_free_compile_error(cerr);
    const char *why = "does not compile";
    if (mk_sa_pf_gate_lets_through(gt, db, NULL, pat.expr, pat.flags, &gate, &why)) {
        mk_log(LOG_DEBUG, NULL, "rules: prefilter: %s: %s%s %s", r->name, what,
               exact ? "" : " (widened)", why);
        g_free(pat.expr);
        return 0;
    }
    mk_sa_pf_gate_add(gt, rule, pat.expr, pat.flags, count, gate.width, NULL);
    return 1;
}

/* Whether the prefilter's copy of part (with options opts) widens it. */
static int mk_sa_pf_widens(const char *part, uint32_t opts)
{
    char *exact = mk_sa_pf_copy(part, opts, 1), *wide = mk_sa_pf_copy(part, opts, 0);
    int widens = strcmp(exact, wide) != 0;
    g_free(exact);
    g_free(wide);
    return widens;
}

/* mk_sa_pf_gate_try with part as written (when as_written), else or
 * then widened (unless that is the same). */
static int mk_sa_pf_gate_try_both(mk_sa_pf_gating *gt, const mk_sa_rule *r, unsigned rule,
                                  const char *part, unsigned count, int as_written,
                                  const char *what)
{
    if (as_written && mk_sa_pf_gate_try(gt, r, rule, part, count, 1, what))
        return 1;
    return (!as_written || mk_sa_pf_widens(part, r->opts)) &&
           mk_sa_pf_gate_try(gt, r, rule, part, count, 0, what);
}

/* A chain gate of rule r (number rule), which is one group repeated
 * (mk_sa_pf_chain.c), added to gt when vectorscan compiles the group and
 * it reversed, each whole, and ordinary text holds no chain of them;
 * whether it was. Their databases are cached as the others are. */
static int mk_sa_pf_chain_try(mk_sa_pf_gating *gt, const mk_sa_rule *r, unsigned rule)
{
    unsigned k;
    char *part = mk_sa_pf_chain_part(r->source, r->opts, &k);
    if (part == NULL)
        return 0;
    unsigned flags = HS_FLAG_MULTILINE | (r->opts & PCRE2_CASELESS ? HS_FLAG_CASELESS : 0) |
                     (r->opts & PCRE2_DOTALL ? HS_FLAG_DOTALL : 0);
    mk_sa_pf_pat fwd = {.expr = mk_sa_pf_chain_copy(part, 0), .flags = flags, .state = MK_SA_PF_IN},
                 rev = {.expr = mk_sa_pf_chain_copy(part, 1), .flags = flags, .state = MK_SA_PF_IN};
    g_free(part);
    mk_sa_pf_gate gate = {rule, k, 0, 1, 0};
    hs_compile_error_t *cerr = NULL;
    hs_database_t *db = NULL, *rdb = NULL;
    mk_sa_pf_pat *one[] = {&fwd}, *rone[] = {&rev};
    const char *why = "cannot be read";
    if (fwd.expr != NULL && rev.expr != NULL) {
        why = "does not compile whole";
        db = mk_sa_pf_compile_kept(gt->cache, gt->used, one, 1, &cerr);
        hs_free_compile_error(cerr);
        cerr = NULL;
        rdb = db != NULL ? mk_sa_pf_compile_kept(gt->cache, gt->used, rone, 1, &cerr) : NULL;
        hs_free_compile_error(cerr);
    }
    if (rdb == NULL)
        g_clear_pointer(&db, hs_free_database);
    if (mk_sa_pf_gate_lets_through(gt, db, rdb, fwd.expr, flags, &gate, &why)) {
        mk_log(LOG_DEBUG, NULL, "rules: prefilter: %s: its repeated part %s", r->name, why);
        g_free(fwd.expr);
        g_free(rev.expr);
        return 0;
    }
    mk_sa_pf_gate_add(gt, rule, fwd.expr, flags, k, gate.width, rev.expr);
    return 1;
}

/* The gate of rule r (number rule), which no database holds, added to
 * gt: the first of its pattern as written (it was widened: a large
 * counted repeat, or one open-ended, as in ten long words in a row), a
 * part every match holds count times (mk_sa_pf_gate_part, each as
 * written, then widened: the wider, the more lines hold it); whether it
 * has one. (Each alternative of a pattern alone was tried too, for the
 * look-alike spellings of __PAY_ME and __MY_MALWARE, which vectorscan
 * approximates as any word together but keeps whole alone: their tables,
 * about a megabyte an alternative, scanned for every message, made the
 * whole 9 % slower than running the two rules in PCRE2.) A chain gate
 * (mk_sa_pf_chain_try) comes before them all: it lets through far fewer
 * lines. The search of mk_sa_pf_gates_of. */
static int mk_sa_pf_gates_find(mk_sa_pf_gating *gt, const mk_sa_rule *r, unsigned rule)
{
    if (mk_sa_pf_chain_try(gt, r, rule))
        return 1;
    if (strlen(r->source) <= MK_SA_PF_WHOLE_MAX && mk_sa_pf_widens(r->source, r->opts) &&
        mk_sa_pf_gate_try(gt, r, rule, r->source, 1, 1, "its pattern as written"))
        return 1;
    for (unsigned nth = 0; nth < MK_SA_PF_GATE_TRIES; nth++) {
        unsigned count;
        char *part = mk_sa_pf_gate_part(r->source, r->opts, nth, &count);
        if (part == NULL)
            break;
        char what[32];
        snprintf(what, sizeof(what), "part %u of it", nth);
        int found = mk_sa_pf_gate_try_both(gt, r, rule, part, count, 1, what);
        g_free(part);
        if (found)
            return 1;
    }
    return 0;
}

/* The gate of rule r (number rule) that find adds to gt, or none: as
 * kept in gt's memo under kind (a gate's count, width, vectorscan flags
 * and expression, or "" for none), else found and then kept; whether it
 * has one. */
static int mk_sa_pf_gate_memo(mk_sa_pf_gating *gt, const char *kind,
                              int (*find)(mk_sa_pf_gating *, const mk_sa_rule *, unsigned),
                              const mk_sa_rule *r, unsigned rule)
{
    const char *known = mk_sa_memo_get(gt->memo, kind, r->source, r->opts);
    unsigned count, width, flags;
    int at = 0, chain = known != NULL && strncmp(known, "chain ", 6) == 0;
    const char *nums = chain ? known + 6 : known, *rev = NULL;
    if (known != NULL && *known == '\0')
        return 0;
    if (known != NULL && sscanf(nums, "%u %u %u %n", &count, &width, &flags, &at) == 3 && at > 0 &&
        nums[at] != '\0' && (!chain || (rev = strchr(nums + at, '\n')) != NULL)) {
        const char *expr = nums + at;
        mk_sa_pf_gate_add(gt, rule,
                          rev != NULL ? g_strndup(expr, (gsize)(rev - expr)) : g_strdup(expr),
                          flags, count, width, rev != NULL ? g_strdup(rev + 1) : NULL);
        return 1;
    }
    guint before = gt->gates->len;
    int found = find(gt, r, rule);
    char *value = NULL;
    if (found) {
        const mk_sa_pf_gate *g = &g_array_index(gt->gates, mk_sa_pf_gate, before);
        const mk_sa_pf_pat *p = &g_array_index(gt->pats, mk_sa_pf_pat, before);
        value = p->rexpr != NULL
                    ? g_strdup_printf("chain %u %u %u %s\n%s", g->count, g->width, p->flags,
                                      p->expr, p->rexpr)
                    : g_strdup_printf("%u %u %u %s", g->count, g->width, p->flags, p->expr);
    }
    mk_sa_memo_put(gt->memo, kind, r->source, r->opts, value != NULL ? value : "");
    g_free(value);
    return found;
}

/* mk_sa_pf_gates_find, remembered. */
static int mk_sa_pf_gates_of(mk_sa_pf_gating *gt, const mk_sa_rule *r, unsigned rule)
{
    return mk_sa_pf_gate_memo(gt, "gate", mk_sa_pf_gates_find, r, rule);
}

/* Puts rule r (number rule) behind a gate of its literals (mk_sa_pf_lits.c),
 * found in the gates' database with the gates below (a count of one: the
 * rule may match on the lines that hold one of them), when it has some
 * and ordinary text holds none; whether it did. The search of
 * mk_sa_pf_lit_gate. */
static int mk_sa_pf_lits_find(mk_sa_pf_gating *gt, const mk_sa_rule *r, unsigned rule)
{
    int caseless = 0;
    char **lits = mk_sa_pf_lits(r->source, r->opts, MK_SA_PF_LIT_MIN, &caseless);
    if (lits == NULL)
        return 0;
    const char *text = caseless ? gt->ordinary_low : mk_sa_pf_ordinary;
    GString *part = g_string_new("(?:");
    int in_ordinary = 0;
    size_t shortest = SIZE_MAX;
    for (size_t k = 0; lits[k] != NULL; k++) {
        in_ordinary |= strstr(text, lits[k]) != NULL;
        shortest = MIN(shortest, strlen(lits[k]));
        if (k > 0)
            g_string_append_c(part, '|');
        for (const unsigned char *c = (const unsigned char *)lits[k]; *c != '\0'; c++)
            if (g_ascii_isalnum(*c))
                g_string_append_c(part, (char)*c);
            else
                g_string_append_printf(part, "\\x%02x", *c);
    }
    g_string_append_c(part, ')');
    g_strfreev(lits);
    if (in_ordinary) {
        mk_log(LOG_DEBUG, NULL, "rules: prefilter: %s: ordinary text holds one of its literals",
               r->name);
        g_string_free(part, TRUE);
        return 0;
    }
    mk_sa_pf_gate_add(gt, rule, g_string_free(part, FALSE), caseless ? HS_FLAG_CASELESS : 0, 1,
                      (unsigned)shortest, NULL);
    return 1;
}

/* mk_sa_pf_lits_find, remembered. */
static int mk_sa_pf_lit_gate(mk_sa_pf_gating *gt, const mk_sa_rule *r, unsigned rule)
{
    return mk_sa_pf_gate_memo(gt, "lits", mk_sa_pf_lits_find, r, rule);
}

/* Puts the patterns p[0, n) no database holds behind gates in pf
 * (mk_sa_pf_gates_of). Grows *proto to fit the gates' database; cached
 * as the other databases are. */
static void mk_sa_pf_gates_build(mk_sa_prefilter *pf, mk_sa_rules *rs, mk_sa_pf_pat *const *p,
                                 guint n, mk_sa_pf_gating *gt, hs_scratch_t **proto)
{
    const char *cache = gt->cache;
    GHashTable *used = gt->used;
    GArray *pats = gt->pats, *gates = gt->gates;
    for (guint k = 0; k < n; k++)
        if (p[k]->state != MK_SA_PF_IN)
            (void)mk_sa_pf_gates_of(gt, &rs->r[p[k]->id], p[k]->id);
    g_free(gt->line_end);
    g_free(gt->ordinary_low);
    /* a chain part that a wider one holds (the same with one optional
     * group more, or the same and earlier) is not scanned for: its gates
     * count the wider part's matches, which fall wherever its own do (of
     * the stock rules, the three-word form-filling chain's part is the
     * five-word one's less an optional word after it; each part cost a
     * quarter of the gates' scan) */
    mk_sa_pf_gate *gv = (mk_sa_pf_gate *)(void *)gates->data;
    for (guint j = 0; j < gates->len; j++)
        for (guint i = 0; gv[j].chain && gv[j].part == j && i < gates->len; i++) {
            const mk_sa_pf_pat *pi = &g_array_index(pats, mk_sa_pf_pat, i),
                               *pj = &g_array_index(pats, mk_sa_pf_pat, j);
            if (i != j && gv[i].chain && pi->flags == pj->flags &&
                ((i < j && strcmp(pi->expr, pj->expr) == 0) ||
                 mk_sa_pf_chain_within(pj->expr, pi->expr)))
                gv[j].part = i;
        }
    for (guint j = 0; j < gates->len; j++) /* to the widest (each step longer, or earlier) */
        while (gv[gv[j].part].part != gv[j].part)
            gv[j].part = gv[gv[j].part].part;
    /* the parts, and the chain gates' parts reversed (by the same ids) */
    hs_database_t *db = NULL, *rdb = NULL;
    if (gates->len > 0) {
        mk_sa_pf_pat **all = g_new(mk_sa_pf_pat *, pats->len),
                     **rev = g_new(mk_sa_pf_pat *, pats->len);
        mk_sa_pf_pat *rpats = g_new0(mk_sa_pf_pat, pats->len);
        guint n_fwd = 0, n_rev = 0;
        for (guint k = 0; k < pats->len; k++) {
            if (gv[k].part != k)
                continue; /* (counted by another's part) */
            all[n_fwd] = &g_array_index(pats, mk_sa_pf_pat, k);
            if (all[n_fwd]->rexpr != NULL) {
                rpats[n_rev] = *all[n_fwd];
                rpats[n_rev].expr = all[n_fwd]->rexpr;
                rev[n_rev] = &rpats[n_rev];
                n_rev++;
            }
            n_fwd++;
        }
        hs_compile_error_t *cerr = NULL;
        db = mk_sa_pf_compile_kept(cache, used, all, n_fwd, &cerr);
        if (db != NULL && n_rev > 0 &&
            (rdb = mk_sa_pf_compile_kept(cache, used, rev, n_rev, &cerr)) == NULL)
            g_clear_pointer(&db, hs_free_database);
        if (db == NULL) /* (the rules then run without gates) */
            mk_log(LOG_DEBUG, NULL, "rules: prefilter: gates: %s",
                   cerr != NULL ? cerr->message : "?");
        hs_free_compile_error(cerr);
        g_free(all);
        g_free(rev);
        g_free(rpats);
    }
    if (db != NULL && (hs_alloc_scratch(db, proto) != HS_SUCCESS ||
                       (rdb != NULL && hs_alloc_scratch(rdb, proto) != HS_SUCCESS))) {
        hs_free_database(db);
        db = NULL;
        if (rdb != NULL)
            g_clear_pointer(&rdb, hs_free_database);
    }
    if (db != NULL) {
        pf->gates = db;
        pf->rgates = rdb;
        pf->n_gates = gates->len;
        pf->gate = (mk_sa_pf_gate *)(void *)g_array_free(gates, FALSE);
        for (size_t g = 0; g < pf->n_gates; g++) {
            mk_sa_rule *r = &rs->r[pf->gate[g].rule];
            r->prefiltered = 1;
            if (g < pf->n_lit) /* (the literal gates come first) */
                mk_log(LOG_DEBUG, NULL,
                       "rules: prefilter: %s runs where a line holds one of its literals", r->name);
            else
                mk_log(LOG_DEBUG, NULL,
                       "rules: prefilter: %s runs where a line holds %u match(es) of a part of "
                       "it%s%s%s",
                       r->name, pf->gate[g].count, pf->gate[g].chain ? ", end to end" : "",
                       pf->gate[g].part != g ? ", counted by the wider part of " : "",
                       pf->gate[g].part != g ? rs->r[pf->gate[pf->gate[g].part].rule].name : "");
        }
    } else {
        g_array_free(gates, TRUE);
        pf->n_lit = 0; /* (no gates at all) */
    }
    for (guint k = 0; k < pats->len; k++) {
        g_free(g_array_index(pats, mk_sa_pf_pat, k).expr);
        g_free(g_array_index(pats, mk_sa_pf_pat, k).rexpr);
    }
    g_array_free(pats, TRUE);
}

/* The databases of patterns all[0, n_all), MK_SA_PF_CHUNK readable
 * patterns each (MK_SA_PF_CHUNK_SHORT for a header's, when not ordinary),
 * those that match ordinary text (when ordinary) left
 * out; sets each pattern's state and held. Their states are read from
 * and written to the cache's list; their files are added to used. Grows
 * *proto to fit each database. */
static GPtrArray *mk_sa_pf_databases(mk_sa_rules *rs, mk_sa_pf_pat **all, guint n_all,
                                     const char *cache, GHashTable *used, int ordinary,
                                     hs_scratch_t **proto)
{
    char *list =
        cache != NULL && n_all > 0
            ? mk_sa_pf_cache_path(cache, all, n_all, ".ok", ordinary ? mk_sa_pf_ordinary : NULL)
            : NULL;
    int known = mk_sa_pf_states(list, all, n_all), changed = !known;
    mk_sa_pf_pat **in = g_new(mk_sa_pf_pat *, n_all + 1),
                 **chunk = g_new(mk_sa_pf_pat *, n_all + 1);
    guint n_in = 0;
    for (guint k = 0; k < n_all; k++) {
        all[k]->held = 0;
        if (all[k]->state != MK_SA_PF_UNREAD)
            in[n_in++] = all[k];
    }
    uint8_t *fired = !known && ordinary ? g_new0(uint8_t, rs->n + 1) : NULL;
    GPtrArray *dbs = g_ptr_array_new();
    for (guint at = 0; at < n_in;) {
        guint n = MIN(ordinary ? MK_SA_PF_CHUNK : MK_SA_PF_CHUNK_SHORT, n_in - at), m = 0;
        for (guint k = at; k < at + n; k++)
            if (in[k]->state == MK_SA_PF_IN)
                chunk[m++] = in[k];
        if (m == 0) {
            at += n;
            continue;
        }
        hs_compile_error_t *cerr = NULL;
        char *file = NULL;
        hs_database_t *db = mk_sa_pf_compile(cache, chunk, m, &cerr, &file);
        if (db == NULL) {
            int bad = cerr != NULL && cerr->expression >= 0 && (guint)cerr->expression < m
                          ? cerr->expression
                          : -1;
            mk_log(LOG_DEBUG, NULL, "rules: prefilter: %s: %s",
                   bad >= 0 ? rs->r[chunk[bad]->id].name : "(all)",
                   cerr != NULL ? cerr->message : "?");
            hs_free_compile_error(cerr);
            changed = 1;
            if (bad < 0) { /* the whole chunk stays out */
                for (guint k = 0; k < m; k++)
                    chunk[k]->state = MK_SA_PF_UNREAD;
                at += n;
            } else { /* that one stays out; again */
                chunk[bad]->state = MK_SA_PF_UNREAD;
            }
            continue;
        }
        if (fired != NULL && mk_sa_pf_ordinary_of(db, chunk, m, fired)) {
            /* again without them; the file of this one is not kept (pruned) */
            hs_free_database(db);
            g_free(file);
            continue;
        }
        if (file != NULL && used != NULL)
            g_hash_table_add(used, file);
        else
            g_free(file);
        if (hs_alloc_scratch(db, proto) != HS_SUCCESS) {
            hs_free_database(db);
            at += n;
            continue;
        }
        g_ptr_array_add(dbs, db);
        for (guint k = 0; k < m; k++)
            chunk[k]->held = 1;
        at += n;
    }
    if (list != NULL) { /* kept for the next start */
        char *states = g_new(char, n_all + 1);
        for (guint k = 0; k < n_all; k++)
            states[k] = all[k]->state;
        if (changed && !g_file_set_contents(list, states, (gssize)n_all, NULL))
            mk_log(LOG_DEBUG, NULL, "rules: prefilter: cannot write %s", list);
        if (used != NULL)
            g_hash_table_add(used, g_path_get_basename(list));
        g_free(states);
    }
    g_free(fired);
    g_free(list);
    g_free(in);
    g_free(chunk);
    return dbs;
}

/* Sets p->expr (p's flags and id set) to the prefilter's copy of the
 * tail of pattern held (with options opts), its costly lead left out
 * (mk_sa_pf_lead.c), when it has one that tells lines apart; whether it
 * does. As kept in memo (the copy, or "" for none), else found and then
 * kept. */
static int mk_sa_pf_tail(const char *cache, GHashTable *used, mk_sa_memo *memo, const char *held,
                         uint32_t opts, mk_sa_pf_pat *p)
{
    const char *known = mk_sa_memo_get(memo, "tail", held, opts);
    if (known != NULL) {
        p->expr = *known != '\0' ? g_strdup(known) : NULL;
        return p->expr != NULL;
    }
    char *tail = mk_sa_pf_lead(held, opts);
    if (tail != NULL) {
        p->expr = mk_sa_pf_copy(tail, opts, 0);
        if (!mk_sa_pf_tells(cache, used, p))
            g_clear_pointer(&p->expr, g_free);
        g_free(tail);
    }
    mk_sa_memo_put(memo, "tail", held, opts, p->expr != NULL ? p->expr : "");
    return p->expr != NULL;
}

/* mk_sa_pf_ascii, as kept in memo (its result's number, then the copy),
 * else found and then kept. */
static mk_sa_ascii mk_sa_pf_ascii_memo(mk_sa_memo *memo, const char *pattern, uint32_t opts,
                                       char **ascii)
{
    const char *known = mk_sa_memo_get(memo, "ascii", pattern, opts);
    *ascii = NULL;
    if (known != NULL && known[0] >= '0' + MK_SA_ASCII_SAME &&
        known[0] <= '0' + MK_SA_ASCII_NEVER) {
        mk_sa_ascii a = (mk_sa_ascii)(known[0] - '0');
        if (a == MK_SA_ASCII_COPY)
            *ascii = g_strdup(known + 1);
        return a;
    }
    mk_sa_ascii a = mk_sa_pf_ascii(pattern, opts, ascii);
    char *value = g_strdup_printf("%d%s", (int)a, a == MK_SA_ASCII_COPY ? *ascii : "");
    mk_sa_memo_put(memo, "ascii", pattern, opts, value);
    g_free(value);
    return a;
}

/* Pointers to the patterns of pats, in order; g_free it. */
static mk_sa_pf_pat **mk_sa_pf_pointers(GArray *pats)
{
    mk_sa_pf_pat **p = g_new(mk_sa_pf_pat *, pats->len + 1);
    for (guint k = 0; k < pats->len; k++)
        p[k] = &g_array_index(pats, mk_sa_pf_pat, k);
    return p;
}

static void mk_sa_pf_pats_free(GArray *pats)
{
    for (guint k = 0; k < pats->len; k++)
        g_free(g_array_index(pats, mk_sa_pf_pat, k).expr);
    g_array_free(pats, TRUE);
}

mk_sa_prefilter *mk_sa_prefilter_build(mk_sa_rules *rs, const size_t *rule_ids, size_t n_rules,
                                       const char *cache, GHashTable *used, mk_sa_memo *memo,
                                       int ordinary)
{
    /* each pattern's ASCII copy where it has one (the lines of ASCII text
     * are scanned with those), else the pattern; as written (pats8) for
     * the lines that hold an 8-bit byte, when it has an ASCII copy */
    GArray *pats = g_array_new(FALSE, FALSE, sizeof(mk_sa_pf_pat)),
           *pats8 = g_array_new(FALSE, FALSE, sizeof(mk_sa_pf_pat));
    /* the gates, begun with the literal ones (what a gate saves is judged
     * on ordinary text: so only there) */
    mk_sa_pf_gating gt = {cache,
                          used,
                          memo,
                          NULL,
                          0,
                          NULL,
                          g_array_new(FALSE, FALSE, sizeof(mk_sa_pf_pat)),
                          g_array_new(FALSE, FALSE, sizeof(mk_sa_pf_gate))};
    if (ordinary) {
        gt.line_end = mk_sa_pf_ordinary_lines(&gt.n_lines);
        gt.ordinary_low = g_ascii_strdown(mk_sa_pf_ordinary, -1);
    }
    size_t n_lit = 0;
    for (size_t k = 0; k < n_rules; k++) {
        size_t i = rule_ids[k];
        mk_sa_rule *r = &rs->r[i];
        if (r->re == NULL || r->eval != NULL || r->skip || r->source == NULL)
            continue;
        if (ordinary && !rs->pf_no_lits && mk_sa_pf_lit_gate(&gt, r, (unsigned)i)) {
            n_lit++;
            continue;
        }
        char *ascii = NULL;
        mk_sa_ascii a = mk_sa_pf_ascii_memo(memo, r->source, r->opts, &ascii);
        mk_sa_pf_pat pat = {NULL, mk_sa_pf_flags(r->opts), (unsigned)i, MK_SA_PF_IN, 0, 0, NULL};
        /* the body's, rawbody's and links' databases report every match,
         * for the lines they end in; with one report a pattern, the seven
         * of the stock body rules took 27 % longer */
        if (ordinary)
            pat.flags &= ~(unsigned)HS_FLAG_SINGLEMATCH;
        if (a != MK_SA_ASCII_NEVER) {
            const char *held = a == MK_SA_ASCII_COPY ? ascii : r->source;
            /* its tail, a costly lead left out (mk_sa_pf_lead.c), where
             * that tells lines apart; in the body, rawbody and links only:
             * in headers the tails passed too many messages (the relays'
             * rules read the first relay by ^[^\]]+, whose tails read
             * any), and the whole ran 2 % slower */
            if (ordinary && mk_sa_pf_tail(cache, used, memo, held, r->opts, &pat))
                pat.tail = 1;
            if (pat.expr == NULL)
                pat.expr = mk_sa_pf_copy(held, r->opts, 0);
            g_array_append_val(pats, pat);
            pat.tail = 0; /* (the 8-bit copy below is whole) */
        }
        if (a != MK_SA_ASCII_SAME) {
            pat.expr = mk_sa_pf_copy(r->source, r->opts, 0);
            g_array_append_val(pats8, pat);
        }
        g_free(ascii);
    }
    mk_sa_pf_pat **all = mk_sa_pf_pointers(pats);
    guint n_all = pats->len;
    hs_scratch_t *proto = NULL;
    GPtrArray *dbs = mk_sa_pf_databases(rs, all, n_all, cache, used, ordinary, &proto);
    size_t n_held = 0, n_ordinary = 0, n_tail = 0;
    for (guint k = 0; k < n_all; k++)
        if (all[k]->held) {
            rs->r[all[k]->id].prefiltered = 1;
            n_held++;
            n_tail += all[k]->tail;
        }
    /* those left out behind gates where they can be; the others counted */
    mk_sa_prefilter *pf = g_new0(mk_sa_prefilter, 1);
    pf->n_lit = n_lit;
    if (ordinary) { /* (what a gate saves is judged on ordinary text) */
        mk_sa_pf_gates_build(pf, rs, all, n_all, &gt, &proto);
    } else {
        g_array_free(gt.pats, TRUE);
        g_array_free(gt.gates, TRUE);
    }
    for (guint k = 0; k < n_all; k++)
        if (all[k]->state == MK_SA_PF_ORDINARY && !rs->r[all[k]->id].prefiltered) {
            mk_log(LOG_DEBUG, NULL, "rules: prefilter: %s matches ordinary text: runs without it",
                   rs->r[all[k]->id].name);
            n_ordinary++;
        }
    /* the patterns as written, of the rules the prefilter holds by their
     * ASCII copies (or that no ASCII text matches): for the 8-bit lines */
    uint8_t *main_of = g_new0(uint8_t, rs->n + 1); /* per rule: 0 none, 1 left out, 2 held */
    for (guint k = 0; k < n_all; k++)
        main_of[all[k]->id] = all[k]->held ? 2 : 1;
    GArray *held8 = g_array_new(FALSE, FALSE, sizeof(mk_sa_pf_pat));
    for (guint k = 0; k < pats8->len; k++) {
        mk_sa_pf_pat *p8 = &g_array_index(pats8, mk_sa_pf_pat, k);
        if (main_of[p8->id] == 1)
            continue; /* its ASCII copy is left out: so is the rule (gated or always run) */
        g_array_append_val(held8, *p8);
        p8->expr = NULL;
        n_held += main_of[p8->id] == 0; /* held by the 8-bit lines' scan alone */
    }
    g_free(main_of);
    mk_sa_pf_pat **all8 = mk_sa_pf_pointers(held8);
    GPtrArray *dbs8 = mk_sa_pf_databases(rs, all8, held8->len, cache, used, ordinary, &proto);
    GArray *always8 = g_array_new(FALSE, FALSE, sizeof(unsigned));
    for (guint k = 0; k < held8->len; k++) {
        rs->r[all8[k]->id].prefiltered = 1;
        if (!all8[k]->held) /* vectorscan cannot hold it, or it matches ordinary text: it
                             * runs wherever a line holds an 8-bit byte */
            g_array_append_val(always8, all8[k]->id);
    }
    if (dbs->len > 0 || n_ordinary > 0 || pf->gates != NULL || held8->len > 0) {
        /* (none but those left out: counted all the same) */
        pf->db = dbs;
        pf->db8 = dbs8;
        pf->n_always8 = always8->len;
        pf->always8 = (unsigned *)(void *)g_array_free(always8, FALSE);
        pf->n_ascii = held8->len;
        pf->n_tail = n_tail;
        pf->proto = proto;
        g_mutex_init(&pf->lock);
        pf->free_scratch = g_ptr_array_new();
        pf->n_patterns = n_held;
        pf->n_ordinary = n_ordinary;
    } else {
        g_free(pf);
        pf = NULL;
        g_ptr_array_free(dbs, TRUE);
        g_ptr_array_free(dbs8, TRUE);
        g_array_free(always8, TRUE);
        if (proto != NULL)
            hs_free_scratch(proto);
    }
    g_free(all);
    g_free(all8);
    mk_sa_pf_pats_free(pats);
    mk_sa_pf_pats_free(pats8);
    mk_sa_pf_pats_free(held8);
    return pf;
}

/* The version of what the prefilter's memo keeps: raise it when a
 * kind's value, or how it is found, changes. */
#define MK_SA_PF_MEMO_VERSION "mk-pf-2"

mk_sa_memo *mk_sa_prefilter_memo(const char *cache)
{
    /* every value depends on vectorscan, on the ordinary text and on the
     * least widths; the code's own changes, on the version */
    char *ordinary = g_compute_checksum_for_string(G_CHECKSUM_SHA256, mk_sa_pf_ordinary, -1);
    char *salt =
        g_strdup_printf("%s vectorscan %s literals %d tails %d ordinary %s", MK_SA_PF_MEMO_VERSION,
                        hs_version(), MK_SA_PF_LIT_MIN, MK_SA_PF_TAIL_WIDTH, ordinary);
    mk_sa_memo *memo = mk_sa_memo_open(cache, "prefilter-plan", salt);
    g_free(salt);
    g_free(ordinary);
    return memo;
}

void mk_sa_prefilter_prune(const char *cache, GHashTable *used)
{
    GDir *d = cache != NULL ? g_dir_open(cache, 0, NULL) : NULL;
    if (d == NULL)
        return;
    for (const char *name; (name = g_dir_read_name(d)) != NULL;)
        if ((g_str_has_suffix(name, ".hs") || g_str_has_suffix(name, ".ok")) &&
            !g_hash_table_contains(used, name)) {
            char *path = g_build_filename(cache, name, NULL);
            g_unlink(path);
            g_free(path);
        }
    g_dir_close(d);
}

size_t mk_sa_prefilter_size(const mk_sa_prefilter *pf)
{
    return pf != NULL ? pf->n_patterns : 0;
}

size_t mk_sa_prefilter_ordinary(const mk_sa_prefilter *pf)
{
    return pf != NULL ? pf->n_ordinary : 0;
}

size_t mk_sa_prefilter_gated(const mk_sa_prefilter *pf)
{
    return pf != NULL ? pf->n_gates - pf->n_lit : 0;
}

size_t mk_sa_prefilter_shared(const mk_sa_prefilter *pf)
{
    size_t n = 0;
    for (size_t g = 0; pf != NULL && g < pf->n_gates; g++)
        n += pf->gate[g].part != g;
    return n;
}

size_t mk_sa_prefilter_ascii(const mk_sa_prefilter *pf)
{
    return pf != NULL ? pf->n_ascii : 0;
}

size_t mk_sa_prefilter_lits(const mk_sa_prefilter *pf)
{
    return pf != NULL ? pf->n_lit : 0;
}

size_t mk_sa_prefilter_tails(const mk_sa_prefilter *pf)
{
    return pf != NULL ? pf->n_tail : 0;
}

void mk_sa_prefilter_free(mk_sa_prefilter *pf)
{
    if (pf == NULL)
        return;
    for (guint i = 0; i < pf->free_scratch->len; i++)
        hs_free_scratch(pf->free_scratch->pdata[i]);
    g_ptr_array_free(pf->free_scratch, TRUE);
    hs_free_scratch(pf->proto);
    for (guint i = 0; i < pf->db->len; i++)
        hs_free_database(pf->db->pdata[i]);
    g_ptr_array_free(pf->db, TRUE);
    for (guint i = 0; i < pf->db8->len; i++)
        hs_free_database(pf->db8->pdata[i]);
    g_ptr_array_free(pf->db8, TRUE);
    g_free(pf->always8);
    if (pf->gates != NULL)
        hs_free_database(pf->gates);
    if (pf->rgates != NULL)
        hs_free_database(pf->rgates);
    g_free(pf->gate);
    g_mutex_clear(&pf->lock);
    g_free(pf);
}

/* Sets maybe[rule] for each gate of pf that text (its lines ending at
 * line_end[0, n_lines)) passes, and with where (or NULL) its lines'
 * flags there (mk_sa_prefilter_scan); 0, or -1 when the scan failed.
 * s: scratch that fits the gates' database. */
static int mk_sa_pf_gates_mark(const mk_sa_prefilter *pf, hs_scratch_t *s, const GString *text,
                               const size_t *line_end, size_t n_lines, uint8_t *maybe,
                               uint8_t **where)
{
    uint8_t *pass = g_new(uint8_t, pf->n_gates);
    uint8_t **ok = where != NULL ? g_new0(uint8_t *, pf->n_gates) : NULL;
    int rc = mk_sa_pf_gates_scan(pf->gates, pf->rgates, pf->gate, pf->n_gates, s, text->str,
                                 text->len, line_end, n_lines, pass, ok);
    for (size_t g = 0; rc == 0 && g < pf->n_gates; g++)
        if (pass[g]) {
            maybe[pf->gate[g].rule] = 1;
            if (ok != NULL) {
                g_free(where[pf->gate[g].rule]);
                where[pf->gate[g].rule] = g_steal_pointer(&ok[g]);
            }
        }
    for (size_t g = 0; ok != NULL && g < pf->n_gates; g++)
        g_free(ok[g]);
    g_free(ok);
    g_free(pass);
    return rc;
}

/* Whether s[0, len) holds a byte of 0x80 or more; eight bytes a step. */
static int mk_sa_pf_8bit(const char *s, size_t len)
{
    uint64_t any = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        any |= w;
    }
    for (; i < len; i++)
        any |= (unsigned char)s[i];
    return (any & 0x8080808080808080ULL) != 0;
}

/* Scans the lines[0, n_lines) that hold an 8-bit byte, and only those,
 * with the patterns as written of the rules pf holds by their ASCII
 * copies, and marks in to's maybe and where (its lines: all of lines)
 * those that may match there; 0, or -1 when the scan failed. s: scratch
 * that fits pf's databases. */
static int mk_sa_pf_scan8(const mk_sa_prefilter *pf, hs_scratch_t *s, const char *const *lines,
                          size_t n_lines, const mk_sa_pf_marks *to)
{
    GString *text = NULL;
    size_t *line_end = NULL, *line_of = NULL, n8 = 0;
    for (size_t i = 0; i < n_lines; i++)
        if (mk_sa_pf_8bit(lines[i], strlen(lines[i]))) {
            if (text == NULL) {
                text = g_string_new(NULL);
                line_end = g_new(size_t, n_lines - i);
                line_of = g_new(size_t, n_lines - i);
            }
            g_string_append(text, lines[i]);
            line_end[n8] = text->len;
            line_of[n8++] = i;
            g_string_append_c(text, '\n');
        }
    if (text == NULL)
        return 0;
    mk_sa_pf_marks m = {to->maybe, to->where, line_end, line_of, n8, n_lines, 0};
    int rc = 0;
    for (guint i = 0; i < pf->db8->len && rc == 0; i++)
        if (hs_scan(pf->db8->pdata[i], text->str, (unsigned)text->len, 0, s, mk_sa_pf_mark, &m) !=
            HS_SUCCESS)
            rc = -1;
    for (size_t k = 0; k < pf->n_always8; k++) {
        m.maybe[pf->always8[k]] = 1;
        for (size_t l = 0; m.where != NULL && l < n8; l++)
            mk_sa_pf_flag_line(&m, (unsigned)pf->always8[k], line_of[l]);
    }
    g_string_free(text, TRUE);
    g_free(line_end);
    g_free(line_of);
    return rc;
}

int mk_sa_prefilter_scan(mk_sa_prefilter *pf, const char *const *lines, uint8_t *maybe,
                         uint8_t **where)
{
    GString *text = g_string_new(NULL);
    size_t n_lines = 0;
    while (lines != NULL && lines[n_lines] != NULL)
        n_lines++;
    /* where each line ends, for the gates and the lines' flags */
    size_t *line_end = pf->gates != NULL || where != NULL ? g_new(size_t, n_lines + 1) : NULL;
    for (size_t i = 0; i < n_lines; i++) {
        g_string_append(text, lines[i]);
        if (line_end != NULL)
            line_end[i] = text->len;
        g_string_append_c(text, '\n');
    }
    g_mutex_lock(&pf->lock);
    hs_scratch_t *s =
        pf->free_scratch->len > 0
            ? g_ptr_array_steal_index_fast(pf->free_scratch, pf->free_scratch->len - 1)
            : NULL;
    g_mutex_unlock(&pf->lock);
    int rc = -1;
    if (s != NULL || hs_clone_scratch(pf->proto, &s) == HS_SUCCESS) {
        rc = 0;
        mk_sa_pf_marks m = {maybe, where, line_end, NULL, n_lines, n_lines, 0};
        for (guint i = 0; i < pf->db->len && rc == 0; i++)
            if (hs_scan(pf->db->pdata[i], text->str, (unsigned)text->len, 0, s, mk_sa_pf_mark,
                        &m) != HS_SUCCESS)
                rc = -1;
        if (pf->gates != NULL && rc == 0)
            rc = mk_sa_pf_gates_mark(pf, s, text, line_end, n_lines, maybe, where);
        if (pf->n_ascii > 0 && rc == 0 && mk_sa_pf_8bit(text->str, text->len))
            rc = mk_sa_pf_scan8(pf, s, lines, n_lines, &m);
        g_mutex_lock(&pf->lock);
        g_ptr_array_add(pf->free_scratch, s);
        g_mutex_unlock(&pf->lock);
    }
    g_string_free(text, TRUE);
    g_free(line_end);
    return rc;
}
