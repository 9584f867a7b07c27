/*
 * mk_sa_evals: the eval: tests of SpamAssassin's stock rules that
 * mailkeeper runs, each written to SpamAssassin's definition (the Perl
 * module named beside it). A test not listed here leaves its rule skipped
 * and counted, never run in some other form.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mk_domain.h"
#include "mk_html_dom.h"
#include "mk_relays.h"
#include "mk_sa_html.h"
#include "mk_sa_int.h"

/* The first header field of that name at the top, or NULL. */
static GMimeHeader *mk_sa_ev_field(const mk_sa_view *v, const char *name)
{
    const GPtrArray *hs = v->in->msg->headers;
    for (guint i = 0; i < hs->len; i++)
        if (g_ascii_strcasecmp(g_mime_header_get_name(hs->pdata[i]), name) == 0)
            return hs->pdata[i];
    return NULL;
}

/* The first header of that name, decoded, or NULL. */
static const char *mk_sa_ev_header(const mk_sa_view *v, const char *name)
{
    GMimeHeader *h = mk_sa_ev_field(v, name);
    return h != NULL ? g_mime_header_get_value(h) : NULL;
}

/* ---- BodyEval ------------------------------------------------------------------ */

/* check_body_length(N): the body as received (after the header) has at
 * most N bytes. */
static unsigned mk_sa_ev_body_length(mk_sa_view *v, const mk_sa_rule *r)
{
    const char *full = v->in->full;
    if (full == NULL)
        return 0;
    size_t len = v->in->full_len, body = len;
    for (size_t i = 0; i + 1 < len; i++) {
        if (full[i] == '\n' &&
            (full[i + 1] == '\n' || (full[i + 1] == '\r' && i + 2 < len && full[i + 2] == '\n'))) {
            body = len - (i + (full[i + 1] == '\n' ? 2 : 3));
            break;
        }
    }
    if (body == len) /* no header/body separator: no body */
        body = 0;
    return (double)body <= strtod(r->args[0], NULL);
}

/* Charsets whose text looks like capitals to a Latin-1 reader. */
static int mk_sa_ev_caps_charset(const char *cs)
{
    static const char *const parts[] = {"koi",   "jp",    "jis",    "euc",          "gb",
                                        "big5",  "isoir", "cp1251", "windows-1251", "georgianps",
                                        "pt154", "tis",   NULL};
    if (cs == NULL)
        return 0;
    char *low = g_ascii_strdown(cs, -1);
    int hit = 0;
    for (const char *const *p = parts; *p != NULL && !hit; p++)
        hit = strstr(low, *p) != NULL;
    g_free(low);
    return hit;
}

typedef struct mk_sa_ev_walk {
    const mk_sa_settings *set; /* the rule set's patterns */
    unsigned html, text, qp, base64, caps_charset;
    unsigned ascii_illegal;           /* us-ascii text/plain lines with 8-bit, NUL or CR bytes */
    int attachment, bad_iso_charset;  /* a part says attachment; an iso-X-Y charset not known */
    int qp_long_line;                 /* quoted-printable lines over 78 characters */
    double unicode_chars, text_chars; /* &#xHHHH; in 7bit and 8bit text/plain, and the rest */
} mk_sa_ev_walk;

/* What MIMEEval's walk over the lines of a part as received (still
 * encoded) counts: in text/plain, lines breaking a us-ascii charset and
 * HTML Unicode escapes a mail client shows as they are; in any
 * quoted-printable part, lines too long. */
static void mk_sa_ev_lines(mk_sa_ev_walk *w, GMimePart *part, int plain)
{
    const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
    int ascii = plain && (charset == NULL || g_ascii_strcasecmp(charset, "us-ascii") == 0);
    int as_is = plain && (enc == GMIME_CONTENT_ENCODING_DEFAULT ||
                          enc == GMIME_CONTENT_ENCODING_7BIT || enc == GMIME_CONTENT_ENCODING_8BIT);
    int qp = enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    GMimeDataWrapper *dw = g_mime_part_get_content(part);
    GMimeStream *st = dw != NULL ? g_mime_data_wrapper_get_stream(dw) : NULL;
    if (st == NULL || (!ascii && !as_is && !qp))
        return;
    GByteArray *raw = mk_msg_stream_bytes(st);
    g_byte_array_append(raw, (const guint8 *)"", 1); /* ends in NUL for strspn */
    const char *p = (const char *)raw->data, *end = p + raw->len - 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end; /* the line, without its LF */
        size_t len = (size_t)(le - p) + (nl != NULL);
        size_t chars = (size_t)(le - p) - (le > p && le[-1] == '\r'); /* without CRLF */
        if (qp && chars > 78 && strncmp(p, "SPAM: ", 6) != 0)
            w->qp_long_line = 1;
        if (ascii) {
            int bad = 0;
            for (const char *c = p; c < le && !bad; c++)
                bad = *c == '\0' || ((unsigned char)*c >= 0x80) ||
                      (*c == '\r' && c + 1 != le); /* a CR ending the line is its CRLF */
            w->ascii_illegal += bad;
        }
        if (as_is) {
            size_t subs = 0;
            for (const char *c = p; c + 8 <= le; c++)
                if (strncmp(c, "&#x", 3) == 0 && strspn(c + 3, "0123456789ABCDEF") >= 4 &&
                    c[7] == ';') {
                    subs++;
                    c += 7;
                }
            w->unicode_chars += (double)subs;
            w->text_chars += (double)(len - subs * 8 - (nl != NULL && le > p && le[-1] == '\r'));
        }
        p = nl != NULL ? nl + 1 : end;
    }
    g_byte_array_free(raw, TRUE);
}

static void mk_sa_ev_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    (void)parent;
    mk_sa_ev_walk *w = data;
    const char *cd = g_mime_object_get_header(part, "Content-Disposition");
    w->attachment |= cd != NULL && strcasestr(cd, "attachment") != NULL;
    const char *cs = g_mime_object_get_content_type_parameter(part, "charset");
    w->bad_iso_charset |= cs != NULL && w->set->iso_any != NULL &&
                          g_regex_match(w->set->iso_any, cs, 0, NULL) &&
                          !g_regex_match(w->set->iso_known, cs, 0, NULL);
    if (!GMIME_IS_PART(part))
        return;
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    const char *type = ct != NULL ? g_mime_content_type_get_media_type(ct) : "text";
    const char *sub = ct != NULL ? g_mime_content_type_get_media_subtype(ct) : "plain";
    if (g_ascii_strcasecmp(type, "text") == 0) {
        if (g_ascii_strcasecmp(sub, "html") == 0)
            w->html++;
        else if (g_ascii_strcasecmp(sub, "plain") == 0)
            w->text++;
        w->caps_charset |=
            mk_sa_ev_caps_charset(g_mime_object_get_content_type_parameter(part, "charset"));
    }
    mk_sa_ev_lines(w, GMIME_PART(part),
                   g_ascii_strcasecmp(type, "text") == 0 && g_ascii_strcasecmp(sub, "plain") == 0);
    GMimeContentEncoding enc = g_mime_part_get_content_encoding(GMIME_PART(part));
    w->qp += enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    w->base64 += enc == GMIME_CONTENT_ENCODING_BASE64;
}

/* What the message's rules share under key: size bytes kept for the
 * message (freed with it); *fresh set when just made (zeroed), for the
 * caller to work out. */
static void *mk_sa_ev_slot(mk_sa_view *v, const char *key, size_t size, int *fresh)
{
    void *p = g_hash_table_lookup(v->evals, key);
    *fresh = p == NULL;
    if (p == NULL) {
        p = g_malloc0(size);
        g_hash_table_insert(v->evals, g_strdup(key), p);
    }
    return p;
}

/* The MIME counts of the message, walked once per message. */
static const mk_sa_ev_walk *mk_sa_ev_mime(mk_sa_view *v)
{
    int fresh;
    mk_sa_ev_walk *w = mk_sa_ev_slot(v, "mime", sizeof(*w), &fresh);
    if (fresh) {
        w->set = &v->rs->set;
        g_mime_message_foreach(v->in->msg->mime, mk_sa_ev_part, w); /* the top part too */
    }
    return w;
}

/* A number the message's rules share (key names it); *fresh set when it
 * was just made (0), for the caller to work out. */
static double *mk_sa_ev_number(mk_sa_view *v, const char *key, int *fresh)
{
    return mk_sa_ev_slot(v, key, sizeof(double), fresh);
}

/* check_for_uppercase(MIN, MAX): the share of capitals among letters and
 * digits on body lines with words, over MIN and at most MAX percent, for
 * bodies of 200 characters and more (BodyEval). */
static unsigned mk_sa_ev_uppercase(mk_sa_view *v, const mk_sa_rule *r)
{
    int fresh;
    double *pct = mk_sa_ev_number(v, "uppercase", &fresh);
    if (fresh) {
        if (!mk_sa_ev_mime(v)->caps_charset) {
            size_t len = 0, lower = 0, upper = 0;
            for (char *const *l = mk_sa_view_body(v); *l != NULL; l++) {
                const char *s = *l;
                int gap = 0; /* \S\s+\S */
                for (const char *p = s; *p != '\0' && !gap; p++)
                    gap = !isspace((unsigned char)p[0]) && isspace((unsigned char)p[1]) &&
                          p[1 + strspn(p + 1, " \t\r\n\f\v")] != '\0';
                if (!gap)
                    continue;
                len += strlen(s);
                for (const char *p = s; *p != '\0'; p++) {
                    lower += (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
                    upper += *p >= 'A' && *p <= 'Z';
                }
            }
            if (len >= 200 && upper + lower > 0)
                *pct = 100.0 * (double)upper / (double)(upper + lower);
        }
    }
    return *pct > strtod(r->args[0], NULL) && *pct <= strtod(r->args[1], NULL);
}

/* ---- MIMEEval --------------------------------------------------------------------- */

static int mk_sa_ev_ctype_html(mk_sa_view *v)
{
    const char *ct = mk_sa_ev_header(v, "Content-Type");
    while (ct != NULL && isspace((unsigned char)*ct))
        ct++;
    return ct != NULL && g_ascii_strncasecmp(ct, "text/html", 9) == 0;
}

/* check_for_mime_html(): a text/html part. */
static unsigned mk_sa_ev_mime_html(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    return mk_sa_ev_ctype_html(v) || mk_sa_ev_mime(v)->html > 0;
}

/* check_for_mime_html_only(): text/html parts and no text/plain one. */
static unsigned mk_sa_ev_mime_html_only(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const mk_sa_ev_walk *w = mk_sa_ev_mime(v);
    return mk_sa_ev_ctype_html(v) || (w->html > 0 && w->text == 0);
}

/* check_for_mime(FLAG): the MIME counts SpamAssassin keeps that mailkeeper
 * counts the same way: parts in quoted-printable, parts in base64. */
static unsigned mk_sa_ev_mime_flag(mk_sa_view *v, const mk_sa_rule *r)
{
    const mk_sa_ev_walk *w = mk_sa_ev_mime(v);
    const char *f = r->args[0];
    return strcmp(f, "mime_qp_count") == 0          ? w->qp > 0
           : strcmp(f, "mime_attachment") == 0      ? w->attachment
           : strcmp(f, "mime_bad_iso_charset") == 0 ? w->bad_iso_charset
           : strcmp(f, "mime_qp_long_line") == 0    ? w->qp_long_line
                                                    : w->base64 > 0; /* mime_base64_count */
}

static const char *const mk_sa_ev_mime_flags[] = {"mime_qp_count",     "mime_base64_count",
                                                  "mime_attachment",   "mime_bad_iso_charset",
                                                  "mime_qp_long_line", NULL};

/* check_for_ascii_text_illegal(): a text/plain part in us-ascii (said or
 * meant) with a line holding bytes us-ascii has not */
static unsigned mk_sa_ev_ascii_illegal(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    return mk_sa_ev_mime(v)->ascii_illegal > 0;
}

/* check_abundant_unicode_ratio(RATIO): HTML Unicode escapes (&#xHHHH;)
 * per other character of 7bit and 8bit text/plain parts, at least RATIO */
static unsigned mk_sa_ev_unicode_ratio(mk_sa_view *v, const mk_sa_rule *r)
{
    const char *arg = r->args[0];
    /* as SpamAssassin reads it, ^\d{0,3}\.\d{1,3}$: else no hit */
    size_t whole = strspn(arg, "0123456789");
    if (whole > 3 || arg[whole] != '.')
        return 0;
    size_t frac = strspn(arg + whole + 1, "0123456789");
    if (frac < 1 || frac > 3 || arg[whole + 1 + frac] != '\0')
        return 0;
    const mk_sa_ev_walk *w = mk_sa_ev_mime(v);
    return w->text_chars > 0 && w->unicode_chars / w->text_chars >= g_ascii_strtod(arg, NULL);
}

/* ---- HeaderEval --------------------------------------------------------------------- */

/* check_header_count_range(HEADER, MIN, MAX): the header appears MIN to
 * MAX times. */
static unsigned mk_sa_ev_header_count(mk_sa_view *v, const mk_sa_rule *r)
{
    const GPtrArray *hl = v->in->msg->headers;
    int n = 0;
    for (guint i = 0; i < hl->len; i++)
        n += g_ascii_strcasecmp(g_mime_header_get_name(hl->pdata[i]), r->args[0]) == 0;
    return n >= atoi(r->args[1]) && n <= atoi(r->args[2]);
}

/* The address of the first mailbox in a header value, lowercased; g_free. */
static char *mk_sa_ev_addr(mk_sa_view *v, const char *value)
{
    if (value == NULL || *value == '\0')
        return NULL; /* (no list made for nothing: the header is mostly absent) */
    InternetAddressList *list = mk_sa_view_addrs(v, value);
    char *addr = NULL;
    for (int i = 0; i < internet_address_list_length(list) && addr == NULL; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia))
            addr = g_ascii_strdown(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)),
                                   -1);
    }
    return addr;
}

/* check_for_matching_env_and_hdr_from(): the envelope sender is the From
 * address. */
static unsigned mk_sa_ev_env_from(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const char *env = mk_sa_view_envelope_from(v);
    if (env == NULL || *env == '\0')
        return 0;
    char *from = mk_sa_ev_addr(v, mk_sa_ev_header(v, "From"));
    unsigned hit = from != NULL && g_ascii_strcasecmp(from, env) == 0;
    g_free(from);
    return hit;
}

/* The last two labels of the domain of address a ("" when none). */
static const char *mk_sa_ev_two_labels(const char *a)
{
    const char *at = a != NULL ? strrchr(a, '@') : NULL;
    if (at == NULL)
        return "";
    const char *d = at + 1, *last = strrchr(d, '.');
    if (last == NULL)
        return d;
    for (const char *p = last - 1; p > d; p--)
        if (*p == '.')
            return p + 1;
    return d;
}

/* check_equal_from_domains(): the From address and the envelope sender
 * are at different domains (their last two labels) */
static unsigned mk_sa_ev_equal_from_domains(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    char *from = mk_sa_ev_addr(v, mk_sa_ev_header(v, "From"));
    char *env = mk_sa_ev_addr(v, mk_sa_view_envelope_from(v));
    const char *fd = mk_sa_ev_two_labels(from), *ed = mk_sa_ev_two_labels(env);
    unsigned hit = *fd != '\0' && *ed != '\0' && g_ascii_strcasecmp(fd, ed) != 0;
    g_free(from);
    g_free(env);
    return hit;
}

/* subject_is_all_caps(): a Subject of two words or more and 10 characters
 * or more, reply and forward markers aside, whose letters are all
 * capitals, unless its charset writes other scripts. */
static unsigned mk_sa_ev_subject_caps(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const char *subj = mk_sa_ev_header(v, "Subject");
    if (subj == NULL)
        return 0;
    char *s = g_strstrip(g_strdup(subj));
    char *p = s;
    for (int again = 1; again;) {
        static const char *const marks[] = {"re:", "fw:", "fwd:", "aw:", "antwort:", "sv:", NULL};
        again = 0;
        for (const char *const *m = marks; *m != NULL; m++)
            if (g_ascii_strncasecmp(p, *m, strlen(*m)) == 0) {
                p += strlen(*m);
                while (isspace((unsigned char)*p))
                    p++;
                again = 1;
            }
    }
    unsigned hit = 0;
    if (strpbrk(p, " \t") != NULL && strlen(p) >= 10) {
        size_t letters = 0, lower = 0;
        for (const char *c = p; *c != '\0'; c++) {
            letters += isalpha((unsigned char)*c) && (unsigned char)*c < 0x80;
            lower += *c >= 'a' && *c <= 'z';
        }
        GMimeHeader *h = mk_sa_ev_field(v, "Subject");
        const char *raw = h != NULL ? g_mime_header_get_raw_value(h) : NULL;
        int fp = 0;
        for (const char *q = raw; q != NULL && (q = strstr(q, "=?")) != NULL; q += 2) {
            const char *end = strchr(q + 2, '?');
            char *cs = end != NULL ? g_strndup(q + 2, (gsize)(end - q - 2)) : NULL;
            fp |= mk_sa_ev_caps_charset(cs);
            g_free(cs);
        }
        hit = !fp && letters > 0 && lower == 0;
    }
    g_free(s);
    return hit;
}

/* Cuts the first match of re out of s, leaving a space; its groups
 * (g_strfreev them) or NULL when none matched. */
static char **mk_sa_ev_cut(GString *s, const pcre2_code *re, pcre2_match_data *md)
{
    int rc = re != NULL ? pcre2_match(re, (PCRE2_SPTR)s->str, s->len, 0, 0, md, NULL) : -1;
    if (rc <= 0)
        return NULL;
    /* the groups up to the last that took part; one before it that did
     * not is "" (as g_match_info_fetch_all gives them) */
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    char **groups = g_new(char *, (size_t)rc + 1);
    for (int i = 0; i < rc; i++)
        groups[i] = ov[2 * i] == PCRE2_UNSET
                        ? g_strdup("")
                        : g_strndup(s->str + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
    groups[rc] = NULL;
    size_t start = ov[0], end = ov[1];
    g_string_erase(s, (gssize)start, (gssize)(end - start));
    g_string_insert_c(s, (gssize)start, ' ');
    return groups;
}

/* The time of a date as SpamAssassin's parse_rfc822_date() reads it, its
 * quirks included (a four-digit year before 1970 is 1970, a day past the
 * month's last is the next month's first, a time zone name it does not
 * know is -0000); 0 when there is none or it does not parse (|| 0). */
static gint64 mk_sa_ev_time(const mk_sa_settings *set, const char *date)
{
    static const char months[] = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec";
    static const struct {
        const char *name;
        int off; /* minutes east */
    } zones[] = {
        {"UT", 0},      {"UTC", 0},     {"NDT", -150},  {"AST", -240},  {"ADT", -180},
        {"NST", -210},  {"EST", -300},  {"EDT", -240},  {"CST", -360},  {"CDT", -300},
        {"MST", -420},  {"MDT", -360},  {"PST", -480},  {"PDT", -420},  {"HST", -600},
        {"AKST", -540}, {"AKDT", -480}, {"HADT", -540}, {"HAST", -600}, {"GMT", 0},
        {"BST", 60},    {"IST", 60},    {"WET", 0},     {"WEST", 60},   {"CET", 60},
        {"CEST", 120},  {"EET", 120},   {"EEST", 180},  {"MSK", 180},   {"MSD", 240},
        {"MET", 60},    {"MEZ", 60},    {"MEST", 120},  {"MESZ", 120},  {"BRST", -120},
        {"BRT", -180},  {"AEST", 600},  {"AEDT", 660},  {"ACST", 570},  {"ACDT", 630},
        {"AWST", 480},  {"NZST", 720},  {"NZDT", 780},  {"JST", 540},   {"KST", 540},
        {"HKT", 480},   {"SGT", 480},   {"PHT", 480},   {"IDT", 180},
    };
    if (date == NULL)
        return 0;
    /* " date ", commas and white space runs as one space */
    GString *s = g_string_new(" ");
    pcre2_match_data *md = pcre2_match_data_create(8, NULL); /* (5 groups at most) */
    int in_space = 1;
    for (const char *p = date; *p != '\0'; p++) {
        int space = *p == ',' || g_ascii_isspace(*p);
        if (!space)
            g_string_append_c(s, *p);
        else if (!in_space)
            g_string_append_c(s, ' ');
        in_space = space;
    }
    if (!in_space)
        g_string_append_c(s, ' ');
    int dd = 0, mon = 0, yyyy = 0, hh = 0, mm = 0, ss = 0;
    const char *mname;
    char **g = mk_sa_ev_cut(s, set->date[MK_SA_DATE_DMY], md);
    if (g != NULL) {
        dd = atoi(g[1]), mname = g[2], yyyy = atoi(g[3]);
    } else {
        if ((g = mk_sa_ev_cut(s, set->date[MK_SA_DATE_MDTY], md)) != NULL) {
            dd = atoi(g[2]), mname = g[1], yyyy = atoi(g[3]);
        } else {
            if ((g = mk_sa_ev_cut(s, set->date[MK_SA_DATE_DMY2], md)) == NULL) {
                g_string_free(s, TRUE);
                pcre2_match_data_free(md);
                return 0;
            }
            dd = atoi(g[1]), mname = g[2], yyyy = atoi(g[3]);
        }
    }
    size_t ylen = strlen(g[3]); /* the year is the third group of each form */
    if (ylen == 2 && yyyy < 50)
        yyyy += 2000;
    else if (ylen != 4) /* three digits, or two from 50 to 99 */
        yyyy += 1900;
    for (int i = 0; i < 12; i++)
        if (g_ascii_strncasecmp(mname, months + i * 4, 3) == 0)
            mon = i + 1;
    g_strfreev(g);
    if ((g = mk_sa_ev_cut(s, set->date[MK_SA_DATE_TIME], md)) != NULL) {
        /* a group that took no part is left out of the array's end */
        hh = atoi(g[1]), mm = atoi(g[2]), ss = g_strv_length(g) > 4 ? atoi(g[4]) : 0;
        g_strfreev(g);
    }
    int tz = 0; /* minutes east */
    if ((g = mk_sa_ev_cut(s, set->date[MK_SA_DATE_OFFSET], md)) != NULL) {
        int v = atoi(g[1] + 1);
        tz = (g[1][0] == '-' ? -1 : 1) * ((v / 100) * 60 + v % 100);
        g_strfreev(g);
    } else if ((g = mk_sa_ev_cut(s, set->date[MK_SA_DATE_ZONE], md)) != NULL) {
        for (size_t i = 0; i < G_N_ELEMENTS(zones); i++)
            if (strcmp(g[1], zones[i].name) == 0)
                tz = zones[i].off;
        g_strfreev(g);
    }
    g_string_free(s, TRUE);
    pcre2_match_data_free(md);
    ss = MIN(ss, 59), mm = MIN(mm, 59), hh = MIN(hh, 23);
    int max_dd = mon == 4 || mon == 6 || mon == 9 || mon == 11 ? 30
                 : mon == 2 ? (!(yyyy % 4) && ((yyyy % 100) || !(yyyy % 400)) ? 29 : 28)
                            : 31;
    if (dd > max_dd) {
        dd = 1;
        if (++mon > 12)
            mon = 1, yyyy++;
    }
    yyyy = CLAMP(yyyy, 1970, 2037);
    GDateTime *dt = g_date_time_new_utc(yyyy, mon, dd, hh, mm, ss);
    if (dt == NULL)
        return 0;
    gint64 t = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
    if (tz < 0)
        t -= tz * 60; /* -HHMM: later in UTC */
    else
        t = t < tz * 60 ? 0 : t - tz * 60;
    return t;
}

/* The times of the Received headers (the date after each one's last ';'
 * that parses), newest first, as SpamAssassin reads them: a fetchmail hop
 * at the top does not count. */
static GArray *mk_sa_ev_received_times(mk_sa_view *v)
{
    GArray *times = g_array_new(FALSE, FALSE, sizeof(gint64));
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(v->in->msg->mime));
    GPtrArray *rcvd = g_ptr_array_new();
    int count = g_mime_header_list_get_count(hl);
    for (int i = 0; i < count; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Received") == 0 &&
            g_mime_header_get_value(h) != NULL)
            g_ptr_array_add(rcvd, (gpointer)g_mime_header_get_value(h));
    }
    guint first = 0;
    if (rcvd->len >= 2 &&
        (strstr(rcvd->pdata[0], "from localhost ") != NULL ||
         strstr(rcvd->pdata[0], "127.0.0.1") != NULL ||
         strstr(rcvd->pdata[0], " invoked by uid ")) &&
        strstr(rcvd->pdata[1], "by localhost with ") != NULL &&
        strstr(rcvd->pdata[1], "fetchmail-"))
        first = 2;
    for (guint i = first; i < rcvd->len; i++) {
        const char *semi = strrchr(rcvd->pdata[i], ';');
        gint64 t = mk_sa_ev_time(&v->rs->set, semi != NULL ? semi + 1 : NULL);
        if (t != 0)
            g_array_append_val(times, t);
    }
    g_ptr_array_free(rcvd, TRUE);
    return times;
}

/* check_for_shifted_date(MIN, MAX): the Date header minus the nearest
 * Received time, in hours, at least MIN and under MAX ('undef': no
 * bound); 0 without a Date or Received time. */
static unsigned mk_sa_ev_shifted_date(mk_sa_view *v, const mk_sa_rule *r)
{
    int fresh;
    double *diff = mk_sa_ev_number(v, "date_diff", &fresh);
    if (fresh) {
        gint64 t = mk_sa_ev_time(&v->rs->set, mk_sa_ev_header(v, "Date"));
        if (t != 0) {
            GArray *times = mk_sa_ev_received_times(v);
            gint64 best = 0;
            for (guint i = 0; i < times->len; i++) {
                gint64 d = t - g_array_index(times, gint64, i);
                if (i == 0 || llabs(d) < llabs(best))
                    best = d;
            }
            *diff = (double)best;
            g_array_free(times, TRUE);
        }
    }
    int lo = strcmp(r->args[0], "undef") == 0, hi = strcmp(r->args[1], "undef") == 0;
    return (lo || *diff >= 3600.0 * strtod(r->args[0], NULL)) &&
           (hi || *diff < 3600.0 * strtod(r->args[1], NULL));
}

/* check_outlook_message_id(): a Message-ID in Outlook Express's form,
 * <4 hex, 8 hex of time, $8 hex$8 hex@...>, whose time fits neither the
 * Date nor the newest Received time (within 250 of its units). */
static unsigned mk_sa_ev_outlook_msgid(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const char *id = mk_sa_ev_header(v, "Message-Id");
    if (id == NULL)
        id = mk_sa_ev_header(v, "Resent-Message-Id");
    if (id == NULL)
        id = mk_sa_ev_header(v, "X-Message-Id");
    /* the shape, lower-case hex only */
    static const char shape[] = "<HHHHHHHHHHHH$HHHHHHHH$HHHHHHHH@";
    for (size_t i = 0; id != NULL && i < sizeof(shape) - 1; i++) {
        char c = id[i];
        if (shape[i] == 'H' ? !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) : c != shape[i])
            return 0;
    }
    if (id == NULL)
        return 0;
    char token[9];
    memcpy(token, id + 5, 8);
    token[8] = '\0';
    long long tt = strtoll(token, NULL, 16);
    /* Outlook Express's clock: units of about 430 seconds from an epoch */
    const double per_second = 0.0023283064365387, offset = 27111902.8329849;
    const long long fudge = 250;
    long long expected =
        (long long)((double)mk_sa_ev_time(&v->rs->set, mk_sa_ev_header(v, "Date")) * per_second +
                    offset);
    if (llabs(tt - expected) < fudge)
        return 0;
    const char *rcvd = mk_sa_ev_header(v, "Received");
    const char *semi = rcvd != NULL ? strrchr(rcvd, ';') : NULL;
    expected = (long long)((double)mk_sa_ev_time(&v->rs->set, semi != NULL ? semi + 1 : NULL) *
                               per_second +
                           offset);
    return llabs(tt - expected) >= fudge;
}

/* ---- HTMLEval ------------------------------------------------------------------------ */

/* Whether the source of an HTML part opens tag (case-insensitive),
 * outside comments. */
static int mk_sa_ev_html_has(const char *html, size_t len, const char *tag)
{
    size_t tl = strlen(tag);
    for (size_t i = 0; i < len; i++) {
        const char *lt = memchr(html + i, '<', len - i); /* (not byte by byte: ten such rules) */
        if (lt == NULL)
            return 0;
        i = (size_t)(lt - html);
        if (i + 4 <= len && strncmp(html + i, "<!--", 4) == 0) {
            const char *end = g_strstr_len(html + i + 4, (gssize)(len - i - 4), "-->");
            if (end == NULL)
                return 0;
            i = (size_t)(end - html) + 2;
            continue;
        }
        if (i + 1 + tl <= len && g_ascii_strncasecmp(html + i + 1, tag, tl) == 0) {
            char c = i + 1 + tl < len ? html[i + 1 + tl] : '>';
            if (c == '>' || c == '/' || isspace((unsigned char)c))
                return 1;
        }
    }
    return 0;
}

/* html_tag_exists(TAG): an HTML part holds that tag. */
static unsigned mk_sa_ev_html_tag(mk_sa_view *v, const mk_sa_rule *r)
{
    const mk_msg *m = v->in->msg;
    for (size_t i = 0; i < m->n_texts; i++)
        if (m->texts[i].text != NULL && m->texts[i].content_type != NULL &&
            strcasecmp(m->texts[i].content_type, "text/html") == 0 &&
            mk_sa_ev_html_has(m->texts[i].text, m->texts[i].len, r->args[0]))
            return 1;
    return 0;
}

/* ---- RelayEval: the Received chain (mk_relays) --------------------------------------- */

/* check_all_trusted(): every hop trusted, and at least one */
static unsigned mk_sa_ev_all_trusted(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const mk_relays *rs = mk_sa_view_relays(v);
    return rs->part[MK_RELAYS_TRUSTED]->len > 0 && rs->part[MK_RELAYS_UNTRUSTED]->len == 0 &&
           rs->n_unparseable == 0;
}

/* check_no_relays(): no hop at all */
static unsigned mk_sa_ev_no_relays(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const mk_relays *rs = mk_sa_view_relays(v);
    return rs->part[MK_RELAYS_TRUSTED]->len == 0 && rs->part[MK_RELAYS_UNTRUSTED]->len == 0 &&
           rs->n_unparseable == 0;
}

/* A dotted IPv4 address (IS_IPV4_ADDRESS), and whether it is private,
 * loopback, link-local or shared (IS_IP_PRIVATE's IPv4 ranges). */
static int mk_sa_ev_ipv4(const char *s, int *private_)
{
    unsigned a, b, c, d;
    char tail;
    if (sscanf(s, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
        c > 255 || d > 255 || strspn(s, "0123456789.") != strlen(s))
        return 0;
    *private_ = a == 10 || a == 127 || (a == 169 && b == 254) || (a == 172 && b >= 16 && b <= 31) ||
                (a == 192 && b == 168) || (a == 100 && b >= 64 && b <= 127);
    return 1;
}

/* helo_ip_mismatch(): an untrusted hop whose HELO is a public IPv4
 * address outside the /24 of its own public address */
static unsigned mk_sa_ev_helo_ip_mismatch(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const GPtrArray *un = mk_sa_view_relays(v)->part[MK_RELAYS_UNTRUSTED];
    for (guint i = 0; i < un->len; i++) {
        const mk_relay *h = un->pdata[i];
        int hp, ip;
        if (!mk_sa_ev_ipv4(h->helo, &hp) || hp || !mk_sa_ev_ipv4(h->ip, &ip) || ip ||
            strcmp(h->helo, h->ip) == 0)
            continue;
        size_t net = (size_t)(strrchr(h->helo, '.') - h->helo) + 1; /* "a.b.c." */
        if (strncmp(h->ip, h->helo, net) != 0)
            return 1;
    }
    return 0;
}

/* check_for_no_rdns_dotcom_helo(): the last public untrusted hop said
 * HELO as one of the big free mail services and has no reverse DNS */
static unsigned mk_sa_ev_no_rdns_dotcom_helo(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const GPtrArray *un = mk_sa_view_relays(v)->part[MK_RELAYS_UNTRUSTED];
    unsigned hit = 0;
    for (guint i = 0; i < un->len; i++) {
        const mk_relay *h = un->pdata[i];
        if (h->ip_private)
            continue;
        hit = h->no_reverse_dns && v->rs->set.dotcom_helo != NULL &&
              g_regex_match(v->rs->set.dotcom_helo, h->helo, 0, NULL);
    }
    return hit;
}

/* check_relays_unparseable(): a Received header of a form not read */
static unsigned mk_sa_ev_relays_unparseable(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    return mk_sa_view_relays(v)->n_unparseable > 0;
}

/* The envelope sender: the MTA's, or, when it did not say (test mode), as
 * SpamAssassin finds it: the last untrusted hop's envelope-from, else
 * X-Envelope-From, Envelope-Sender or Return-Path written above every
 * Received header. NULL when none; owned by v. */
static char *mk_sa_ev_all_of(mk_sa_view *v, const char *name);

const char *mk_sa_view_envelope_from(mk_sa_view *v)
{
    if (v->in->envelope_from != NULL && v->in->envelope_from[0] != '\0')
        return v->in->envelope_from;
    const char *key = "envelope-from";
    gpointer found;
    if (g_hash_table_lookup_extended(v->evals, key, NULL, &found))
        return found;
    char *env = NULL;
    const mk_relays *rs = mk_sa_view_relays(v);
    const mk_relay *hop =
        rs->part[MK_RELAYS_UNTRUSTED]->len > 0 ? g_ptr_array_index(rs->part[MK_RELAYS_UNTRUSTED], 0)
        : rs->part[MK_RELAYS_TRUSTED]->len > 0
            ? g_ptr_array_index(rs->part[MK_RELAYS_TRUSTED], rs->part[MK_RELAYS_TRUSTED]->len - 1)
            : NULL;
    if (hop != NULL && strchr(hop->envfrom, '@') != NULL && hop->envfrom[0] != '@')
        env = g_strdup(hop->envfrom);
    /* a mail fetcher's X-Sender: the headers below cannot be trusted */
    char *x_sender = mk_sa_ev_addr(v, mk_sa_ev_header(v, "X-Sender"));
    int fetched = 0;
    if (env == NULL && x_sender != NULL && strchr(x_sender, '@') != NULL) {
        char *rcvd = mk_sa_ev_all_of(v, "Received");
        fetched = strstr(rcvd, "(fetchmail") != NULL;
        g_free(rcvd);
    }
    g_free(x_sender);
    static const char *const names[] = {"X-Envelope-From", "Envelope-Sender", "Return-Path", NULL};
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(v->in->msg->mime));
    for (const char *const *n = names; *n != NULL && env == NULL && !fetched; n++) {
        int count = g_mime_header_list_get_count(hl), seen_rcvd = 0;
        for (int i = 0; i < count; i++) {
            GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
            const char *hn = g_mime_header_get_name(h);
            if (g_ascii_strcasecmp(hn, "Received") == 0)
                seen_rcvd = 1;
            else if (g_ascii_strcasecmp(hn, *n) == 0) {
                if (!seen_rcvd)
                    env = mk_sa_ev_addr(v, g_mime_header_get_value(h));
                /* an X-Envelope-From below a Received header: none at all */
                fetched = seen_rcvd && n == names;
                break;
            }
        }
    }
    g_hash_table_insert(v->evals, g_strdup(key), env);
    return env;
}

/* check_mailfrom_matches_rcvd(): the envelope sender's registered domain
 * is that of the first untrusted hop's name (or, with none untrusted, of
 * a trusted hop's). */
static unsigned mk_sa_ev_mailfrom_rcvd(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const char *env = mk_sa_view_envelope_from(v);
    const char *at = env != NULL ? strrchr(env, '@') : NULL;
    if (at == NULL || strchr(at + 1, '.') == NULL || strchr(env, '@') != at)
        return 0;
    char *dom = g_ascii_strdown(at + 1, -1);
    const mk_relays *rs = mk_sa_view_relays(v);
    GPtrArray *hops = rs->part[MK_RELAYS_UNTRUSTED]->len > 0 ? rs->part[MK_RELAYS_UNTRUSTED]
                                                             : rs->part[MK_RELAYS_TRUSTED];
    guint n = hops == rs->part[MK_RELAYS_UNTRUSTED] && hops->len > 0 ? 1 : hops->len;
    unsigned hit = 0;
    for (guint i = 0; i < n && !hit; i++) {
        const mk_relay *hop = g_ptr_array_index(hops, i);
        if (hop->rdns[0] == '\0')
            continue;
        char *rdns = g_ascii_strdown(hop->rdns, -1);
        hit = mk_domain_same_org(v->in->psl, dom, rdns);
        g_free(rdns);
    }
    g_free(dom);
    return hit;
}

/* ---- HeaderEval ------------------------------------------------------------------- */

/* The values of every header called name, unfolded, one per line; g_free. */
static char *mk_sa_ev_all_of(mk_sa_view *v, const char *name)
{
    const GPtrArray *hl = v->in->msg->headers;
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < hl->len; i++) {
        GMimeHeader *h = hl->pdata[i];
        if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) != 0)
            continue;
        const char *val = g_mime_header_get_value(h);
        for (const char *p = val != NULL ? val : ""; *p != '\0'; p++)
            g_string_append_c(s, *p == '\n' || *p == '\r' ? ' ' : *p);
        g_string_append_c(s, '\n');
    }
    return g_string_free(s, FALSE);
}

static int mk_sa_ev_match(const char *pattern, const char *subject)
{
    return g_regex_match_simple(pattern, subject, G_REGEX_MULTILINE | G_REGEX_RAW, 0);
}

/* gated_through_received_hdr_remover(): a list manager known to strip
 * Received headers (ezmlm, MSN groups), or no Received header at all. */
static unsigned mk_sa_ev_rcvd_remover(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    char *rcvd = mk_sa_ev_all_of(v, "Received");
    const char *ml = mk_sa_ev_header(v, "Mailing-List");
    unsigned hit = 0;
    if (ml != NULL && mk_sa_ev_match("^contact \\S+@\\S+; run by ezmlm$", ml)) {
        char *dlto = mk_sa_ev_all_of(v, "Delivered-To");
        hit = mk_sa_ev_match("^mailing list \\S+@\\S+", dlto) &&
              mk_sa_ev_match("qmail \\d+ invoked (?:from network|by .{3,20})\\); \\d+ ... \\d+",
                             rcvd);
        g_free(dlto);
    }
    if (!hit)
        hit = rcvd[0] == '\0' ||
              (strstr(rcvd, "from groups.msn.com (") != NULL &&
               mk_sa_ev_match("from groups\\.msn\\.com \\(\\S+\\.msn\\.com ", rcvd));
    g_free(rcvd);
    return hit;
}

/* check_for_missing_to_header(): no To (nor Apparently-To), or an empty one */
static unsigned mk_sa_ev_missing_to(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const char *to = mk_sa_ev_header(v, "To");
    if (to == NULL || *to == '\0')
        to = mk_sa_ev_header(v, "Apparently-To");
    return to == NULL || *to == '\0';
}

/* check_for_to_in_subject('user'): the Subject is the To address's local
 * part, alone, after "Re:"/"Fw:" and a word, or before punctuation. */
static unsigned mk_sa_ev_to_in_subject(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    char *to = mk_sa_ev_addr(v, mk_sa_ev_header(v, "To"));
    const char *subj = mk_sa_ev_header(v, "Subject");
    unsigned hit = 0;
    if (to != NULL && *to != '\0' && subj != NULL) {
        char *at = strchr(to, '@');
        if (at != NULL)
            *at = '\0';
        char *q = g_regex_escape_string(to, -1);
        char *re =
            g_strdup_printf("^(?:(?:re|fw):\\s*(?:\\w+\\s+)?%s$|(?-i:%s)\\s*[,:;!?-](?:$|\\s)|"
                            "%s$|,\\s*%s[,:;!?-]$)",
                            q, q, q, q);
        /* each way holds the local part: the pattern compiles only where
         * the Subject does */
        hit = strcasestr(subj, to) != NULL &&
              g_regex_match_simple(re, subj, G_REGEX_CASELESS | G_REGEX_RAW, 0);
        g_free(re);
        g_free(q);
    }
    g_free(to);
    return hit;
}

/* check_illegal_chars(HEADER, RATIO, COUNT): the raw header (ALL: every
 * header) holds at least COUNT bytes that are neither ASCII text nor
 * valid UTF-8, and they make at least RATIO of it; one cent, pound or
 * registered sign in a Subject is forgiven. */
static unsigned mk_sa_ev_illegal_chars(mk_sa_view *v, const mk_sa_rule *r)
{
    const GPtrArray *hl = v->in->msg->headers;
    int all = strcmp(r->args[0], "ALL") == 0;
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < hl->len; i++) {
        GMimeHeader *h = hl->pdata[i];
        const char *raw = g_mime_header_get_raw_value(h);
        if (all) {
            g_string_append(s, g_mime_header_get_name(h));
            g_string_append_c(s, ':');
            g_string_append(s, raw != NULL ? raw : "");
        } else if (g_ascii_strcasecmp(g_mime_header_get_name(h), r->args[0]) == 0) {
            while (raw != NULL && (*raw == ' ' || *raw == '\t'))
                raw++;
            g_string_append(s, raw != NULL ? raw : "");
        }
    }
    unsigned hit = 0;
    size_t illegal = 0, high = 0, ctl = 0, exempt = 0, text = 0;
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->str[i];
        if (c >= 0x80)
            high++;
        if ((c <= 0x08) || c == 0x0b || c == 0x0c || (c >= 0x0e && c <= 0x1f))
            ctl++;
        if (c == 0xa2 || c == 0xa3 || c == 0xae)
            exempt++;
        text += !isspace(c);
    }
    illegal = high + ctl;
    if (text > 0 && !(high > 0 && ctl == 0 && g_utf8_validate(s->str, (gssize)s->len, NULL))) {
        if (illegal > 0 && !all && g_ascii_strcasecmp(r->args[0], "Subject") == 0 && exempt == 1)
            illegal--;
        hit = (double)illegal / (double)s->len >= g_ascii_strtod(r->args[1], NULL) &&
              illegal >= (size_t)atoi(r->args[2]);
    }
    g_string_free(s, TRUE);
    return hit;
}

/* check_for_fake_aol_relay_in_rcvd(): a Received header names a host in
 * AOL's relay form (rly-xx01.) that AOL's own relays did not write. */
static unsigned mk_sa_ev_fake_aol(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    char *rcvd = mk_sa_ev_all_of(v, "Received");
    /* the patterns compile only for the rare message that names such a host */
    unsigned hit =
        strcasestr(rcvd, " rly-") != NULL &&
        g_regex_match_simple(" rly-[a-z][a-z]\\d\\d\\.", rcvd, G_REGEX_CASELESS | G_REGEX_RAW, 0) &&
        !mk_sa_ev_match("/AOL-\\d+\\.\\d+\\.\\d+\\)", rcvd) &&
        !mk_sa_ev_match("ESMTP id (?:RELAY|MAILRELAY|MAILIN)", rcvd);
    g_free(rcvd);
    return hit;
}

/* check_ratware_name_id(): a Message-ID of 28 capitals, a dot and the
 * From address, which is quoted as "Name" <address>. */
static unsigned mk_sa_ev_ratware_name_id(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const char *mid = mk_sa_ev_header(v, "Message-Id");
    const char *from = mk_sa_ev_header(v, "From");
    if (mid == NULL || from == NULL)
        return 0;
    /* <[A-Z]{28}\.([^>]+?)>, read by hand: most messages have a Message-ID */
    char *addr = NULL;
    for (const char *p = strchr(mid, '<'); p != NULL && addr == NULL; p = strchr(p + 1, '<')) {
        int k = 0;
        while (k < 28 && p[1 + k] >= 'A' && p[1 + k] <= 'Z')
            k++;
        if (k < 28 || p[29] != '.')
            continue;
        const char *a = p + 30, *gt = strchr(a, '>');
        if (gt != NULL && gt > a)
            addr = g_strndup(a, (gsize)(gt - a));
    }
    unsigned hit = 0;
    if (addr != NULL) {
        char *q = g_regex_escape_string(addr, -1);
        char *pat = g_strdup_printf("\"[^\"]+\"\\s*<%s>", q);
        hit = mk_sa_ev_match(pat, from);
        g_free(pat);
        g_free(q);
        g_free(addr);
    }
    return hit;
}

/* check_for_forged_yahoo_received_headers(): From at yahoo.com, and no
 * Received header or hop of Yahoo!'s own that such mail passes */
static unsigned mk_sa_ev_forged_yahoo(mk_sa_view *v, const mk_sa_rule *r)
{
    char *from = mk_sa_ev_addr(v, mk_sa_ev_header(v, "From"));
    /* \byahoo\.com$, caseless */
    size_t flen = from != NULL ? strlen(from) : 0;
    int yahoo = flen >= 9 && g_ascii_strcasecmp(from + flen - 9, "yahoo.com") == 0 &&
                (flen == 9 || !(g_ascii_isalnum(from[flen - 10]) || from[flen - 10] == '_'));
    if (!yahoo || mk_sa_ev_rcvd_remover(v, r)) {
        g_free(from);
        return 0;
    }
    char *rcvd = mk_sa_ev_all_of(v, "Received");
    const char *rf = mk_sa_ev_header(v, "Resent-From"), *rt = mk_sa_ev_header(v, "Resent-To");
    if (rf != NULL && *rf != '\0' && rt != NULL && *rt != '\0') {
        char *x = mk_sa_ev_all_of(v, "X-Received");
        if (*x != '\0') {
            g_free(rcvd);
            rcvd = x;
        } else {
            g_free(x);
        }
    }
    /* white space runs as one space */
    char *w = rcvd;
    for (const char *p = rcvd; *p != '\0'; p++)
        if (!g_ascii_isspace(*p) || w == rcvd || w[-1] != ' ')
            *w++ = g_ascii_isspace(*p) ? ' ' : *p;
    *w = '\0';
    const mk_relays *rs = mk_sa_view_relays(v);
    unsigned hit =
        !mk_sa_ev_match(" rdns=\\S+\\.yahoo\\.com ", rs->str[MK_RELAYS_TRUSTED]) &&
        !mk_sa_ev_match("^[^\\]]+ rdns=\\S+\\.yahoo\\.com ", rs->str[MK_RELAYS_UNTRUSTED]) &&
        !mk_sa_ev_match("by web\\S+\\.mail\\S*\\.yahoo\\.com via HTTP", rcvd) &&
        !mk_sa_ev_match("by sonic\\S+\\.consmr\\.mail\\S*\\.yahoo\\.com with HTTP", rcvd) &&
        !mk_sa_ev_match("by smtp\\S+\\.yahoo\\.com with SMTP", rcvd) &&
        !mk_sa_ev_match(
            "from \\[[0-9a-fA-F:.]+\\] by \\S+\\.(?:groups|scd|dcn)\\.yahoo\\.com with NNFMP",
            rcvd) &&
        !(mk_sa_ev_match("\\bmailer\\d+\\.bulk\\.scd\\.yahoo\\.com\\b", rcvd) &&
          g_regex_match_simple("\\@reply\\.yahoo\\.com$", from, G_REGEX_CASELESS, 0)) &&
        !mk_sa_ev_match("by \\w+\\.\\w+\\.yahoo\\.com \\(\\d+\\.\\d+\\.\\d+/\\d+\\.\\d+\\.\\d+\\)"
                        "(?: with ESMTP)? id \\w+",
                        rcvd);
    g_free(rcvd);
    g_free(from);
    return hit;
}

/* The recipients' likeness (HeaderEval's _check_recipients): of the To
 * and Cc addresses (and Bcc's when there are fewer than 5), repeats next
 * to each other once, at most 256: whether 7 or more come sorted, and
 * for 5 or more the share of pairs whose first two characters, or
 * hosts' first two characters (other hosts), are the same. */
typedef struct mk_sa_ev_recips {
    int sorted;
    double similar;
} mk_sa_ev_recips;

static const mk_sa_ev_recips *mk_sa_ev_recipients(mk_sa_view *v)
{
    int fresh;
    mk_sa_ev_recips *rc = mk_sa_ev_slot(v, "recipients", sizeof(*rc), &fresh);
    if (!fresh)
        return rc;
    GPtrArray *in = g_ptr_array_new_with_free_func(g_free);
    static const char *const hdrs[] = {"ToCc", "Bcc"};
    for (size_t k = 0; k < 2 && in->len < 5; k++) {
        const GString *g = mk_sa_view_header(v, hdrs[k], MK_SA_HDR_ADDR);
        gchar **l = g_strsplit(g != NULL ? g->str : "", "\n", -1);
        for (gchar **p = l; *p != NULL; p++)
            if (**p != '\0')
                g_ptr_array_add(in, g_strdup(*p));
        g_strfreev(l);
    }
    GPtrArray *addr = g_ptr_array_new();
    const char *prev = "";
    for (guint i = 0; i < in->len && addr->len < 256; i++)
        if (g_ascii_strcasecmp(in->pdata[i], prev) != 0) {
            prev = in->pdata[i];
            g_ptr_array_add(addr, in->pdata[i]);
        }
    guint n = addr->len;
    if (n >= 7) {
        rc->sorted = 1;
        for (guint i = 1; i < n && rc->sorted; i++)
            rc->sorted = strcmp(addr->pdata[i - 1], addr->pdata[i]) <= 0;
    }
    if (n >= 5) {
        /* the hosts of the addresses that have one, in order (as Perl's
         * map over a match lines them up): past their end, "" */
        GPtrArray *fqhn = g_ptr_array_new();
        for (guint i = 0; i < n; i++) {
            const char *at = strchr(addr->pdata[i], '@');
            if (at != NULL)
                g_ptr_array_add(fqhn, (gpointer)(at + 1));
        }
        double hits = 0, combos = 0;
        for (guint i = 0; i < n; i++)
            for (guint j = i + 1; j < n; j++) {
                const char *fi = i < fqhn->len ? fqhn->pdata[i] : "";
                const char *fj = j < fqhn->len ? fqhn->pdata[j] : "";
                hits += strncmp(addr->pdata[i], addr->pdata[j], 2) == 0;
                hits += strncmp(fi, fj, 2) == 0 && strcmp(fi, fj) != 0;
                combos++;
            }
        rc->similar = hits / combos;
        g_ptr_array_free(fqhn, TRUE);
    }
    g_ptr_array_free(addr, TRUE);
    g_ptr_array_free(in, TRUE);
    return rc;
}

/* similar_recipients(MIN, MAX): the likeness at least MIN and under MAX
 * ('undef': no bound) */
static unsigned mk_sa_ev_similar_recipients(mk_sa_view *v, const mk_sa_rule *r)
{
    double s = mk_sa_ev_recipients(v)->similar;
    return (strcmp(r->args[0], "undef") == 0 || s >= g_ascii_strtod(r->args[0], NULL)) &&
           (strcmp(r->args[1], "undef") == 0 || s < g_ascii_strtod(r->args[1], NULL));
}

/* sorted_recipients(): 7 recipients or more, in sorted order */
static unsigned mk_sa_ev_sorted_recipients(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    return (unsigned)mk_sa_ev_recipients(v)->sorted;
}

/* ---- BodyEval: tvd_vertical_words(MIN, MAX) ------------------------------------------ */

/* The largest share (percent) of spaces to other characters in a body
 * line longer than 5 bytes (100 when spaces outnumber the rest): words
 * written one letter per line or spaced out. */
static unsigned mk_sa_ev_vertical_words(mk_sa_view *v, const mk_sa_rule *r)
{
    int fresh;
    double *pct = mk_sa_ev_number(v, "tvd_vertical_words", &fresh);
    if (fresh) {
        *pct = -1;
        for (char *const *l = mk_sa_view_body(v); l != NULL && *l != NULL; l++) {
            size_t len = strlen(*l), spaces = 0;
            if (len <= 5)
                continue;
            for (const char *p = *l; *p != '\0'; p++)
                spaces += *p == ' ';
            size_t other = len - spaces;
            double p = spaces > other || other == 0 ? 100 : (double)(100 * spaces / other);
            if (p > *pct)
                *pct = p;
        }
    }
    double min = g_ascii_strtod(r->args[0], NULL), max = g_ascii_strtod(r->args[1], NULL);
    if (max >= 100)
        max = 101;
    return *pct >= min && *pct < max;
}

/* ---- HTMLEval: the statistics of each text/html part (mk_sa_html) -------------------- */

/* The statistics of each text/html part, in the order of the message's
 * texts, made on first use. */
static GPtrArray *mk_sa_ev_html(mk_sa_view *v)
{
    if (v->html == NULL) /* the caller's (shared with Bayes: a reference, not a change), or
                          * made here */
        v->html = v->in->html != NULL ? g_ptr_array_ref((GPtrArray *)v->in->html)
                                      : mk_sa_html_parts(v->in->msg);
    return v->html;
}

/* Counts the words of text (runs between white space holding a word
 * character) into words. */
static void mk_sa_ev_words(GHashTable *words, const char *text)
{
    /* cut at white space, as g_strsplit_set(text, " \t\n\r\f\v") would, but
     * without a string made for each piece (nor one more for a word seen
     * before) */
    static const char space[] = " \t\n\r\f\v";
    for (const char *p = text; *p != '\0';) {
        size_t n = strcspn(p, space);
        int word = 0;
        for (size_t i = 0; i < n && !word; i++)
            word = g_ascii_isalnum(p[i]) || p[i] == '_';
        if (word) {
            char buf[128], *key = n < sizeof(buf) ? buf : g_malloc(n + 1);
            memcpy(key, p, n);
            key[n] = '\0';
            gpointer seen, count;
            if (g_hash_table_lookup_extended(words, key, &seen, &count)) {
                g_hash_table_steal(words, seen); /* the key kept, its count one more */
                g_hash_table_insert(words, seen, GINT_TO_POINTER(GPOINTER_TO_INT(count) + 1));
                if (key != buf)
                    g_free(key);
            } else { /* (the table keeps the key) */
                g_hash_table_insert(words, key != buf ? key : g_strdup(buf), GINT_TO_POINTER(1));
            }
        }
        p += n;
        if (*p != '\0')
            p++;
    }
}

typedef struct mk_sa_ev_altdiff {
    double diff;       /* the largest share (%) of HTML words the text lacks */
    double html, text; /* distinct words of the last alternative's HTML and text */
} mk_sa_ev_altdiff;

static void mk_sa_ev_collect(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    (void)parent;
    g_hash_table_add(data, part);
}

static void mk_sa_ev_find_alt(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    (void)parent;
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    if (GMIME_IS_MULTIPART(part) && ct != NULL &&
        g_mime_content_type_is_type(ct, "multipart", "alternative"))
        g_ptr_array_add(data, part);
}

/* BodyEval's multipart/alternative difference: for each such part, the
 * words of its HTML (rendered) and of its other texts; the share of HTML
 * words the text does not have as often. */
static const mk_sa_ev_altdiff *mk_sa_ev_alternative(mk_sa_view *v)
{
    int fresh;
    mk_sa_ev_altdiff *md = mk_sa_ev_slot(v, "madiff", sizeof(*md), &fresh);
    if (!fresh)
        return md;
    GMimeObject *top = g_mime_message_get_mime_part(v->in->msg->mime);
    GPtrArray *alts = g_ptr_array_new();
    if (top != NULL) {
        mk_sa_ev_find_alt(NULL, top, alts);
        if (GMIME_IS_MULTIPART(top))
            g_mime_multipart_foreach(GMIME_MULTIPART(top), mk_sa_ev_find_alt, alts);
    }
    /* an invitation: multipart/alternative of HTML and a calendar only */
    if (alts->len == 1 && alts->pdata[0] == top &&
        g_mime_multipart_get_count(GMIME_MULTIPART(top)) == 2) {
        GMimeContentType *a = g_mime_object_get_content_type(
                             g_mime_multipart_get_part(GMIME_MULTIPART(top), 0)),
                         *b = g_mime_object_get_content_type(
                             g_mime_multipart_get_part(GMIME_MULTIPART(top), 1));
        if (a != NULL && b != NULL && g_mime_content_type_is_type(a, "text", "html") &&
            g_mime_content_type_is_type(b, "text", "calendar"))
            g_ptr_array_set_size(alts, 0);
    }
    const mk_msg *m = v->in->msg;
    GPtrArray *html = mk_sa_ev_html(v);
    for (guint a = 0; a < alts->len; a++) {
        GHashTable *inside = g_hash_table_new(g_direct_hash, g_direct_equal);
        g_mime_multipart_foreach(GMIME_MULTIPART(alts->pdata[a]), mk_sa_ev_collect, inside);
        GHashTable *hw = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        GHashTable *tw = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        for (size_t i = 0, h = 0; i < m->n_texts; i++) {
            int is_html = mk_html_dom_is_html(&m->texts[i]);
            const mk_sa_html *hp = is_html ? html->pdata[h++] : NULL;
            if (m->texts[i].text == NULL || !g_hash_table_contains(inside, m->texts[i].part))
                continue;
            if (is_html) {
                mk_sa_ev_words(hw, hp->rendered->str);
                if (g_hash_table_size(hw) == 0 && mk_sa_html_inside(hp, "img") >= 0)
                    g_hash_table_insert(hw, g_strdup("\n"), GINT_TO_POINTER(1));
            } else {
                mk_sa_ev_words(tw, m->texts[i].text);
            }
        }
        double orig = g_hash_table_size(hw);
        if (orig > 0) {
            md->html = orig;
            md->text = g_hash_table_size(tw);
            GHashTableIter it;
            gpointer k, n;
            g_hash_table_iter_init(&it, tw);
            while (g_hash_table_iter_next(&it, &k, &n)) {
                gpointer hn = g_hash_table_lookup(hw, k);
                if (hn != NULL && GPOINTER_TO_INT(hn) - GPOINTER_TO_INT(n) < 1)
                    g_hash_table_remove(hw, k);
            }
            double diff = g_hash_table_size(hw) / orig * 100;
            md->diff = MAX(md->diff, diff);
        }
        g_hash_table_destroy(hw);
        g_hash_table_destroy(tw);
        g_hash_table_destroy(inside);
    }
    g_ptr_array_free(alts, TRUE);
    return md;
}

/* multipart_alternative_difference(MIN, MAX): over MIN (0: any) and at
 * most MAX ('undef': no bound) percent of the HTML words the text lacks */
static unsigned mk_sa_ev_madiff(mk_sa_view *v, const mk_sa_rule *r)
{
    double d = mk_sa_ev_alternative(v)->diff, min = g_ascii_strtod(r->args[0], NULL);
    return (min == 0 || d > min) &&
           (strcmp(r->args[1], "undef") == 0 || d <= g_ascii_strtod(r->args[1], NULL));
}

/* multipart_alternative_difference_count(RATIO, MINHTML): the text has
 * more than RATIO times as many distinct words as the HTML's over MINHTML */
static unsigned mk_sa_ev_madiff_count(mk_sa_view *v, const mk_sa_rule *r)
{
    const mk_sa_ev_altdiff *md = mk_sa_ev_alternative(v);
    return md->html > g_ascii_strtod(r->args[1], NULL) &&
           md->text / md->html > g_ascii_strtod(r->args[0], NULL);
}

/* "OP N" (<, >, <=, >=, ==, !=) applied to value; 0 when expr is none of
 * them. */
static int mk_sa_ev_compare(double value, const char *expr)
{
    while (*expr == ' ')
        expr++;
    static const char *const ops[] = {"<=", ">=", "==", "!=", "<", ">", NULL};
    for (const char *const *op = ops; *op != NULL; op++) {
        size_t n = strlen(*op);
        if (strncmp(expr, *op, n) != 0)
            continue;
        char *end;
        double k = g_ascii_strtod(expr + n, &end);
        if (end == expr + n)
            return 0;
        switch ((*op)[0]) {
        case '<':
            return n == 2 ? value <= k : value < k;
        case '>':
            return n == 2 ? value >= k : value > k;
        case '=':
            return value == k;
        default:
            return value != k;
        }
    }
    return 0;
}

/* html_range(TEST, MIN, MAX): a part whose TEST is above MIN and at most
 * MAX ("inf" or none: no bound). */
static unsigned mk_sa_ev_html_range(mk_sa_view *v, const mk_sa_rule *r)
{
    GPtrArray *parts = mk_sa_ev_html(v);
    double min = g_ascii_strtod(r->args[1], NULL);
    int bounded = r->n_args > 2 && strcmp(r->args[2], "inf") != 0;
    double max = bounded ? g_ascii_strtod(r->args[2], NULL) : 0;
    for (guint i = 0; i < parts->len; i++) {
        double x;
        if (mk_sa_html_value(parts->pdata[i], r->args[0], &x) && x > min && (!bounded || x <= max))
            return 1;
    }
    return 0;
}

/* html_eval(TEST, "OP N"): a part whose TEST compares so. */
static unsigned mk_sa_ev_html_eval(mk_sa_view *v, const mk_sa_rule *r)
{
    GPtrArray *parts = mk_sa_ev_html(v);
    for (guint i = 0; i < parts->len; i++) {
        double x;
        if (mk_sa_html_value(parts->pdata[i], r->args[0], &x) && mk_sa_ev_compare(x, r->args[1]))
            return 1;
    }
    return 0;
}

/* html_tag_balance(TAG, "OP N"): a part where TAG, opened less closed,
 * compares so. */
static unsigned mk_sa_ev_html_balance(mk_sa_view *v, const mk_sa_rule *r)
{
    GPtrArray *parts = mk_sa_ev_html(v);
    for (guint i = 0; i < parts->len; i++) {
        int n = mk_sa_html_inside(parts->pdata[i], r->args[0]);
        if (n >= 0 && mk_sa_ev_compare(n, r->args[1]))
            return 1;
    }
    return 0;
}

/* html_test(TEST): a part with that finding */
static unsigned mk_sa_ev_html_test(mk_sa_view *v, const mk_sa_rule *r)
{
    GPtrArray *parts = mk_sa_ev_html(v);
    const char *t = r->args[0];
    for (guint i = 0; i < parts->len; i++) {
        const mk_sa_html *h = parts->pdata[i];
        if (strcmp(t, "html") == 0 || (strcmp(t, "embeds") == 0 && h->embeds) ||
            (strcmp(t, "form_action_mailto") == 0 && h->form_action_mailto) ||
            (strcmp(t, "font_face_bad") == 0 && h->font_face_bad) ||
            (strcmp(t, "font_low_contrast") == 0 && h->font_low_contrast) ||
            (strcmp(t, "font_invalid_color") == 0 && h->font_invalid_color))
            return 1;
    }
    return 0;
}

static const char *const mk_sa_ev_html_tests[] = {"html",
                                                  "embeds",
                                                  "form_action_mailto",
                                                  "font_face_bad",
                                                  "font_low_contrast",
                                                  "font_invalid_color",
                                                  NULL};

/* html_text_match(WHAT, RE): a title, comment or link text matching RE */
static unsigned mk_sa_ev_html_text(mk_sa_view *v, const mk_sa_rule *r)
{
    GPtrArray *parts = mk_sa_ev_html(v);
    GRegex *re = NULL; /* compiled for the first text (most messages have none) */
    unsigned hit = 0;
    int bad = 0;
    for (guint i = 0; !bad && i < parts->len && !hit; i++) {
        const mk_sa_html *h = parts->pdata[i];
        GPtrArray *texts = strcmp(r->args[0], "title") == 0     ? h->title
                           : strcmp(r->args[0], "comment") == 0 ? h->comment
                                                                : h->anchor;
        for (guint k = 0; k < texts->len && !hit; k++) {
            if (re == NULL && (re = g_regex_new(r->args[1], G_REGEX_RAW, 0, NULL)) == NULL) {
                bad = 1;
                break;
            }
            hit = g_regex_match(re, texts->pdata[k], 0, NULL);
        }
    }
    if (re != NULL)
        g_regex_unref(re);
    return hit;
}

static const char *const mk_sa_ev_html_texts[] = {"title", "comment", "anchor", NULL};

/* html_image_only(MIN, MAX): a part with an image whose source is above
 * MIN and at most MAX characters long */
static unsigned mk_sa_ev_html_image_only(mk_sa_view *v, const mk_sa_rule *r)
{
    GPtrArray *parts = mk_sa_ev_html(v);
    double min = g_ascii_strtod(r->args[0], NULL), max = g_ascii_strtod(r->args[1], NULL);
    for (guint i = 0; i < parts->len; i++) {
        const mk_sa_html *h = parts->pdata[i];
        if (mk_sa_html_inside(h, "img") >= 0 && h->length > min && h->length <= max)
            return 1;
    }
    return 0;
}

/* html_image_ratio(MIN, MAX): visible text per pixel of image above MIN
 * and at most MAX */
static unsigned mk_sa_ev_html_image_ratio(mk_sa_view *v, const mk_sa_rule *r)
{
    GPtrArray *parts = mk_sa_ev_html(v);
    double min = g_ascii_strtod(r->args[0], NULL), max = g_ascii_strtod(r->args[1], NULL);
    for (guint i = 0; i < parts->len; i++) {
        const mk_sa_html *h = parts->pdata[i];
        if (h->image_area <= 0)
            continue;
        double ratio = h->non_space_len / h->image_area;
        if (ratio > min && ratio <= max)
            return 1;
    }
    return 0;
}

/* html_title_subject_ratio(R): a title more than R times as long as the
 * Subject */
static unsigned mk_sa_ev_html_title_ratio(mk_sa_view *v, const mk_sa_rule *r)
{
    const char *subj = mk_sa_ev_header(v, "Subject");
    if (subj == NULL || *subj == '\0')
        return 0;
    double slen = (double)g_utf8_strlen(subj, -1), ratio = g_ascii_strtod(r->args[0], NULL);
    GPtrArray *parts = mk_sa_ev_html(v);
    for (guint i = 0; i < parts->len; i++) {
        const mk_sa_html *h = parts->pdata[i];
        for (guint k = 0; k < h->title->len; k++) {
            const char *t = h->title->pdata[k];
            if (*t != '\0' && (double)g_utf8_strlen(t, -1) / slen > ratio)
                return 1;
        }
    }
    return 0;
}

static const char *const mk_sa_ev_to_subject_tests[] = {"user", NULL};
static const char *const mk_sa_ev_replyto_whats[] = {"replyto", "reply", "", NULL};

static const mk_sa_evaldef mk_sa_evaldefs[] = {
    {"check_body_length", 1, 1, 1, mk_sa_ev_body_length, NULL, 0},
    {"check_for_uppercase", 2, 2, 0, mk_sa_ev_uppercase, NULL, 0},
    {"check_for_mime_html", 0, 0, 0, mk_sa_ev_mime_html, NULL, 0},
    {"check_for_mime_html_only", 0, 0, 0, mk_sa_ev_mime_html_only, NULL, 0},
    {"check_for_mime", 1, 1, 0, mk_sa_ev_mime_flag, mk_sa_ev_mime_flags, 0},
    {"check_header_count_range", 3, 3, 0, mk_sa_ev_header_count, NULL, 0},
    {"check_for_matching_env_and_hdr_from", 0, 0, 0, mk_sa_ev_env_from, NULL, 0},
    {"check_equal_from_domains", 0, 0, 0, mk_sa_ev_equal_from_domains, NULL, 0},
    {"check_for_forged_yahoo_received_headers", 0, 0, 0, mk_sa_ev_forged_yahoo, NULL, 0},
    {"similar_recipients", 2, 2, 0, mk_sa_ev_similar_recipients, NULL, 0},
    {"sorted_recipients", 0, 0, 0, mk_sa_ev_sorted_recipients, NULL, 0},
    {"helo_ip_mismatch", 0, 0, 0, mk_sa_ev_helo_ip_mismatch, NULL, 0},
    {"check_for_no_rdns_dotcom_helo", 0, 0, 0, mk_sa_ev_no_rdns_dotcom_helo, NULL, 0},
    {"check_for_ascii_text_illegal", 0, 0, 0, mk_sa_ev_ascii_illegal, NULL, 0},
    {"check_abundant_unicode_ratio", 1, 1, 0, mk_sa_ev_unicode_ratio, NULL, 0},
    {"multipart_alternative_difference", 2, 2, 0, mk_sa_ev_madiff, NULL, 0},
    {"multipart_alternative_difference_count", 2, 2, 0, mk_sa_ev_madiff_count, NULL, 0},
    {"subject_is_all_caps", 0, 0, 0, mk_sa_ev_subject_caps, NULL, 0},
    {"check_for_shifted_date", 2, 2, 0, mk_sa_ev_shifted_date, NULL, 0},
    {"check_outlook_message_id", 0, 0, 0, mk_sa_ev_outlook_msgid, NULL, 0},
    {"html_tag_exists", 1, 1, 0, mk_sa_ev_html_tag, NULL, 0},
    {"check_all_trusted", 0, 0, 0, mk_sa_ev_all_trusted, NULL, 0},
    {"check_no_relays", 0, 0, 0, mk_sa_ev_no_relays, NULL, 0},
    {"check_relays_unparseable", 0, 0, 0, mk_sa_ev_relays_unparseable, NULL, 0},
    {"check_mailfrom_matches_rcvd", 0, 0, 0, mk_sa_ev_mailfrom_rcvd, NULL, 0},
    {"gated_through_received_hdr_remover", 0, 0, 0, mk_sa_ev_rcvd_remover, NULL, 0},
    {"check_for_missing_to_header", 0, 0, 0, mk_sa_ev_missing_to, NULL, 0},
    {"check_for_to_in_subject", 1, 1, 0, mk_sa_ev_to_in_subject, mk_sa_ev_to_subject_tests, 0},
    {"check_illegal_chars", 3, 3, 0, mk_sa_ev_illegal_chars, NULL, 0},
    {"check_for_fake_aol_relay_in_rcvd", 0, 0, 0, mk_sa_ev_fake_aol, NULL, 0},
    {"check_ratware_name_id", 0, 0, 0, mk_sa_ev_ratware_name_id, NULL, 0},
    {"tvd_vertical_words", 2, 2, 0, mk_sa_ev_vertical_words, NULL, 0},
    {"html_range", 2, 3, 0, mk_sa_ev_html_range, NULL, 0},
    {"html_eval", 2, 2, 0, mk_sa_ev_html_eval, NULL, 0},
    {"html_tag_balance", 2, 2, 0, mk_sa_ev_html_balance, NULL, 0},
    {"html_test", 1, 1, 0, mk_sa_ev_html_test, mk_sa_ev_html_tests, 0},
    {"html_text_match", 2, 2, 0, mk_sa_ev_html_text, mk_sa_ev_html_texts, 0},
    {"html_image_only", 2, 2, 0, mk_sa_ev_html_image_only, NULL, 0},
    {"html_image_ratio", 2, 2, 0, mk_sa_ev_html_image_ratio, NULL, 0},
    {"html_title_subject_ratio", 1, 1, 0, mk_sa_ev_html_title_ratio, NULL, 0},
    {"check_freemail_from", 0, 1, 0, mk_sa_ev_freemail_from, NULL, 1},
    {"check_freemail_header", 1, 2, 0, mk_sa_ev_freemail_header, NULL, 2},
    {"check_freemail_replyto", 0, 1, 0, mk_sa_ev_freemail_replyto, mk_sa_ev_replyto_whats, 0},
    {"check_freemail_body", 0, 1, 0, mk_sa_ev_freemail_body, NULL, 1},
    {"have_any_bounce_relays", 0, 0, 0, mk_sa_ev_any_bounce_relays, NULL, 0},
    {"check_welcomelist_bounce_relays", 0, 0, 1, mk_sa_ev_bounce_relays, NULL, 0},
    {"check_whitelist_bounce_relays", 0, 0, 1, mk_sa_ev_bounce_relays, NULL, 0},
};

const mk_sa_evaldef *mk_sa_evaldef_find(const char *name)
{
    for (size_t i = 0; i < sizeof(mk_sa_evaldefs) / sizeof(mk_sa_evaldefs[0]); i++)
        if (strcmp(mk_sa_evaldefs[i].name, name) == 0)
            return &mk_sa_evaldefs[i];
    return NULL;
}
