/*
 * mk_sa_html: SpamAssassin's HTML statistics of one part (see
 * mk_sa_html.h), computed the way Mail::SpamAssassin::HTML computes them
 * from HTML::Parser's events.
 */
#include "config.h"

#include "mk_sa_html.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <stdlib.h>
#include <string.h>

/* What a tag is, for the statistics and the rendering below. */
enum {
    MK_SA_HTML_ELEMENT = 1, /* of HTML 4.01 and XHTML 1.0, or a few in common use */
    MK_SA_HTML_TRICK = 2,   /* rendered but not counted as valid */
    MK_SA_HTML_STYLED = 4,  /* its attributes may set colours or sizes (mk_sa_styles_tag) */
    MK_SA_HTML_NL = 8,      /* rendered as a line break */
    MK_SA_HTML_SP = 16,     /* rendered as a space */
    MK_SA_HTML_PAR = 32     /* rendered as a paragraph break */
};

typedef struct mk_sa_html_kind {
    const char *name;
    unsigned kind;
} mk_sa_html_kind;

/* Sorted by name (strcmp), for bsearch: one lookup a tag, where lists
 * read one by one cost a quarter of the parse. */
static const mk_sa_html_kind mk_sa_html_kinds[] = {
    {"a", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED},
    {"abbr", MK_SA_HTML_ELEMENT},
    {"acronym", MK_SA_HTML_ELEMENT},
    {"address", MK_SA_HTML_ELEMENT},
    {"applet", MK_SA_HTML_ELEMENT},
    {"area", MK_SA_HTML_ELEMENT},
    {"b", MK_SA_HTML_ELEMENT},
    {"base", MK_SA_HTML_ELEMENT},
    {"basefont", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED},
    {"bdo", MK_SA_HTML_ELEMENT},
    {"bgsound", MK_SA_HTML_TRICK},
    {"big", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED},
    {"blockquote", MK_SA_HTML_ELEMENT | MK_SA_HTML_PAR},
    {"body", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED},
    {"br", MK_SA_HTML_ELEMENT | MK_SA_HTML_NL},
    {"button", MK_SA_HTML_ELEMENT},
    {"caption", MK_SA_HTML_ELEMENT},
    {"center", MK_SA_HTML_ELEMENT},
    {"cite", MK_SA_HTML_ELEMENT},
    {"code", MK_SA_HTML_ELEMENT},
    {"col", MK_SA_HTML_ELEMENT},
    {"colgroup", MK_SA_HTML_ELEMENT},
    {"dd", MK_SA_HTML_ELEMENT | MK_SA_HTML_SP},
    {"del", MK_SA_HTML_ELEMENT},
    {"dfn", MK_SA_HTML_ELEMENT},
    {"dir", MK_SA_HTML_ELEMENT},
    {"div", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED | MK_SA_HTML_NL},
    {"dl", MK_SA_HTML_ELEMENT},
    {"dt", MK_SA_HTML_ELEMENT | MK_SA_HTML_SP},
    {"em", MK_SA_HTML_ELEMENT},
    {"embed", MK_SA_HTML_TRICK | MK_SA_HTML_SP},
    {"fieldset", MK_SA_HTML_ELEMENT},
    {"font", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED},
    {"form", MK_SA_HTML_ELEMENT},
    {"frame", MK_SA_HTML_ELEMENT},
    {"frameset", MK_SA_HTML_ELEMENT},
    {"h1", MK_SA_HTML_ELEMENT | MK_SA_HTML_SP},
    {"h2", MK_SA_HTML_ELEMENT | MK_SA_HTML_SP},
    {"h3", MK_SA_HTML_ELEMENT | MK_SA_HTML_SP},
    {"h4", MK_SA_HTML_ELEMENT | MK_SA_HTML_SP},
    {"h5", MK_SA_HTML_ELEMENT | MK_SA_HTML_SP},
    {"h6", MK_SA_HTML_ELEMENT | MK_SA_HTML_SP},
    {"head", MK_SA_HTML_ELEMENT},
    {"hr", MK_SA_HTML_ELEMENT | MK_SA_HTML_PAR},
    {"html", MK_SA_HTML_ELEMENT},
    {"i", MK_SA_HTML_ELEMENT},
    {"iframe", MK_SA_HTML_ELEMENT},
    {"img", MK_SA_HTML_ELEMENT},
    {"input", MK_SA_HTML_ELEMENT},
    {"ins", MK_SA_HTML_ELEMENT},
    {"isindex", MK_SA_HTML_ELEMENT},
    {"kbd", MK_SA_HTML_ELEMENT},
    {"label", MK_SA_HTML_ELEMENT},
    {"legend", MK_SA_HTML_ELEMENT},
    {"li", MK_SA_HTML_ELEMENT | MK_SA_HTML_SP},
    {"link", MK_SA_HTML_ELEMENT},
    {"listing", MK_SA_HTML_TRICK | MK_SA_HTML_PAR},
    {"map", MK_SA_HTML_ELEMENT},
    {"marquee", MK_SA_HTML_STYLED},
    {"menu", MK_SA_HTML_ELEMENT},
    {"meta", MK_SA_HTML_ELEMENT},
    {"nobr", MK_SA_HTML_ELEMENT},
    {"noframes", MK_SA_HTML_ELEMENT},
    {"noscript", MK_SA_HTML_ELEMENT},
    {"object", MK_SA_HTML_ELEMENT},
    {"ol", MK_SA_HTML_ELEMENT},
    {"optgroup", MK_SA_HTML_ELEMENT},
    {"option", MK_SA_HTML_ELEMENT},
    {"p", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED | MK_SA_HTML_PAR},
    {"param", MK_SA_HTML_ELEMENT},
    {"plaintext", MK_SA_HTML_TRICK | MK_SA_HTML_PAR},
    {"pre", MK_SA_HTML_ELEMENT | MK_SA_HTML_PAR},
    {"q", MK_SA_HTML_ELEMENT},
    {"s", MK_SA_HTML_ELEMENT},
    {"samp", MK_SA_HTML_ELEMENT},
    {"script", MK_SA_HTML_ELEMENT},
    {"select", MK_SA_HTML_ELEMENT},
    {"small", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED},
    {"span", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED},
    {"strike", MK_SA_HTML_ELEMENT},
    {"strong", MK_SA_HTML_ELEMENT},
    {"style", MK_SA_HTML_ELEMENT},
    {"sub", MK_SA_HTML_ELEMENT},
    {"sup", MK_SA_HTML_ELEMENT},
    {"table", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED},
    {"tbody", MK_SA_HTML_ELEMENT},
    {"td", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED | MK_SA_HTML_SP},
    {"textarea", MK_SA_HTML_ELEMENT},
    {"tfoot", MK_SA_HTML_ELEMENT},
    {"th", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED | MK_SA_HTML_SP},
    {"thead", MK_SA_HTML_ELEMENT},
    {"title", MK_SA_HTML_ELEMENT | MK_SA_HTML_PAR},
    {"tr", MK_SA_HTML_ELEMENT | MK_SA_HTML_STYLED},
    {"tt", MK_SA_HTML_ELEMENT},
    {"u", MK_SA_HTML_ELEMENT},
    {"ul", MK_SA_HTML_ELEMENT},
    {"var", MK_SA_HTML_ELEMENT},
    {"x-sigsep", MK_SA_HTML_ELEMENT},
    {"x-tab", MK_SA_HTML_ELEMENT},
    {"xmp", MK_SA_HTML_TRICK | MK_SA_HTML_PAR},
};

static int mk_sa_html_kind_cmp(const void *key, const void *entry)
{
    return strcmp(key, ((const mk_sa_html_kind *)entry)->name);
}

/* What tag (lower case) is: MK_SA_HTML_* flags, 0 for a tag unknown. */
static unsigned mk_sa_html_kind_of(const char *tag)
{
    const mk_sa_html_kind *k =
        bsearch(tag, mk_sa_html_kinds, sizeof(mk_sa_html_kinds) / sizeof(mk_sa_html_kinds[0]),
                sizeof(mk_sa_html_kinds[0]), mk_sa_html_kind_cmp);
    return k != NULL ? k->kind : 0;
}

/* The parser's state as it walks one part. */
typedef struct {
    mk_sa_html *h;
    GString *last; /* the last piece of rendered text, for word splits */
    int last_ws;   /* that piece is inserted white space */
    int have_last;
    int basefont;
    char *raw_until; /* inside script or style: the end tag that ends it */
    mk_sa_styles *styles;
    int hidden;   /* the text being displayed is in colours no one reads */
    int unseen;   /* ... or no one sees for any reason (mk_sa_styles_text) */
    GRegex *face; /* the check of font faces, compiled on first use (once a
                   * part, not once a tag: spam has hundreds of font tags) */
} mk_sa_html_walk;

static int mk_sa_html_open(const mk_sa_html *h, const char *tag)
{
    return mk_sa_html_inside(h, tag) > 0;
}

/* ASCII white space, punctuation and symbols end a word; anything else
 * (letters, digits, bytes of other scripts) is part of one. */
static int mk_sa_html_wordch(unsigned char c)
{
    return !(isspace(c) || (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) ||
             (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e));
}

static size_t mk_sa_html_chars(const char *s, size_t len)
{
    return g_utf8_validate(s, (gssize)len, NULL) ? (size_t)g_utf8_strlen(s, (gssize)len) : len;
}

/* Display text: white space squeezed; a piece of inserted white space
 * takes the trailing space off the text before it. */
static void mk_sa_html_display(mk_sa_html_walk *w, const char *text, int whitespace)
{
    if (!w->hidden)
        g_string_append(w->h->rendered, text);
    if (!w->unseen)
        g_string_append(w->h->visible, text);
    if (whitespace) {
        if (w->have_last && !w->last_ws && w->last->len > 0 &&
            w->last->str[w->last->len - 1] == ' ')
            g_string_truncate(w->last, w->last->len - 1);
        g_string_assign(w->last, text);
        w->last_ws = 1;
        w->have_last = 1;
        return;
    }
    GString *t = g_string_new(NULL);
    for (const char *p = text; *p != '\0'; p++) {
        int sp = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v';
        int nbsp = (unsigned char)p[0] == 0xc2 && (unsigned char)p[1] == 0xa0;
        if (sp || nbsp) {
            if (nbsp)
                p++;
            if (t->len == 0 || t->str[t->len - 1] != ' ')
                g_string_append_c(t, ' ');
            continue;
        }
        g_string_append_c(t, *p);
        /* every character that is not white space counts */
        if (((unsigned char)*p & 0xc0) != 0x80)
            w->h->non_space_len++;
    }
    if (w->unseen) {
        /* a space between pieces (SpamAssassin joins them as they are,
         * gluing words together) */
        GString *inv = w->h->invisible;
        if (inv->len > 0 && inv->str[inv->len - 1] != ' ' && t->str[0] != ' ')
            g_string_append_c(inv, ' ');
        g_string_append_len(inv, t->str, (gssize)t->len);
    }
    if (w->have_last && w->last_ws && t->len > 0 && t->str[0] == ' ')
        g_string_erase(t, 0, 1);
    g_string_assign(w->last, t->str);
    g_string_free(t, TRUE);
    w->last_ws = 0;
    w->have_last = 1;
}

static void mk_sa_html_text(mk_sa_html_walk *w, const char *text)
{
    mk_sa_html *h = w->h;
    if (mk_sa_html_open(h, "script") || mk_sa_html_open(h, "style"))
        return;
    if (mk_sa_html_open(h, "a") && h->anchor->len > 0) {
        char **a = (char **)&h->anchor->pdata[h->anchor->len - 1];
        char *joined = g_strconcat(*a, text, NULL);
        g_free(*a);
        *a = joined;
    }
    if (mk_sa_html_open(h, "title") && h->title->len > 0) {
        char **t = (char **)&h->title->pdata[h->title->len - 1];
        char *joined = g_strconcat(*t, text, NULL);
        g_free(*t);
        *t = joined;
    }
    /* visible text (not only white space and no-break spaces): in colours
     * one can read? */
    int visible = 0;
    for (const char *c = text; *c != '\0' && !visible; c++) {
        if ((unsigned char)c[0] == 0xc2 && (unsigned char)c[1] == 0xa0)
            c++;
        else
            visible = strchr(" \t\n\r\f\v", *c) == NULL;
    }
    int low = 0, invalid = 0, unseen = visible && mk_sa_styles_text(w->styles, &low, &invalid);
    h->font_low_contrast |= low;
    h->font_invalid_color |= invalid;
    w->hidden = low || invalid; /* not in the rendered text */
    /* a word split by a tag: "fr<b></b>ee" */
    if (w->have_last && w->last->len > 0 && mk_sa_html_wordch((unsigned char)text[0]) &&
        mk_sa_html_wordch((unsigned char)w->last->str[w->last->len - 1]))
        h->obfuscation++;
    w->unseen = unseen;
    mk_sa_html_display(w, text, 0);
    w->hidden = w->unseen = 0;
}

/* The value of attribute name in the attribute text attrs, or NULL;
 * g_free it. Names compare without case; values lose their quotes. */
static char *mk_sa_html_attr(const char *attrs, const char *name)
{
    size_t nl = strlen(name);
    const char *p = attrs;
    while (*p != '\0') {
        while (*p != '\0' && (isspace((unsigned char)*p) || *p == '/'))
            p++;
        const char *ns = p;
        while (*p != '\0' && !isspace((unsigned char)*p) && *p != '=' && *p != '>')
            p++;
        size_t len = (size_t)(p - ns);
        while (isspace((unsigned char)*p))
            p++;
        const char *vs = NULL;
        size_t vl = 0;
        if (*p == '=') {
            p++;
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                vs = p;
                while (*p != '\0' && *p != q)
                    p++;
                vl = (size_t)(p - vs);
                if (*p == q)
                    p++;
            } else {
                vs = p;
                while (*p != '\0' && !isspace((unsigned char)*p))
                    p++;
                vl = (size_t)(p - vs);
            }
        }
        if (len == nl && g_ascii_strncasecmp(ns, name, nl) == 0)
            return vs != NULL ? g_strndup(vs, vl) : g_strdup(name);
        if (len == 0 && vs == NULL && *p != '\0')
            p++;
    }
    return NULL;
}

/* An image's size in pixels from a width or height attribute ("40",
 * "50%": scaled by f), 200 when absent or not a number. */
static double mk_sa_html_dim(const char *v, int f)
{
    if (v == NULL || !isdigit((unsigned char)v[0]))
        return 200;
    char *end;
    double n = strtod(v, &end);
    if (*end == '%' && end[1] == '\0')
        n *= f;
    else if (*end != '\0')
        return 200;
    return n > 0 ? n : 200;
}

static void mk_sa_html_start_tests(mk_sa_html_walk *w, const char *tag, const char *attrs)
{
    mk_sa_html *h = w->h;
    char *v;
    if (strcmp(tag, "font") == 0 && (v = mk_sa_html_attr(attrs, "face")) != NULL) {
        if (w->face == NULL)
            w->face =
                g_regex_new("^\\s*[\"'.]?[a-z ][a-z -]*[a-z]\\d?[\"']?(?:,\\s*[\"']?[a-z][a-z "
                            "-]*[a-z]\\d?[\"']?)*;?$",
                            G_REGEX_CASELESS | G_REGEX_RAW, 0, NULL);
        h->font_face_bad |= w->face != NULL && !g_regex_match(w->face, v, 0, NULL);
        g_free(v);
    }
    if ((strcmp(tag, "font") == 0 || strcmp(tag, "basefont") == 0) &&
        (v = mk_sa_html_attr(attrs, "size")) != NULL) {
        const char *s = v;
        while (isspace((unsigned char)*s))
            s++;
        if (strcmp(tag, "basefont") == 0) {
            if (isdigit((unsigned char)*s))
                w->basefont = atoi(s);
        } else if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1])) {
            int size = w->basefont + atoi(s);
            h->max_size = MAX(h->max_size, size);
            h->min_size = MIN(h->min_size, size);
        } else if (isdigit((unsigned char)*s)) {
            int size = atoi(s);
            h->max_size = MAX(h->max_size, size);
            h->min_size = MIN(h->min_size, size);
        }
        g_free(v);
    }
    if (strcmp(tag, "img") == 0 && mk_sa_html_open(h, "a") && h->anchor->len > 0) {
        char **a = (char **)&h->anchor->pdata[h->anchor->len - 1];
        char *joined = g_strconcat(*a, "<img>\n", NULL);
        g_free(*a);
        *a = joined;
    }
    if (strcmp(tag, "img") == 0) {
        char *wd = mk_sa_html_attr(attrs, "width"), *ht = mk_sa_html_attr(attrs, "height");
        if (wd != NULL && ht != NULL)
            h->image_area += mk_sa_html_dim(wd, 8) * mk_sa_html_dim(ht, 6);
        g_free(wd);
        g_free(ht);
    }
    if (strcmp(tag, "form") == 0 && (v = mk_sa_html_attr(attrs, "action")) != NULL) {
        h->form_action_mailto |= strcasestr(v, "mailto:") != NULL;
        g_free(v);
    }
    if (strcmp(tag, "object") == 0 || strcmp(tag, "embed") == 0)
        h->embeds = 1;
    if (strcmp(tag, "a") == 0)
        g_ptr_array_add(h->anchor, g_strdup(""));
    if (strcmp(tag, "title") == 0)
        g_ptr_array_add(h->title, g_strdup(""));
}

/* An Office namespace tag (o:p, st1:place, ...): ^(?:o|st\d):[\w-]+/?$ */
static int mk_sa_html_office_tag(const char *tag)
{
    const char *p = tag;
    if (*p == 'o')
        p++;
    else if (p[0] == 's' && p[1] == 't' && g_ascii_isdigit(p[2]))
        p += 3;
    else
        return 0;
    if (*p++ != ':')
        return 0;
    const char *name = p;
    while (g_ascii_isalnum(*p) || *p == '_' || *p == '-')
        p++;
    return p > name && (*p == '\0' || (p[0] == '/' && p[1] == '\0'));
}

static void mk_sa_html_tag(mk_sa_html_walk *w, const char *tag, const char *attrs, int num)
{
    mk_sa_html *h = w->h;
    int ns = mk_sa_html_office_tag(tag);
    unsigned kind = mk_sa_html_kind_of(tag);
    int element = (kind & MK_SA_HTML_ELEMENT) != 0;
    int seen = g_hash_table_contains(h->inside, tag);
    if (element || ns) {
        h->elements++;
        h->has_elements = 1;
        h->elements_seen += !seen;
    }
    h->tags++;
    h->tags_seen += !seen;
    int in = seen ? GPOINTER_TO_INT(g_hash_table_lookup(h->inside, tag)) - 1 : 0;
    in += num;
    if (in < 0) {
        in = 0;
        h->closed_extra++;
    }
    g_hash_table_insert(h->inside, g_strdup(tag), GINT_TO_POINTER(in + 1));
    if (ns || !(kind & (MK_SA_HTML_ELEMENT | MK_SA_HTML_TRICK)))
        return;
    if (kind & MK_SA_HTML_STYLED)
        mk_sa_styles_tag(w->styles, tag, attrs, num, mk_sa_html_attr);
    if (kind & MK_SA_HTML_NL)
        mk_sa_html_display(w, "\n", 1);
    else if (kind & MK_SA_HTML_SP)
        mk_sa_html_display(w, " ", 1);
    else if (kind & MK_SA_HTML_PAR)
        mk_sa_html_display(w, "\n\n", 1);
    if (num == 1)
        mk_sa_html_start_tests(w, tag, attrs);
}

/* Text with its entities decoded (HTML::Parser's dtext); g_free it. */
static char *mk_sa_html_dtext(const char *s, size_t len)
{
    GString *out = g_string_sized_new(len);
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '&') {
            g_string_append_c(out, s[i]);
            continue;
        }
        size_t j = i + 1;
        gunichar cp = 0;
        if (j < len && s[j] == '#') {
            j++;
            int hex = j < len && (s[j] == 'x' || s[j] == 'X');
            j += hex;
            size_t d = j;
            while (j < len && (hex ? isxdigit((unsigned char)s[j]) : isdigit((unsigned char)s[j])))
                j++;
            if (j > d && j - d < 8) {
                char num[16];
                memcpy(num, s + d, j - d);
                num[j - d] = '\0';
                cp = (gunichar)strtoul(num, NULL, hex ? 16 : 10);
            }
        } else {
            size_t d = j;
            while (j < len && isalnum((unsigned char)s[j]))
                j++;
            if (j > d && j - d < 16) {
                char name[24];
                memcpy(name, s + d, j - d);
                name[j - d] = '\0';
                const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)name);
                if (e != NULL)
                    cp = e->value;
            }
        }
        if (cp == 0 || !g_unichar_validate(cp)) {
            g_string_append_c(out, '&');
            continue;
        }
        g_string_append_unichar(out, cp);
        i = j < len && s[j] == ';' ? j : j - 1;
    }
    return g_string_free(out, FALSE);
}

mk_sa_html *mk_sa_html_parse(const char *text, size_t len)
{
    mk_sa_html *h = g_new0(mk_sa_html, 1);
    h->inside = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    h->title = g_ptr_array_new_with_free_func(g_free);
    h->comment = g_ptr_array_new_with_free_func(g_free);
    h->anchor = g_ptr_array_new_with_free_func(g_free);
    h->rendered = g_string_new(NULL);
    h->invisible = g_string_new(NULL);
    h->visible = g_string_new(NULL);
    h->max_size = h->min_size = 3;
    h->length = (double)mk_sa_html_chars(text, len);
    /* as SpamAssassin prepares the text: &nbsp; a space, <br/> as <br> */
    GString *src = g_string_sized_new(len);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '&' && len - i >= 6 && strncmp(text + i, "&nbsp;", 6) == 0) {
            g_string_append_c(src, ' ');
            i += 5;
        } else {
            g_string_append_c(src, text[i]);
        }
    }
    mk_sa_html_walk w = {h, g_string_new(NULL), 0, 0, 3, NULL, mk_sa_styles_new(), 0, 0, NULL};
    const char *p = src->str, *end = src->str + src->len;
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (w.raw_until != NULL) { /* script, style: raw until their end tag */
            const char *close = p;
            size_t el = strlen(w.raw_until);
            while (
                (close = memchr(close, '<', (size_t)(end - close))) != NULL &&
                !((size_t)(end - close) >= el && g_ascii_strncasecmp(close, w.raw_until, el) == 0))
                close++;
            if (close == NULL)
                close = end;
            g_free(w.raw_until);
            w.raw_until = NULL;
            p = close;
            continue;
        }
        const char *stop = lt != NULL ? lt : end;
        if (stop > p) {
            char *t = mk_sa_html_dtext(p, (size_t)(stop - p));
            mk_sa_html_text(&w, t);
            g_free(t);
        }
        if (lt == NULL)
            break;
        p = lt;
        if (end - p >= 4 && strncmp(p, "<!--", 4) == 0) {
            const char *c = strstr(p + 4, "-->");
            const char *ce = c != NULL ? c + 3 : end;
            g_ptr_array_add(h->comment, g_strndup(p, (size_t)(ce - p)));
            p = ce;
            continue;
        }
        if (end - p >= 2 && (p[1] == '!' || p[1] == '?')) {
            const char *gt = memchr(p, '>', (size_t)(end - p));
            const char *de = gt != NULL ? gt + 1 : end;
            if (p[1] == '!' && g_ascii_strncasecmp(p, "<!doctype", 9) == 0) {
                h->elements++;
                h->tags++;
                h->has_elements = 1;
                g_hash_table_insert(h->inside, g_strdup("!doctype"), GINT_TO_POINTER(1));
            } else if (p[1] == '!') {
                g_ptr_array_add(h->comment, g_strndup(p, (size_t)(de - p)));
            }
            p = de;
            continue;
        }
        int num = p + 1 < end && p[1] == '/' ? -1 : 1;
        const char *n = p + (num == 1 ? 1 : 2);
        if (n >= end || !isalpha((unsigned char)*n)) { /* a lone '<' is text */
            mk_sa_html_text(&w, "<");
            p++;
            continue;
        }
        const char *ne = n;
        while (ne < end && !isspace((unsigned char)*ne) && *ne != '>' && *ne != '/')
            ne++;
        /* the attributes, up to a '>' outside quotes */
        const char *a = ne, *q = ne;
        char quote = 0;
        while (q < end && (quote != 0 || *q != '>')) {
            if (quote == 0 && (*q == '"' || *q == '\'') && q > a &&
                (q[-1] == '=' || isspace((unsigned char)q[-1])))
                quote = *q;
            else if (*q == quote)
                quote = 0;
            q++;
        }
        char *tag = g_ascii_strdown(n, (gssize)(ne - n));
        char *attrs = g_strndup(a, (size_t)(q - a));
        mk_sa_html_tag(&w, tag, attrs, num);
        if (num == 1 && (strcmp(tag, "script") == 0 || strcmp(tag, "style") == 0))
            w.raw_until = g_strconcat("</", tag, NULL);
        g_free(tag);
        g_free(attrs);
        p = q < end ? q + 1 : end;
    }
    g_free(w.raw_until);
    mk_sa_styles_free(w.styles);
    if (w.face != NULL)
        g_regex_unref(w.face);
    g_string_free(w.last, TRUE);
    g_string_free(src, TRUE);
    return h;
}

void mk_sa_html_free(mk_sa_html *h)
{
    if (h == NULL)
        return;
    g_hash_table_destroy(h->inside);
    g_ptr_array_free(h->title, TRUE);
    g_ptr_array_free(h->comment, TRUE);
    g_ptr_array_free(h->anchor, TRUE);
    g_string_free(h->rendered, TRUE);
    g_string_free(h->invisible, TRUE);
    g_string_free(h->visible, TRUE);
    g_free(h);
}

int mk_sa_html_inside(const mk_sa_html *h, const char *tag)
{
    gpointer v = g_hash_table_lookup(h->inside, tag);
    return v != NULL ? GPOINTER_TO_INT(v) - 1 : -1;
}

int mk_sa_html_value(const mk_sa_html *h, const char *test, double *out)
{
    if (strcmp(test, "length") == 0)
        *out = h->length;
    else if (strcmp(test, "max_size") == 0)
        *out = h->max_size;
    else if (strcmp(test, "min_size") == 0)
        *out = h->min_size;
    else if (strcmp(test, "image_area") == 0)
        *out = h->image_area;
    else if (strcmp(test, "non_space_len") == 0)
        *out = h->non_space_len;
    else if (strcmp(test, "closed_extra_ratio") == 0 && h->tags > 0)
        *out = (double)h->closed_extra / h->tags;
    else if (strcmp(test, "bad_tag_ratio") == 0 && h->tags > 0 && h->has_elements)
        *out = (double)(h->tags - h->elements) / h->tags;
    else if (strcmp(test, "non_element_ratio") == 0 && h->tags_seen > 0 && h->elements_seen > 0)
        *out = (double)(h->tags_seen - h->elements_seen) / h->tags_seen;
    else if (strcmp(test, "obfuscation_ratio") == 0 && h->tags > 0 && h->obfuscation > 0)
        *out = (double)h->obfuscation / h->tags;
    else
        return 0;
    return 1;
}
