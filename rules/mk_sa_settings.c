/*
 * mk_sa_settings: the SpamAssassin settings of the rule files that the
 * plugins mailkeeper has read: util_rb_tld (RegistryBoundaries: the TLDs
 * an address may end in), freemail_domains, freemail_welcomelist and
 * FreeMail's limits, welcomelist_bounce_relays (VBounce). Other settings
 * lines are counted by the loader, not read.
 */
#include "config.h"

#include <string.h>

#include "mk_sa_int.h"

void mk_sa_settings_init(mk_sa_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->tlds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s->fm_domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s->fm_welcome = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s->fm_wild = g_ptr_array_new_with_free_func(g_free);
    s->bounce_relays = g_ptr_array_new_with_free_func(g_free);
    /* FreeMail's defaults */
    s->fm_max_body_emails = 5;
    s->fm_max_body_freemails = 3;
    s->fm_skip_over_max = 1;
    s->fm_skip_bulk_envfrom = 1;
}

/* Adds each word of arg, lower case, to set (or, with a wildcard, to wild
 * when wild is not NULL); words failing ok are left out. */
static void mk_sa_settings_words(GHashTable *set, GPtrArray *wild, const char *arg,
                                 int (*ok)(const char *))
{
    gchar **w = g_strsplit_set(arg, " \t", -1);
    for (gchar **p = w; *p != NULL; p++) {
        if (**p == '\0' || (ok != NULL && !ok(*p)))
            continue;
        char *low = g_ascii_strdown(*p, -1);
        if (wild != NULL && strpbrk(low, "*?") != NULL)
            g_ptr_array_add(wild, low);
        else
            g_hash_table_add(set, low);
    }
    g_strfreev(w);
}

/* freemail_domains: letters, digits, '.', '-' and the wildcards only */
static int mk_sa_settings_domain_ok(const char *w)
{
    return strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.*?-") ==
           strlen(w);
}

/* freemail_welcomelist: a word character, '.' or '@', a word character */
static int mk_sa_settings_welcome_ok(const char *w)
{
    for (const char *p = w; p[0] != '\0' && p[1] != '\0' && p[2] != '\0'; p++)
        if ((g_ascii_isalnum(p[0]) || p[0] == '_') && (p[1] == '.' || p[1] == '@') &&
            (g_ascii_isalnum(p[2]) || p[2] == '_'))
            return 1;
    return 0;
}

int mk_sa_settings_line(mk_sa_settings *s, const char *dir, const char *arg)
{
    static const struct {
        const char *name;
        size_t off;
    } numbers[] = {
        {"freemail_max_body_emails", offsetof(mk_sa_settings, fm_max_body_emails)},
        {"freemail_max_body_freemails", offsetof(mk_sa_settings, fm_max_body_freemails)},
        {"freemail_skip_when_over_max", offsetof(mk_sa_settings, fm_skip_over_max)},
        {"freemail_skip_bulk_envfrom", offsetof(mk_sa_settings, fm_skip_bulk_envfrom)},
    };
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
        if (strcmp(dir, numbers[i].name) == 0) {
            *(int *)(void *)((char *)s + numbers[i].off) = atoi(arg);
            return 1;
        }
    if (strcmp(dir, "util_rb_tld") == 0)
        mk_sa_settings_words(s->tlds, NULL, arg, NULL);
    else if (strcmp(dir, "freemail_domains") == 0)
        mk_sa_settings_words(s->fm_domains, s->fm_wild, arg, mk_sa_settings_domain_ok);
    else if (strcmp(dir, "freemail_welcomelist") == 0 || strcmp(dir, "freemail_whitelist") == 0)
        mk_sa_settings_words(s->fm_welcome, NULL, arg, mk_sa_settings_welcome_ok);
    else if (strcmp(dir, "welcomelist_bounce_relays") == 0 ||
             strcmp(dir, "whitelist_bounce_relays") == 0) {
        gchar **w = g_strsplit_set(arg, " \t", -1);
        for (gchar **p = w; *p != NULL; p++)
            if (**p != '\0')
                g_ptr_array_add(s->bounce_relays, g_ascii_strdown(*p, -1));
        g_strfreev(w);
    } else
        return 0;
    return 1;
}

/* A fixed pattern compiled with opts and JIT; NULL if it does not compile */
static pcre2_code *mk_sa_settings_re_opts(const char *pattern, uint32_t opts)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    if (re != NULL)
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

static pcre2_code *mk_sa_settings_re(const char *pattern)
{
    return mk_sa_settings_re_opts(pattern, PCRE2_CASELESS);
}

/* FreeMail's address pattern, the TLDs as RegistryBoundaries lists them */
#define MK_SA_LOCAL "[a-z0-9!#$%&'*+/=?^_`{|}~-]"

void mk_sa_settings_finish(mk_sa_settings *s)
{
    if (s->fm_wild->len > 0) {
        GString *p = g_string_new("\\@(?:");
        for (guint i = 0; i < s->fm_wild->len; i++) {
            if (i > 0)
                g_string_append_c(p, '|');
            for (const char *c = s->fm_wild->pdata[i]; *c != '\0'; c++) {
                if (*c == '.')
                    g_string_append(p, "\\.");
                else if (*c == '?')
                    g_string_append_c(p, '.');
                else if (*c == '*')
                    g_string_append(p, "[^.]*");
                else
                    g_string_append_c(p, *c);
            }
        }
        g_string_append(p, ")$");
        s->fm_wild_re = mk_sa_settings_re(p->str);
        g_string_free(p, TRUE);
    }
    GString *tlds = g_string_new(NULL);
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, s->tlds);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        if (tlds->len > 0)
            g_string_append_c(tlds, '|');
        for (const char *c = key; *c != '\0'; c++)
            if (g_ascii_isalnum(*c) || *c == '-')
                g_string_append_c(tlds, *c);
    }
    if (tlds->len == 0) /* no TLDs: nothing is an address (as SpamAssassin) */
        g_string_assign(tlds, "no_tlds_defined");
    char *email =
        g_strconcat("(?=.{0,64}\\@)(?<!" MK_SA_LOCAL ")(" MK_SA_LOCAL "+(?:\\." MK_SA_LOCAL "+)*\\@"
                    "(?:[a-z0-9](?:[a-z0-9-]{0,59}[a-z0-9])?\\.){1,4}"
                    "(?<![a-zA-Z0-9-])(?:",
                    tlds->str, ")(?!(?:[a-zA-Z0-9-]|\\.[a-zA-Z0-9])))", NULL);
    s->email_re = mk_sa_settings_re(email);
    char *strip = g_strdup_printf(
        "<?(?<!mailto:)%s(?:>|\\s{1,10}(?!(?:fa(?:x|csi)|tel|phone|e?-?mail))[a-z]{2,11}:)", email);
    s->strip_email = mk_sa_settings_re(strip);
    s->strip_url = mk_sa_settings_re("<?https?://\\S{0,255}(?:\\@|%40)\\S{0,255}");
    s->fm_default_welcome = mk_sa_settings_re(
        "^(?:abuse|support|sales|info|helpdesk|contact|kontakt|(?:post|host|domain)master"
        "|undisclosed.*|request-[a-f0-9]{16}|bounced?-"
        "|[a-f0-9]{8}(?:\\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})"
        "|.+=.+=.+)\\@");
    s->fm_bulk_envfrom = mk_sa_settings_re(
        "(?:^(?:post|host|domain)master|^double-bounce|^(?:sentto|owner|return|(?:gr)?bounced?)-.+"
        "|-(?:request|bounces?|admin|owner)|\\b(?:do[._-t]?)?no[._-t]?repl(?:y|ies)|.+=.+)\\@");
    g_free(strip);
    g_free(email);
    g_string_free(tlds, TRUE);
    /* the evals' own patterns */
#define MK_SA_MONTHS "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    static const struct {
        const char *re;
        int caseless;
    } dates[G_N_ELEMENTS(s->date)] = {
        {" (\\d+) " MK_SA_MONTHS " (\\d{4}) ", 1},
        {" " MK_SA_MONTHS " +(\\d+) \\d+:\\d+:\\d+ (\\d{4}) ", 1},
        {" (\\d+) " MK_SA_MONTHS " (\\d{2,3}) ", 1},
        {" (\\d?\\d):(\\d\\d)(:(\\d\\d))? ", 0},
        {" ([-+]\\d{4}) ", 0},
        {"\\b([A-Z]{2,4}(?:-DST)?)\\b", 0},
    };
#undef MK_SA_MONTHS
    /* PCRE2 itself, not GRegex (which wraps it: a GMatchInfo and an array
     * of strings made for each of the five or so matches a date takes), with
     * GRegex's Unicode properties for \b and \d, as they were read before */
    for (size_t i = 0; i < G_N_ELEMENTS(dates); i++)
        s->date[i] = mk_sa_settings_re_opts(dates[i].re,
                                            PCRE2_UCP | (dates[i].caseless ? PCRE2_CASELESS : 0));
    s->dotcom_helo = g_regex_new("(?:\\.|^)(lycos\\.com|lycos\\.co\\.uk|hotmail\\.com|"
                                 "localhost\\.com|excite\\.com|caramail\\.com|cs\\.com|"
                                 "aol\\.com|msn\\.com|yahoo\\.com|drizzle\\.com)$",
                                 G_REGEX_RAW | G_REGEX_CASELESS, 0, NULL);
    s->iso_any = g_regex_new("iso-\\S+-\\S+\\b", G_REGEX_RAW | G_REGEX_CASELESS, 0, NULL);
    s->iso_known = g_regex_new("iso-(?:8859-\\d{1,2}|2022-(?:jp|kr))\\b",
                               G_REGEX_RAW | G_REGEX_CASELESS, 0, NULL);
}

int mk_sa_settings_match(const pcre2_code *re, const char *s)
{
    if (re == NULL)
        return 0;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

void mk_sa_settings_clear(mk_sa_settings *s)
{
    if (s->tlds == NULL)
        return;
    g_hash_table_destroy(s->tlds);
    g_hash_table_destroy(s->fm_domains);
    g_hash_table_destroy(s->fm_welcome);
    g_ptr_array_free(s->fm_wild, TRUE);
    g_ptr_array_free(s->bounce_relays, TRUE);
    pcre2_code *res[] = {
        s->fm_wild_re,      s->email_re, s->strip_url, s->strip_email, s->fm_default_welcome,
        s->fm_bulk_envfrom, s->date[0],  s->date[1],   s->date[2],     s->date[3],
        s->date[4],         s->date[5]};
    for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++)
        pcre2_code_free(res[i]);
    GRegex *gres[] = {s->dotcom_helo, s->iso_any, s->iso_known};
    for (size_t i = 0; i < G_N_ELEMENTS(gres); i++)
        if (gres[i] != NULL)
            g_regex_unref(gres[i]);
    memset(s, 0, sizeof(*s));
}
