/*
 * mk_bayes_tok: the tokens of a message for the Bayes classifier, made the
 * way SpamAssassin's Bayes makes them (Bayes.pm: tokenize):
 *
 *  - body: the rendered text (Subject first) cut into words of letters,
 *    digits, 8-bit characters and - , @ * ! _ ' " $ . ; runs of dots or
 *    dashes between words split them; leading and trailing - ' " . ,
 *    trimmed; words under 3 bytes and SpamAssassin's English stop words
 *    dropped; a word longer than 15 bytes becomes "sk:" and its
 *    first 7 characters, or pairs of characters "8:xx" when it is 8-bit
 *    text; a word with capitals or punctuation also counts lowercased and
 *    stripped; mail addresses give "U*user" and "D*domain" tokens, domain
 *    names "UD:" tokens for themselves and each parent domain;
 *  - headers: the words of each header's decoded value, prefixed "H" and
 *    the header's name, except headers that delivery or filters add
 *    (X-Spam-*, Delivered-To, Status, ...); of the Received headers the
 *    two oldest, reduced to their host names and addresses, addresses
 *    also by /24 and /16; the hops of the Received chain as SpamAssassin
 *    reads it (mk_relays), trusted ones prefixed "H*RT:", the others
 *    "H*RU:", and again as internal and external;
 *    Message-ID and References to their domains;
 *  - links: "UD:" tokens for each linked host and its parent domains;
 *  - the text of HTML parts that no one sees (white on white, a font of
 *    size 1, display: none, ...: mk_sa_visible_text, as SpamAssassin 4
 *    reads it): its words prefixed "I*:" and kept out of the body words,
 *    which are those of the text a reader sees ("Via<span
 *    style=display:none>xq</span>gra" gives "Viagra" and "I*:xq").
 *
 * Each token is a 64-bit FNV-1a hash of its text.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mk_bayes.h"
#include "mk_html_dom.h"
#include "mk_relays.h"
#include "mk_sa.h"
#include "mk_uri.h"

#define MK_BAYES_MAX_TOKEN_LEN 15
#define MK_BAYES_TOKEN_MAX     255 /* bytes of a token's text, prefix included */

typedef struct mk_bayes_tk {
    GArray *h;        /* uint64_t */
    GPtrArray *names; /* or NULL */
} mk_bayes_tk;

#define MK_BAYES_FNV_BASIS 0xcbf29ce484222325ULL

/* FNV-1a of the n bytes at s, on from h (MK_BAYES_FNV_BASIS to start). */
static uint64_t mk_bayes_hash(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Adds prefix + the n bytes at s (the whole cut to 255 bytes). */
static void mk_bayes_emit(mk_bayes_tk *tk, const char *prefix, const char *s, size_t n)
{
    if (tk->h->len >= MK_BAYES_MAX_TOKENS * 4)
        return; /* duplicates included: a bound on the work of a huge message */
    size_t p = strlen(prefix);
    if (p + n > MK_BAYES_TOKEN_MAX)
        n = MK_BAYES_TOKEN_MAX - p;
    uint64_t h = mk_bayes_hash(mk_bayes_hash(MK_BAYES_FNV_BASIS, prefix, p), s, n);
    g_array_append_val(tk->h, h);
    if (tk->names != NULL)
        g_ptr_array_add(tk->names, g_strdup_printf("%s%.*s", prefix, (int)n, s));
}

/* Common words that say nothing either way: SpamAssassin's English stop
 * list (bayes_stopword_en of 60_bayes_stopwords.cf, matched whole and in
 * any case), by first letter, each word followed by a space. */
static const char *const mk_bayes_stop[26] = {
    ['a' - 'a'] = "able all already and any are ",
    ['b' - 'a'] = "because both ",
    ['c' - 'a'] = "can come ",
    ['e' - 'a'] = "each email even ",
    ['f' - 'a'] = "few first for from ",
    ['g' - 'a'] = "give ",
    ['h' - 'a'] = "has have http ",
    ['i' - 'a'] = "information into it's ",
    ['j' - 'a'] = "just ",
    ['k' - 'a'] = "know ",
    ['l' - 'a'] = "like long look ",
    ['m' - 'a'] = "made mail mailing mailto make many more most much ",
    ['n' - 'a'] = "need not now number ",
    ['o' - 'a'] = "off one only out own ",
    ['p' - 'a'] = "people place ",
    ['r' - 'a'] = "right ",
    ['s' - 'a'] = "same see such ",
    ['t' - 'a'] = "that the this through time ",
    ['u' - 'a'] = "using ",
    ['w' - 'a'] = "web where why with without work world ",
    ['y' - 'a'] = "year years you you're your ",
};

/* Whether the word w[0, n) is a stop word: compared with the few words
 * of its first letter, by length first, the word lower-cased only when
 * one has its length (most words are not stop words; a binary search of
 * the whole list, g_ascii_tolower and strcmp took half the tokenizer's
 * time over the words). */
static int mk_bayes_stopword(const char *w, size_t n)
{
    char low[12]; /* the longest, "information", and its space */
    if (n >= sizeof(low))
        return 0;
    unsigned first = (unsigned char)mk_sa_ascii_lower(w[0]) - (unsigned)'a';
    if (first >= 26 || mk_bayes_stop[first] == NULL)
        return 0;
    int lowered = 0;
    for (const char *s = mk_bayes_stop[first]; *s != '\0';) {
        const char *e = strchr(s, ' ');
        if ((size_t)(e - s) == n) {
            for (size_t i = 0; !lowered && i < n; i++)
                low[i] = mk_sa_ascii_lower(w[i]);
            lowered = 1;
            if (memcmp(s, low, n) == 0)
                return 1;
        }
        s = e + 1;
    }
    return 0;
}

/* A byte of a word: an ASCII letter or digit (isalnum in the C locale),
 * '_' or any 8-bit byte. */
static int mk_bayes_wordc(unsigned char c)
{
    return (unsigned)((c | 0x20) - 'a') < 26 || (unsigned)(c - '0') < 10 || c == '_' || c >= 0x80;
}

/* Domain name tokens: the name and each parent with a dot left. */
static void mk_bayes_domain(mk_bayes_tk *tk, const char *prefix, const char *s, size_t n)
{
    while (n > 0 && memchr(s, '.', n) != NULL) {
        mk_bayes_emit(tk, prefix, s, n);
        const char *dot = memchr(s, '.', n);
        n -= (size_t)(dot + 1 - s);
        s = dot + 1;
    }
}

/* One word (already trimmed) of region body (1) or header (0). */
static void mk_bayes_word(mk_bayes_tk *tk, const char *prefix, int body, const char *w, size_t n)
{
    if (n < 3 || mk_bayes_stopword(w, n))
        return;
    if (body) {
        const char *at = memchr(w, '@', n);
        if (at != NULL && at > w && at < w + n - 1) {
            mk_bayes_emit(tk, "U*", w, (size_t)(at - w));
            mk_bayes_domain(tk, "D*", at + 1, (size_t)(w + n - at - 1));
            mk_bayes_emit(tk, "D*", at + 1, (size_t)(w + n - at - 1));
        } else {
            for (size_t i = 1; i + 1 < n; i++)
                if (w[i] == '.' && isalpha((unsigned char)w[i + 1]) && w[i - 1] != '.') {
                    mk_bayes_domain(tk, "UD:", w, n);
                    break;
                }
        }
    }
    if (n > MK_BAYES_MAX_TOKEN_LEN && memchr(w, '*', n) == NULL) {
        /* body words keep their prefix ("I*:sk:..."); header words do not */
        char pre[64];
        size_t pl = body ? MIN(strlen(prefix), sizeof(pre) - 4) : 0;
        memcpy(pre, prefix, pl);
        pre[pl] = '\0';
        size_t high = 0;
        for (size_t i = 0; i + 1 < n && high == 0; i++)
            high = (unsigned char)w[i] >= 0xa0 && (unsigned char)w[i + 1] >= 0xa0;
        if (high) {
            memcpy(pre + pl, "8:", 3);
            for (size_t i = 0; i < n; i += 2)
                mk_bayes_emit(tk, pre, w + i, n - i >= 2 ? 2 : 1);
            return;
        }
        size_t cut = 0;
        for (int chars = 0; cut < n && chars < 7; chars++) /* 7 characters, not bytes */
            for (cut++; cut < n && ((unsigned char)w[cut] & 0xc0) == 0x80; cut++)
                ;
        memcpy(pre + pl, "sk:", 4);
        mk_bayes_emit(tk, pre, w, cut);
        return;
    }
    if (body && n <= MK_BAYES_MAX_TOKEN_LEN) { /* (longer ones hold a '*') */
        char low[MK_BAYES_MAX_TOKEN_LEN + 1], strip[MK_BAYES_MAX_TOKEN_LEN + 1];
        size_t ns = 0, upper = 0, punct = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)w[i];
            low[i] = (char)tolower(c);
            upper += isupper(c) != 0;
            if (mk_bayes_wordc(c) || c == ':' || c == '*')
                strip[ns++] = w[i];
            else
                punct++;
        }
        if (punct && ns > 0)
            mk_bayes_emit(tk, prefix, strip, ns);
        if (upper) {
            mk_bayes_emit(tk, prefix, low, n);
            if (punct && ns > 0) {
                for (size_t i = 0; i < ns; i++)
                    strip[i] = (char)tolower((unsigned char)strip[i]);
                mk_bayes_emit(tk, prefix, strip, ns);
            }
        }
    }
    mk_bayes_emit(tk, prefix, w, n);
}

/* The bytes of a word, apart from 8-bit ones: letters, digits, '_' and
 * - , @ * ! ' " $ . as bits, ASCII 0-63 and 64-127 */
#define MK_BAYES_BIT(c) (1ULL << ((unsigned)(c)&63))
#define MK_BAYES_KEEP_LO                                                                           \
    (0x03ff000000000000ULL /* 0-9 */ | MK_BAYES_BIT('-') | MK_BAYES_BIT(',') | MK_BAYES_BIT('*') | \
     MK_BAYES_BIT('!') | MK_BAYES_BIT('\'') | MK_BAYES_BIT('"') | MK_BAYES_BIT('$') |              \
     MK_BAYES_BIT('.'))
#define MK_BAYES_KEEP_HI                                                                           \
    (0x07fffffe07fffffeULL /* A-Z, a-z */ | MK_BAYES_BIT('_') | MK_BAYES_BIT('@'))

/* A byte of a word, or one of - , @ * ! ' " $ . (a table of bits: a
 * switch ran for every byte of the text) */
static int mk_bayes_keep(unsigned char c)
{
    return c >= 0x80 || (((c < 64 ? MK_BAYES_KEEP_LO : MK_BAYES_KEEP_HI) >> (c & 63)) & 1);
}

static int mk_bayes_trim(unsigned char c)
{
    return c == '-' || c == '\'' || c == '"' || c == '.' || c == ',';
}

/* Cuts a line of text into words and gives each to mk_bayes_word. */
static void mk_bayes_text(mk_bayes_tk *tk, const char *prefix, int body, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && !mk_bayes_keep((unsigned char)s[i]))
            i++;
        size_t start = i;
        while (i < len && mk_bayes_keep((unsigned char)s[i])) {
            /* "word...word" and "word--word": the run is a word of its own */
            char c = s[i];
            if ((c == '.' || c == '-') && i > start && mk_bayes_wordc((unsigned char)s[i - 1])) {
                size_t j = i;
                while (j < len && s[j] == c)
                    j++;
                size_t run = j - i;
                if (((c == '.' && run >= 3) || (c == '-' && run >= 2)) && run <= 6 && j < len &&
                    mk_bayes_wordc((unsigned char)s[j]))
                    break;
            }
            i++;
        }
        size_t end = i;
        if (end < len && (s[end] == '.' || s[end] == '-') && end > start) {
            /* the separator run itself */
            size_t j = end;
            while (j < len && s[j] == s[end])
                j++;
            mk_bayes_word(tk, prefix, body, s + end, j - end);
            i = j;
        }
        while (start < end && mk_bayes_trim((unsigned char)s[start]))
            start++;
        while (end > start && mk_bayes_trim((unsigned char)s[end - 1]))
            end--;
        if (end > start)
            mk_bayes_word(tk, prefix, body, s + start, end - start);
    }
}

/* Headers that delivery, filters and mail stores add, which say nothing
 * about the sender (and would teach the classifier the filter's own
 * verdict). */
static int mk_bayes_ignored_header(const char *name)
{
    static const char *const prefixes[] = {"x-spam-",   "x-virus-", "x-mailkeeper-",
                                           "x-amavis-", "x-dspam-", NULL};
    static const char *const names[] = {
        "delivered-to",
        "delivery-date",
        "envelope-to",
        "x-original-to",
        "x-envelope-to",
        "status",
        "x-status",
        "x-uid",
        "x-keywords",
        "content-length",
        "lines",
        "return-path",
        "authentication-results",
        "received-spf",
        "x-mozilla-status",
        "x-mozilla-status2",
        "x-evolution",
        "x-imap",
        "arc-authentication-results",
        NULL,
    };
    char first = g_ascii_tolower(name[0]); /* (the lists are in lower case) */
    for (const char *const *p = prefixes; *p != NULL; p++)
        if (**p == first && g_ascii_strncasecmp(name, *p, strlen(*p)) == 0)
            return 1;
    for (const char *const *p = names; *p != NULL; p++)
        if (**p == first && g_ascii_strcasecmp(name, *p) == 0)
            return 1;
    return 0;
}

/* One word w[0, n) of a Received header, not an "id", "for", ... or the
 * word after one: an address as itself and its /24 and /16, a host name,
 * or its words. */
static void mk_bayes_rcvd_word(mk_bayes_tk *tk, const char *w, size_t n)
{
    char buf[256], *word = n < sizeof(buf) ? buf : g_malloc(n + 1);
    memcpy(word, w, n);
    word[n] = '\0';
    int a, b, c, d;
    char tail;
    /* (sscanf is dear: only a word that can start a number is read) */
    if ((g_ascii_isdigit(*word) || g_ascii_isspace(*word) || *word == '+' || *word == '-') &&
        sscanf(word, "%3d.%3d.%3d.%3d%c", &a, &b, &c, &d, &tail) == 4) {
        char ip[32];
        int k = snprintf(ip, sizeof(ip), "%d.%d.%d.%d", a, b, c, d);
        mk_bayes_emit(tk, "ip*", ip, (size_t)k);
        k = snprintf(ip, sizeof(ip), "%d.%d.%d", a, b, c);
        mk_bayes_emit(tk, "ip*", ip, (size_t)k);
        k = snprintf(ip, sizeof(ip), "%d.%d", a, b);
        mk_bayes_emit(tk, "ip*", ip, (size_t)k);
    } else if (strspn(word, "0123456789.:") == n) {
        /* ports, version numbers */
    } else if (memchr(word, '.', n) != NULL && isalpha((unsigned char)*word)) {
        for (size_t i = 0; i < n; i++)
            word[i] = g_ascii_tolower(word[i]);
        mk_bayes_emit(tk, "HRcvd:", word, n);
    } else if (g_ascii_strcasecmp(word, "from") != 0 && g_ascii_strcasecmp(word, "by") != 0) {
        mk_bayes_text(tk, "HRcvd:", 0, word, n);
    }
    if (word != buf)
        g_free(word);
}

/* The length of the word at p, up to end: to the next of a Received
 * header's separators (0 at one). */
static size_t mk_bayes_rcvd_span(const char *p, const char *end)
{
    size_t n = strcspn(p, " \t\r\n()[]");
    return MIN(n, (size_t)(end - p));
}

/* Received: the names and addresses of the hosts, not the dates and IDs
 * that make every header unique. The words are read where they are, not
 * copied out one by one. */
static void mk_bayes_received(mk_bayes_tk *tk, const char *v)
{
    static const char *const drop[] = {"id", "for", "with", "via", NULL};
    /* the date after the last ";" says when, not who */
    const char *semi = strrchr(v, ';');
    const char *p = v, *end = semi != NULL ? semi : v + strlen(v);
    while (p < end) {
        size_t n = mk_bayes_rcvd_span(p, end);
        if (n == 0) {
            p++;
            continue;
        }
        const char *w = p;
        p += n;
        int skip = 0;
        /* (a word of these with anything after it, a separator at least) */
        for (const char *const *d = drop; *d != NULL && p < end && !skip; d++)
            skip = strlen(*d) == n && g_ascii_strncasecmp(w, *d, n) == 0;
        if (skip) { /* the word after "id", "for", ... */
            while (p < end && mk_bayes_rcvd_span(p, end) == 0)
                p++;
            if (p >= end)
                break;
            p += mk_bayes_rcvd_span(p, end);
            continue;
        }
        mk_bayes_rcvd_word(tk, w, n);
    }
}

/* Message-ID, In-Reply-To, References: the domains after @. */
static void mk_bayes_msgid_domains(mk_bayes_tk *tk, const char *prefix, const char *v)
{
    for (const char *at = strchr(v, '@'); at != NULL; at = strchr(at + 1, '@')) {
        size_t n = strcspn(at + 1, "> \t\r\n");
        mk_bayes_emit(tk, prefix, at + 1, n);
    }
}

/* The hops of the Received chain, each field's value a word ("[ ip=A
 * rdns=N ... ]" read as "[ A N ... ]"), under SpamAssassin's prefixes. */
static void mk_bayes_relays(mk_bayes_tk *tk, GMimeHeaderList *hl, const mk_relays *given)
{
    static const char *const prefix[MK_RELAYS_N] = {
        "H*RT:", "H*RU:", "Hx-spam-relays-internal:", "Hx-spam-relays-external:"};
    mk_relays *own = given == NULL ? mk_relays_parse(hl, NULL) : NULL;
    const mk_relays *rs = given != NULL ? given : own;
    for (int k = 0; k < MK_RELAYS_N; k++) {
        GString *v = g_string_new(NULL);
        for (const char *p = rs->str[k]; *p != '\0'; p++) {
            g_string_append_c(v, *p);
            if (*p != ' ' || !g_ascii_islower((unsigned char)p[1]))
                continue;
            const char *q = p + 1;
            while (g_ascii_islower((unsigned char)*q))
                q++;
            if (*q == '=')
                p = q; /* " key=" read as " " */
        }
        mk_bayes_text(tk, prefix[k], 0, v->str, v->len);
        g_string_free(v, TRUE);
    }
    mk_relays_free(own);
}

/* Content-Type as SpamAssassin chews it: the boundary's hex digits as H
 * and its runs of separators apart, the gray words text and charset out;
 * g_free. */
static char *mk_bayes_content_type(const char *v)
{
    GString *out = g_string_new(NULL), *bound = g_string_new(NULL);
    for (const char *p = v; *p != '\0';) {
        if (g_ascii_strncasecmp(p, "boundary=", 9) == 0 && (p[9] == '"' || p[9] == '\'')) {
            const char *end = strchr(p + 10, p[9]);
            if (end != NULL) {
                for (const char *b = p + 10; b < end; b++) {
                    if (g_ascii_isxdigit(*b))
                        g_string_append_c(bound, 'H');
                    else if (strchr("-_.=", *b) != NULL) {
                        g_string_append_c(bound, ' ');
                        while (b < end && strchr("-_.=", *b) != NULL)
                            g_string_append_c(bound, *b++);
                        b--;
                        g_string_append_c(bound, ' ');
                    } else
                        g_string_append_c(bound, *b);
                }
                g_string_append_c(out, ' ');
                p = end + 1;
                continue;
            }
        }
        /* \b(?:text|charset)\b */
        size_t w = strncmp(p, "text", 4) == 0 ? 4 : strncmp(p, "charset", 7) == 0 ? 7 : 0;
        int before = p == v || !(g_ascii_isalnum(p[-1]) || p[-1] == '_');
        if (w > 0 && before && !(g_ascii_isalnum(p[w]) || p[w] == '_')) {
            g_string_append_c(out, ' ');
            p += w;
            continue;
        }
        g_string_append_c(out, *p++);
    }
    g_string_append(out, bound->str);
    g_string_free(bound, TRUE);
    return g_string_free(out, FALSE);
}

static void mk_bayes_headers(mk_bayes_tk *tk, const mk_msg *msg, const mk_relays *relays)
{
    const GPtrArray *hs = msg->headers;
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg->mime));
    int count = (int)hs->len, n_rcvd = 0, rcvd = 0;
    for (int i = 0; i < count; i++)
        n_rcvd += g_ascii_strcasecmp(g_mime_header_get_name(hs->pdata[i]), "Received") == 0;
    mk_bayes_relays(tk, hl, relays);
    for (int i = 0; i < count; i++) {
        GMimeHeader *hdr = hs->pdata[i];
        const char *name = g_mime_header_get_name(hdr);
        if (name == NULL || mk_bayes_ignored_header(name))
            continue;
        const char *v = g_mime_header_get_value(hdr);
        if (v == NULL)
            continue;
        char prefix[72];
        snprintf(prefix, sizeof(prefix), "H%s:", name);
        for (char *p = prefix + 1; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        if (g_ascii_strcasecmp(name, "Received") == 0) {
            /* the two oldest: where the message came from, not the hops
             * every message takes on its way in */
            if (++rcvd > n_rcvd - 2)
                mk_bayes_received(tk, v);
        } else if (g_ascii_strcasecmp(name, "Message-ID") == 0 ||
                   g_ascii_strcasecmp(name, "In-Reply-To") == 0 ||
                   g_ascii_strcasecmp(name, "References") == 0)
            mk_bayes_msgid_domains(tk, prefix, v);
        else if (g_ascii_strcasecmp(name, "Content-Type") == 0) {
            char *ct = mk_bayes_content_type(v);
            mk_bayes_text(tk, prefix, 0, ct, strlen(ct));
            g_free(ct);
        } else if (g_ascii_strcasecmp(name, "MIME-Version") == 0) {
            const char *one = strstr(v, "1.0"); /* totally innocuous */
            GString *rest = g_string_new(v);
            if (one != NULL)
                g_string_erase(rest, one - v, 3);
            mk_bayes_text(tk, prefix, 0, rest->str, rest->len);
            g_string_free(rest, TRUE);
        } else if (g_ascii_strcasecmp(name, "Date") != 0)
            mk_bayes_text(tk, prefix, 0, v, strlen(v));
    }
}

/* Sorts h[0, n) in place: a radix sort, a byte a pass (qsort's calls to a
 * comparison were 2 % of a message's time). */
static void mk_bayes_radix(uint64_t *h, size_t n)
{
    uint64_t *tmp = g_new(uint64_t, n), *from = h, *to = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t at[256] = {0};
        for (size_t i = 0; i < n; i++)
            at[(from[i] >> shift) & 0xff]++;
        for (size_t b = 0, sum = 0; b < 256; b++) {
            size_t c = at[b];
            at[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            to[at[(from[i] >> shift) & 0xff]++] = from[i];
        uint64_t *t = from;
        from = to, to = t;
    }
    /* eight passes: the sorted keys are back in h */
    g_free(tmp);
}

/* A bucket this large or more is radix sorted, a smaller one by insertion */
#define MK_BAYES_SORT_SMALL 16

/* Sorts h[0, n) in place: into buckets by their top bits, about half as
 * many buckets as hashes (a message's hashes are spread evenly: one or
 * two a bucket), each bucket then sorted by insertion, or by
 * mk_bayes_radix when many hashes share one (as crafted tokens could make
 * them: the work stays linear). Eight radix passes over every hash took
 * 0.6 % of a message's time, twice what this takes for 300 to 5,000. */
static void mk_bayes_sort(uint64_t *h, size_t n)
{
    unsigned bits = 6;
    while (bits < 14 && ((size_t)1 << (bits + 1)) <= n)
        bits++;
    size_t buckets = (size_t)1 << bits, shift = 64 - bits;
    size_t *at = g_new0(size_t, buckets); /* each bucket's size, then where it starts, then ends */
    for (size_t i = 0; i < n; i++)
        at[h[i] >> shift]++;
    for (size_t b = 0, sum = 0; b < buckets; b++) {
        size_t c = at[b];
        at[b] = sum;
        sum += c;
    }
    uint64_t *out = g_new(uint64_t, n);
    for (size_t i = 0; i < n; i++)
        out[at[h[i] >> shift]++] = h[i];
    for (size_t b = 0, from = 0; b < buckets; from = at[b++]) {
        uint64_t *k = out + from;
        size_t len = at[b] - from;
        if (len >= MK_BAYES_SORT_SMALL) {
            mk_bayes_radix(k, len);
            continue;
        }
        for (size_t i = 1; i < len; i++) {
            uint64_t x = k[i];
            size_t j = i;
            for (; j > 0 && k[j - 1] > x; j--)
                k[j] = k[j - 1];
            k[j] = x;
        }
    }
    memcpy(h, out, n * sizeof(*h));
    g_free(out);
    g_free(at);
}

/* Each line of text, as body words with prefix. */
static void mk_bayes_lines(mk_bayes_tk *tk, const char *prefix, const char *text)
{
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        mk_bayes_text(tk, prefix, 1, line, n);
        line = nl != NULL ? nl + 1 : NULL;
    }
}

/* Whether the message has a text/html part. */
static int mk_bayes_has_html(const mk_msg *msg)
{
    for (size_t i = 0; i < msg->n_texts; i++)
        if (mk_html_dom_is_html(&msg->texts[i]))
            return 1;
    return 0;
}

void mk_bayes_tokenize(const mk_msg *msg, const char *body_text, const GPtrArray *html,
                       const mk_uri_set *links, const mk_relays *relays, mk_bayes_toks *out,
                       GPtrArray *names)
{
    mk_bayes_tk tk = {g_array_new(FALSE, FALSE, sizeof(uint64_t)), names};
    mk_bayes_headers(&tk, msg, relays);
    if (mk_bayes_has_html(msg)) { /* the text one sees; what is hidden, apart */
        char *invisible = NULL, *visible = mk_sa_visible_text(msg, html, &invisible);
        mk_bayes_lines(&tk, "", visible);
        mk_bayes_lines(&tk, "I*:", invisible);
        g_free(visible);
        g_free(invisible);
    } else {
        mk_bayes_lines(&tk, "", body_text);
    }
    for (size_t i = 0; links != NULL && i < links->n; i++)
        if (!links->hosts[i].is_addr)
            mk_bayes_domain(&tk, "UD:", links->hosts[i].name, strlen(links->hosts[i].name));
    /* the links as written, cut into words as the body is (paths, names) */
    for (guint i = 0; links != NULL && links->kept != NULL && i < links->kept->len; i++) {
        const char *link = links->kept->pdata[i];
        mk_bayes_text(&tk, "", 1, link, strlen(link));
    }
    uint64_t *h = (uint64_t *)tk.h->data;
    size_t n = tk.h->len;
    if (n > 1) /* an empty array has no data pointer */
        mk_bayes_sort(h, n);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || h[u - 1] != h[i])
            h[u++] = h[i];
    if (u > MK_BAYES_MAX_TOKENS)
        u = MK_BAYES_MAX_TOKENS;
    out->n = u;
    out->h = (uint64_t *)g_array_free(tk.h, FALSE);
}

uint64_t mk_bayes_token_hash(const char *text)
{
    return mk_bayes_hash(MK_BAYES_FNV_BASIS, text, strlen(text));
}

void mk_bayes_toks_clear(mk_bayes_toks *t)
{
    g_free(t->h);
    t->h = NULL;
    t->n = 0;
}

char *mk_bayes_msgid(const mk_msg *msg, const char *body_text)
{
    const char *id = g_mime_message_get_message_id(msg->mime);
    if (id != NULL && *id != '\0')
        return g_strdup_printf("<%s>", id);
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    GMimeObject *obj = GMIME_OBJECT(msg->mime);
    static const char *const hdrs[] = {"From", "Date", "Subject"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = g_mime_object_get_header(obj, hdrs[i]);
        g_checksum_update(sum, (const guchar *)(v != NULL ? v : ""), -1);
        g_checksum_update(sum, (const guchar *)"\n", 1);
    }
    g_checksum_update(sum, (const guchar *)(body_text != NULL ? body_text : ""), -1);
    char *digest = g_strdup_printf("sha256:%s", g_checksum_get_string(sum));
    g_checksum_free(sum);
    return digest;
}
