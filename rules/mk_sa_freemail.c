/*
 * mk_sa_freemail: the eval: tests of SpamAssassin's FreeMail plugin
 * (Mail::SpamAssassin::Plugin::FreeMail: is a sender's address at a
 * free mail service, and do From, Reply-To and the addresses in the body
 * disagree?) and of its VBounce plugin (bounces through relays of ours),
 * to their definitions, with the settings the rule files give
 * (mk_sa_settings.c).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "mk_sa_int.h"

/* Adds s (g_free'd string, taken) to list unless it holds it already. */
static void mk_sa_fm_add_once(GPtrArray *list, char *s)
{
    for (guint i = 0; i < list->len; i++)
        if (strcmp(list->pdata[i], s) == 0) {
            g_free(s);
            return;
        }
    g_ptr_array_add(list, s);
}

/* The addresses of header name (lower case, dots squeezed as
 * all_from_addrs does when squeeze), appended to out unless there. */
static void mk_sa_fm_addrs(mk_sa_view *v, const char *name, int squeeze, GPtrArray *out)
{
    const GString *g = mk_sa_view_header(v, name, MK_SA_HDR_ADDR);
    if (g == NULL)
        return;
    gchar **lines = g_strsplit(g->str, "\n", -1);
    for (gchar **l = lines; *l != NULL; l++) {
        if (**l == '\0')
            continue;
        char *a = g_ascii_strdown(*l, -1);
        if (squeeze) {
            char *w = a;
            for (const char *r = a; *r != '\0'; r++)
                if (!(*r == '.' && w > a && w[-1] == '.'))
                    *w++ = *r;
            *w = '\0';
        }
        mk_sa_fm_add_once(out, a);
    }
    g_strfreev(lines);
}

/* _is_freemail: at a free mail domain, and not welcomelisted */
static int mk_sa_fm_is(const mk_sa_settings *s, const char *email)
{
    if (*email == '\0' || g_hash_table_contains(s->fm_welcome, email))
        return 0;
    const char *at = strrchr(email, '@');
    const char *domain = at != NULL ? at + 1 : email;
    if (g_hash_table_contains(s->fm_welcome, domain) ||
        mk_sa_settings_match(s->fm_default_welcome, email))
        return 0;
    return g_hash_table_contains(s->fm_domains, domain) ||
           mk_sa_settings_match(s->fm_wild_re, email);
}

/* The plugin runs only with a list of free mail domains (and its
 * patterns, which compile unless memory runs out). */
static int mk_sa_fm_available(const mk_sa_settings *s)
{
    return (g_hash_table_size(s->fm_domains) > 0 || s->fm_wild_re != NULL) && s->email_re != NULL &&
           s->strip_url != NULL && s->strip_email != NULL;
}

/* The first address of list that is free mail and matches re (when not
 * NULL); NULL when none. */
static const char *mk_sa_fm_first(const mk_sa_settings *s, GPtrArray *list, const pcre2_code *re)
{
    for (guint i = 0; i < list->len; i++)
        if (mk_sa_fm_is(s, list->pdata[i]) &&
            (re == NULL || mk_sa_settings_match(re, list->pdata[i])))
            return list->pdata[i];
    return NULL;
}

/* Whether an address of addrs (freed here) is free mail and matches the
 * rule's pattern argument, when given (one that does not compile: not
 * hit, as SpamAssassin warns and returns 0). */
static unsigned mk_sa_fm_any(mk_sa_view *v, const mk_sa_rule *r, GPtrArray *addrs)
{
    unsigned hit = !r->arg_re_bad && mk_sa_fm_first(&v->rs->set, addrs, r->arg_re) != NULL;
    g_ptr_array_free(addrs, TRUE);
    return hit;
}

/* check_freemail_from([RE]): one of the From addresses (all_from_addrs)
 * is free mail (and matches RE) */
unsigned mk_sa_ev_freemail_from(mk_sa_view *v, const mk_sa_rule *r)
{
    if (!mk_sa_fm_available(&v->rs->set))
        return 0;
    GPtrArray *from = g_ptr_array_new_with_free_func(g_free);
    mk_sa_fm_addrs(v, "Resent-From", 1, from);
    if (from->len > 1) /* Resent-From:first:addr */
        g_ptr_array_set_size(from, 1);
    if (from->len == 0) {
        static const char *const names[] = {"From", "Envelope-Sender", "Resent-Sender",
                                            "X-Envelope-From", "EnvelopeFrom"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            mk_sa_fm_addrs(v, names[i], 1, from);
    }
    return mk_sa_fm_any(v, r, from);
}

/* check_freemail_header(HEADER[, RE]): an address of HEADER is free mail
 * (and matches RE) */
unsigned mk_sa_ev_freemail_header(mk_sa_view *v, const mk_sa_rule *r)
{
    if (!mk_sa_fm_available(&v->rs->set))
        return 0;
    GPtrArray *addrs = g_ptr_array_new_with_free_func(g_free);
    mk_sa_fm_addrs(v, r->args[0], 0, addrs);
    return mk_sa_fm_any(v, r, addrs);
}

/* Adds the matches of the address pattern in text to emails (lower case,
 * once each) until it holds max; 1 when it reached max. */
static int mk_sa_fm_collect(const mk_sa_settings *s, const char *text, size_t len,
                            GPtrArray *emails, guint max)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(s->email_re, NULL);
    PCRE2_SIZE at = 0;
    int full = 0;
    while (at <= len && pcre2_match(s->email_re, (PCRE2_SPTR)text, len, at, 0, md, NULL) >= 1) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        char *e = g_ascii_strdown(text + ov[2], (gssize)(ov[3] - ov[2]));
        mk_sa_fm_add_once(emails, e);
        if (emails->len >= max) {
            full = 1;
            break;
        }
        at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    }
    pcre2_match_data_free(md);
    return full;
}

/* Replaces every match of re in *text with a space. */
static void mk_sa_fm_strip(const pcre2_code *re, char **text, size_t *len)
{
    PCRE2_SIZE outlen = *len + 1;
    char *out = g_malloc(outlen);
    int rc = pcre2_substitute(re, (PCRE2_SPTR)*text, *len, 0, PCRE2_SUBSTITUTE_GLOBAL, NULL, NULL,
                              (PCRE2_SPTR) " ", 1, (PCRE2_UCHAR *)out, &outlen);
    if (rc > 0) {
        g_free(*text);
        *text = out;
        *len = outlen;
    } else {
        g_free(out);
    }
}

/* _parse_body: the free mail addresses of the body (mailto: links first,
 * then the text, after links and quoted or "wrote:" addresses are taken
 * out), each once, as "\n"-ended lines after a first line "ok" or "skip"
 * (too many addresses). Kept for the message. */
static const char *mk_sa_fm_body(mk_sa_view *v)
{
    const char *key = "freemail-body";
    const char *done = g_hash_table_lookup(v->evals, key);
    if (done != NULL)
        return done;
    const mk_sa_settings *s = &v->rs->set;
    GPtrArray *emails = g_ptr_array_new_with_free_func(g_free);
    char *const *lines = mk_sa_view_body(v);
    /* mailto: links of HTML anchors; an address the text shows was found
     * in the text, where SpamAssassin reads it (and may strike it out) */
    for (size_t i = 0; i < v->in->n_uris && emails->len < 20; i++) {
        const char *u = v->in->uris[i];
        if (g_ascii_strncasecmp(u, "mailto:", 7) == 0) {
            /* only an address at the start of what follows mailto: */
            GPtrArray *one = g_ptr_array_new_with_free_func(g_free);
            mk_sa_fm_collect(s, u + 7, strlen(u + 7), one, 1);
            int in_text = 0;
            for (size_t k = 0; one->len == 1 && lines != NULL && lines[k] != NULL && !in_text; k++)
                in_text = strcasestr(lines[k], one->pdata[0]) != NULL;
            if (one->len == 1 && !in_text &&
                g_ascii_strncasecmp(u + 7, one->pdata[0], strlen(one->pdata[0])) == 0) {
                mk_sa_fm_add_once(emails, g_strdup(one->pdata[0]));
            }
            g_ptr_array_free(one, TRUE);
        }
    }
    for (size_t i = 0; lines != NULL && lines[i] != NULL; i++) {
        if (strchr(lines[i], '@') == NULL)
            continue;
        size_t len = strlen(lines[i]);
        char *t = g_strndup(lines[i], len);
        mk_sa_fm_strip(s->strip_url, &t, &len);
        mk_sa_fm_strip(s->strip_email, &t, &len);
        int full = mk_sa_fm_collect(s, t, len, emails, 40);
        g_free(t);
        if (full)
            break;
    }
    GString *out = g_string_new("ok\n");
    int all = 0, fm = 0;
    for (guint i = 0; i < emails->len; i++) {
        if (++all == s->fm_max_body_emails && s->fm_skip_over_max) {
            g_string_assign(out, "skip\n");
            break;
        }
        if (!mk_sa_fm_is(s, emails->pdata[i]))
            continue;
        if (++fm == s->fm_max_body_freemails && s->fm_skip_over_max) {
            g_string_assign(out, "skip\n");
            break;
        }
        g_string_append_printf(out, "%s\n", (const char *)emails->pdata[i]);
    }
    g_ptr_array_free(emails, TRUE);
    char *res = g_string_free(out, FALSE);
    g_hash_table_insert(v->evals, g_strdup(key), res);
    return res;
}

/* The body's free mail addresses (one per line), or NULL when skipped. */
static const char *mk_sa_fm_body_list(mk_sa_view *v)
{
    const char *b = mk_sa_fm_body(v);
    return strncmp(b, "ok\n", 3) == 0 ? b + 3 : NULL;
}

/* check_freemail_body([RE]): the body holds a free mail address (that
 * matches RE) */
unsigned mk_sa_ev_freemail_body(mk_sa_view *v, const mk_sa_rule *r)
{
    if (!mk_sa_fm_available(&v->rs->set))
        return 0;
    const char *list = mk_sa_fm_body_list(v);
    if (list == NULL || *list == '\0')
        return 0;
    unsigned hit = 0;
    if (r->arg_re == NULL) {
        hit = !r->arg_re_bad;
    } else {
        gchar **e = g_strsplit(list, "\n", -1);
        for (gchar **p = e; *p != NULL && !hit; p++)
            hit = **p != '\0' && mk_sa_settings_match(r->arg_re, *p);
        g_strfreev(e);
    }
    return hit;
}

/* check_freemail_replyto([replyto|reply]): From and Reply-To are
 * different free mail addresses, or the reply address (Reply-To; with
 * 'reply' From when there is none) is free mail and the body names
 * another one. Not for mail a list or a bounce address sends. */
unsigned mk_sa_ev_freemail_replyto(mk_sa_view *v, const mk_sa_rule *r)
{
    const mk_sa_settings *s = &v->rs->set;
    if (!mk_sa_fm_available(s))
        return 0;
    int reply = r->n_args > 0 && strcmp(r->args[0], "reply") == 0;
    if (s->fm_skip_bulk_envfrom) {
        const char *env = mk_sa_view_envelope_from(v);
        if (env != NULL && mk_sa_settings_match(s->fm_bulk_envfrom, env))
            return 0;
    }
    GPtrArray *from = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *rt = g_ptr_array_new_with_free_func(g_free);
    mk_sa_fm_addrs(v, "From", 0, from);
    mk_sa_fm_addrs(v, "Reply-To", 0, rt);
    int from_fm = mk_sa_fm_first(s, from, NULL) != NULL,
        rt_fm = mk_sa_fm_first(s, rt, NULL) != NULL;
    int from_not_in_rt = 1;
    for (guint i = 0; i < from->len; i++)
        for (guint k = 0; k < rt->len; k++)
            if (strcmp(from->pdata[i], rt->pdata[k]) == 0)
                from_not_in_rt = 0;
    unsigned hit = 0;
    if (from_fm && rt_fm && from_not_in_rt) {
        hit = 1;
    } else if ((reply ? (rt->len == 0 || rt_fm) && (rt_fm || from_fm) : rt_fm)) {
        const char *list = mk_sa_fm_body_list(v);
        GPtrArray *mine = !reply || rt_fm ? rt : from;
        gchar **body = g_strsplit(list != NULL ? list : "", "\n", -1);
        for (gchar **b = body; *b != NULL && !hit; b++)
            for (guint k = 0; **b != '\0' && k < mine->len && !hit; k++)
                hit = strcmp(*b, mine->pdata[k]) != 0;
        g_strfreev(body);
    }
    g_ptr_array_free(from, TRUE);
    g_ptr_array_free(rt, TRUE);
    return hit;
}

/* ---- VBounce --------------------------------------------------------------- */

/* have_any_bounce_relays(): welcomelist_bounce_relays names any */
unsigned mk_sa_ev_any_bounce_relays(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    return v->rs->set.bounce_relays->len > 0;
}

/* Whether a word "host.name" of a Received line is one of our relays. */
static int mk_sa_vb_line(const mk_sa_settings *s, const char *line)
{
    while (*line == '>' || *line == ' ')
        line++;
    if (g_ascii_strncasecmp(line, "Received:", 9) != 0)
        return 0;
    gchar **w = g_strsplit_set(line, " \t\r\n", -1);
    int hit = 0;
    /* words between white space, with a dot inside */
    for (gchar **p = w; *p != NULL && !hit; p++) {
        if (p == w || p[1] == NULL || strchr(*p, '.') == NULL || **p == '.')
            continue;
        char *low = g_ascii_strdown(*p, -1);
        for (guint i = 0; i < s->bounce_relays->len && !hit; i++)
            hit = g_pattern_match_simple(s->bounce_relays->pdata[i], low);
        g_free(low);
    }
    g_strfreev(w);
    return hit;
}

/* check_welcomelist_bounce_relays(): a bounce quoting a Received line of
 * one of our relays, in its text or its attached message */
unsigned mk_sa_ev_bounce_relays(mk_sa_view *v, const mk_sa_rule *r)
{
    (void)r;
    const mk_sa_settings *s = &v->rs->set;
    if (s->bounce_relays->len == 0)
        return 0;
    char *const *lines = mk_sa_view_body(v);
    for (size_t i = 0; lines != NULL && lines[i] != NULL; i++)
        if (mk_sa_vb_line(s, lines[i]))
            return 1;
    /* the body as received, header lines unfolded */
    const char *full = v->in->full;
    if (full == NULL)
        return 0;
    const char *body = strstr(full, "\n\n");
    if (body == NULL)
        return 0;
    gchar **raw = g_strsplit(body + 2, "\n", -1);
    GString *hdr = g_string_new(NULL);
    int hit = 0, found = 0;
    for (gchar **l = raw; *l != NULL && !hit; l++) {
        if (!found) {
            const char *p = *l;
            while (*p == '>' || *p == ' ')
                p++;
            if (g_ascii_strncasecmp(p, "Received:", 9) != 0)
                continue;
            found = 1;
        }
        if (**l == ' ' || **l == '\t')
            g_string_append(hdr, *l);
        else
            g_string_assign(hdr, *l);
        g_string_append_c(hdr, ' ');
        hit = mk_sa_vb_line(s, hdr->str);
    }
    g_string_free(hdr, TRUE);
    g_strfreev(raw);
    return hit;
}
