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

#include "mk_sa_int.h"

/* The first header of that name, decoded, or NULL. */
static const char *mk_sa_ev_header(const mk_sa_view *v, const char *name)
{
    return g_mime_object_get_header(GMIME_OBJECT(v->in->msg->mime), name);
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
    unsigned html, text, qp, base64, caps_charset;
} mk_sa_ev_walk;

static void mk_sa_ev_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    (void)parent;
    mk_sa_ev_walk *w = data;
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
    GMimeContentEncoding enc = g_mime_part_get_content_encoding(GMIME_PART(part));
    w->qp += enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    w->base64 += enc == GMIME_CONTENT_ENCODING_BASE64;
}

/* The MIME counts of the message, walked once per message. */
static const mk_sa_ev_walk *mk_sa_ev_mime(mk_sa_view *v)
{
    mk_sa_ev_walk *w = g_hash_table_lookup(v->evals, "mime");
    if (w == NULL) {
        w = g_new0(mk_sa_ev_walk, 1);
        g_mime_message_foreach(v->in->msg->mime, mk_sa_ev_part, w); /* the top part too */
        g_hash_table_insert(v->evals, g_strdup("mime"), w);
    }
    return w;
}

/* A number the message's rules share (key names it); *fresh set when it
 * was just made (0), for the caller to work out. */
static double *mk_sa_ev_number(mk_sa_view *v, const char *key, int *fresh)
{
    double *n = g_hash_table_lookup(v->evals, key);
    *fresh = n == NULL;
    if (n == NULL) {
        n = g_new0(double, 1);
        g_hash_table_insert(v->evals, g_strdup(key), n);
    }
    return n;
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
    if (strcmp(r->args[0], "mime_qp_count") == 0)
        return w->qp > 0;
    return w->base64 > 0; /* mime_base64_count: the loader lets no other through */
}

static const char *const mk_sa_ev_mime_flags[] = {"mime_qp_count", "mime_base64_count", NULL};

/* ---- HeaderEval --------------------------------------------------------------------- */

/* check_header_count_range(HEADER, MIN, MAX): the header appears MIN to
 * MAX times. */
static unsigned mk_sa_ev_header_count(mk_sa_view *v, const mk_sa_rule *r)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(v->in->msg->mime));
    int n = 0, count = g_mime_header_list_get_count(hl);
    for (int i = 0; i < count; i++)
        n += g_ascii_strcasecmp(g_mime_header_get_name(g_mime_header_list_get_header_at(hl, i)),
                                r->args[0]) == 0;
    return n >= atoi(r->args[1]) && n <= atoi(r->args[2]);
}

/* The address of the first mailbox in a header value, lowercased; g_free. */
static char *mk_sa_ev_addr(const char *value)
{
    InternetAddressList *list = internet_address_list_parse(NULL, value != NULL ? value : "");
    char *addr = NULL;
    for (int i = 0; list != NULL && i < internet_address_list_length(list) && addr == NULL; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia))
            addr = g_ascii_strdown(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)),
                                   -1);
    }
    if (list != NULL)
        g_object_unref(list);
    return addr;
}

/* check_for_matching_env_and_hdr_from(): the envelope sender is the From
 * address. */
static unsigned mk_sa_ev_env_from(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const char *env = v->in->envelope_from;
    if (env == NULL || *env == '\0')
        return 0;
    char *from = mk_sa_ev_addr(mk_sa_ev_header(v, "From"));
    unsigned hit = from != NULL && g_ascii_strcasecmp(from, env) == 0;
    g_free(from);
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
        GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(v->in->msg->mime));
        GMimeHeader *h = g_mime_header_list_get_header(hl, "Subject");
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

/* The time of a date, 0 when there is none or it does not parse (as
 * SpamAssassin's parse_rfc822_date() || 0). */
static gint64 mk_sa_ev_time(const char *date)
{
    GDateTime *dt = date != NULL ? g_mime_utils_header_decode_date(date) : NULL;
    if (dt == NULL)
        return 0;
    gint64 t = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
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
        gint64 t = mk_sa_ev_time(semi != NULL ? semi + 1 : NULL);
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
        gint64 t = mk_sa_ev_time(mk_sa_ev_header(v, "Date"));
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
        (long long)((double)mk_sa_ev_time(mk_sa_ev_header(v, "Date")) * per_second + offset);
    if (llabs(tt - expected) < fudge)
        return 0;
    const char *rcvd = mk_sa_ev_header(v, "Received");
    const char *semi = rcvd != NULL ? strrchr(rcvd, ';') : NULL;
    expected =
        (long long)((double)mk_sa_ev_time(semi != NULL ? semi + 1 : NULL) * per_second + offset);
    return llabs(tt - expected) >= fudge;
}

/* ---- HTMLEval ------------------------------------------------------------------------ */

/* Whether the source of an HTML part opens tag (case-insensitive),
 * outside comments. */
static int mk_sa_ev_html_has(const char *html, size_t len, const char *tag)
{
    size_t tl = strlen(tag);
    for (size_t i = 0; i < len; i++) {
        if (html[i] != '<')
            continue;
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

static const mk_sa_evaldef mk_sa_evaldefs[] = {
    {"check_body_length", 1, 1, 1, mk_sa_ev_body_length, NULL},
    {"check_for_uppercase", 2, 2, 0, mk_sa_ev_uppercase, NULL},
    {"check_for_mime_html", 0, 0, 0, mk_sa_ev_mime_html, NULL},
    {"check_for_mime_html_only", 0, 0, 0, mk_sa_ev_mime_html_only, NULL},
    {"check_for_mime", 1, 1, 0, mk_sa_ev_mime_flag, mk_sa_ev_mime_flags},
    {"check_header_count_range", 3, 3, 0, mk_sa_ev_header_count, NULL},
    {"check_for_matching_env_and_hdr_from", 0, 0, 0, mk_sa_ev_env_from, NULL},
    {"subject_is_all_caps", 0, 0, 0, mk_sa_ev_subject_caps, NULL},
    {"check_for_shifted_date", 2, 2, 0, mk_sa_ev_shifted_date, NULL},
    {"check_outlook_message_id", 0, 0, 0, mk_sa_ev_outlook_msgid, NULL},
    {"html_tag_exists", 1, 1, 0, mk_sa_ev_html_tag, NULL},
};

const mk_sa_evaldef *mk_sa_evaldef_find(const char *name)
{
    for (size_t i = 0; i < sizeof(mk_sa_evaldefs) / sizeof(mk_sa_evaldefs[0]); i++)
        if (strcmp(mk_sa_evaldefs[i].name, name) == 0)
            return &mk_sa_evaldefs[i];
    return NULL;
}
