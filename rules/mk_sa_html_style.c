/*
 * mk_sa_html_style: the text style of SpamAssassin's HTML parser
 * (Mail::SpamAssassin::HTML's text_style stack): the foreground and
 * background colour in force where text stands, from the colour
 * attributes and style properties of body, font, table, td, span, p, div
 * and a, for HTMLEval's font_low_contrast (text barely distinguishable
 * from its background) and font_invalid_color (a colour no browser
 * reads); and the font size (font and basefont size, big, small) and
 * style display and visibility, which with the colours say what text no
 * one sees (html_font_invisible, for Bayes). Colours read as SpamAssassin
 * reads them (its name_to_rgb and its reading of CSS "background"), its
 * quirks included: a bgcolor attribute changes nothing.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mk_sa_html.h"

/* one level of the stack; colours "#rrggbb", "invalid", or a shorter
 * "#..." as name_to_rgb leaves some */
typedef struct mk_sa_style {
    char tag[16];
    char fg[16], bg[16];
    int size;          /* the font size, 3 the default */
    char display_none; /* style "display: none" in force */
    char hidden;       /* style "visibility: hidden" in force */
} mk_sa_style;

typedef struct mk_sa_named_color {
    const char *name;
    unsigned rgb;
} mk_sa_named_color;

/* the colour names SpamAssassin knows, in strcmp order */
static const mk_sa_named_color mk_sa_colors[] = {
    {"aliceblue", 0xf0f8ff},
    {"antiquewhite", 0xfaebd7},
    {"aqua", 0x00ffff},
    {"aquamarine", 0x7fffd4},
    {"azure", 0xf0ffff},
    {"beige", 0xf5f5dc},
    {"bisque", 0xffe4c4},
    {"black", 0x000000},
    {"blanchedalmond", 0xffebcd},
    {"blue", 0x0000ff},
    {"blueviolet", 0x8a2be2},
    {"brown", 0xa52a2a},
    {"burlywood", 0xdeb887},
    {"cadetblue", 0x5f9ea0},
    {"chartreuse", 0x7fff00},
    {"chocolate", 0xd2691e},
    {"coral", 0xff7f50},
    {"cornflowerblue", 0x6495ed},
    {"cornsilk", 0xfff8dc},
    {"crimson", 0xdc143c},
    {"cyan", 0x00ffff},
    {"darkblue", 0x00008b},
    {"darkcyan", 0x008b8b},
    {"darkgoldenrod", 0xb8860b},
    {"darkgray", 0xa9a9a9},
    {"darkgreen", 0x006400},
    {"darkgrey", 0xa9a9a9},
    {"darkkhaki", 0xbdb76b},
    {"darkmagenta", 0x8b008b},
    {"darkolivegreen", 0x556b2f},
    {"darkorange", 0xff8c00},
    {"darkorchid", 0x9932cc},
    {"darkred", 0x8b0000},
    {"darksalmon", 0xe9967a},
    {"darkseagreen", 0x8fbc8f},
    {"darkslateblue", 0x483d8b},
    {"darkslategray", 0x2f4f4f},
    {"darkslategrey", 0x2f4f4f},
    {"darkturquoise", 0x00ced1},
    {"darkviolet", 0x9400d3},
    {"deeppink", 0xff1493},
    {"deepskyblue", 0x00bfff},
    {"dimgray", 0x696969},
    {"dimgrey", 0x696969},
    {"dodgerblue", 0x1e90ff},
    {"firebrick", 0xb22222},
    {"floralwhite", 0xfffaf0},
    {"forestgreen", 0x228b22},
    {"fuchsia", 0xff00ff},
    {"gainsboro", 0xdcdcdc},
    {"ghostwhite", 0xf8f8ff},
    {"gold", 0xffd700},
    {"goldenrod", 0xdaa520},
    {"gray", 0x808080},
    {"green", 0x008000},
    {"greenyellow", 0xadff2f},
    {"grey", 0x808080},
    {"honeydew", 0xf0fff0},
    {"hotpink", 0xff69b4},
    {"indianred", 0xcd5c5c},
    {"indigo", 0x4b0082},
    {"ivory", 0xfffff0},
    {"khaki", 0xf0e68c},
    {"lavender", 0xe6e6fa},
    {"lavenderblush", 0xfff0f5},
    {"lawngreen", 0x7cfc00},
    {"lemonchiffon", 0xfffacd},
    {"lightblue", 0xadd8e6},
    {"lightcoral", 0xf08080},
    {"lightcyan", 0xe0ffff},
    {"lightgoldenrodyellow", 0xfafad2},
    {"lightgray", 0xd3d3d3},
    {"lightgreen", 0x90ee90},
    {"lightgrey", 0xd3d3d3},
    {"lightpink", 0xffb6c1},
    {"lightsalmon", 0xffa07a},
    {"lightseagreen", 0x20b2aa},
    {"lightskyblue", 0x87cefa},
    {"lightslategray", 0x778899},
    {"lightslategrey", 0x778899},
    {"lightsteelblue", 0xb0c4de},
    {"lightyellow", 0xffffe0},
    {"lime", 0x00ff00},
    {"limegreen", 0x32cd32},
    {"linen", 0xfaf0e6},
    {"magenta", 0xff00ff},
    {"maroon", 0x800000},
    {"mediumaquamarine", 0x66cdaa},
    {"mediumblue", 0x0000cd},
    {"mediumorchid", 0xba55d3},
    {"mediumpurple", 0x9370db},
    {"mediumseagreen", 0x3cb371},
    {"mediumslateblue", 0x7b68ee},
    {"mediumspringgreen", 0x00fa9a},
    {"mediumturquoise", 0x48d1cc},
    {"mediumvioletred", 0xc71585},
    {"midnightblue", 0x191970},
    {"mintcream", 0xf5fffa},
    {"mistyrose", 0xffe4e1},
    {"moccasin", 0xffe4b5},
    {"navajowhite", 0xffdead},
    {"navy", 0x000080},
    {"oldlace", 0xfdf5e6},
    {"olive", 0x808000},
    {"olivedrab", 0x6b8e23},
    {"orange", 0xffa500},
    {"orangered", 0xff4500},
    {"orchid", 0xda70d6},
    {"palegoldenrod", 0xeee8aa},
    {"palegreen", 0x98fb98},
    {"paleturquoise", 0xafeeee},
    {"palevioletred", 0xdb7093},
    {"papayawhip", 0xffefd5},
    {"peachpuff", 0xffdab9},
    {"peru", 0xcd853f},
    {"pink", 0xffc0cb},
    {"plum", 0xdda0dd},
    {"powderblue", 0xb0e0e6},
    {"purple", 0x800080},
    {"red", 0xff0000},
    {"rosybrown", 0xbc8f8f},
    {"royalblue", 0x4169e1},
    {"saddlebrown", 0x8b4513},
    {"salmon", 0xfa8072},
    {"sandybrown", 0xf4a460},
    {"seagreen", 0x2e8b57},
    {"seashell", 0xfff5ee},
    {"sienna", 0xa0522d},
    {"silver", 0xc0c0c0},
    {"skyblue", 0x87ceeb},
    {"slateblue", 0x6a5acd},
    {"slategray", 0x708090},
    {"slategrey", 0x708090},
    {"snow", 0xfffafa},
    {"springgreen", 0x00ff7f},
    {"steelblue", 0x4682b4},
    {"tan", 0xd2b48c},
    {"teal", 0x008080},
    {"thistle", 0xd8bfd8},
    {"tomato", 0xff6347},
    {"turquoise", 0x40e0d0},
    {"violet", 0xee82ee},
    {"wheat", 0xf5deb3},
    {"white", 0xffffff},
    {"whitesmoke", 0xf5f5f5},
    {"yellow", 0xffff00},
    {"yellowgreen", 0x9acd32},
};

static int mk_sa_color_cmp(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

/* The three numbers of "N, N, N)" (pct: "N%, N%, N%)"), spaces allowed
 * after the commas and before the ')'. */
static int mk_sa_rgb_args(const char *p, unsigned v[3], int pct)
{
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char)*p))
            return 0;
        char *end;
        unsigned long x = strtoul(p, &end, 10);
        v[i] = x > 100000 ? 100000 : (unsigned)x;
        p = end;
        if (pct && *p++ != '%')
            return 0;
        if (i < 2) {
            if (*p++ != ',')
                return 0;
            while (isspace((unsigned char)*p))
                p++;
        }
    }
    while (isspace((unsigned char)*p))
        p++;
    return *p == ')';
}

/* name_to_rgb: a colour name, #hex (cut to 6 or 3 digits, padded, 3
 * doubled) or rgb(...) as "#rrggbb"; "invalid" for anything else. */
static void mk_sa_color(const char *in, char out[16])
{
    char c[64];
    const char *s = in;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= sizeof(c)) {
        snprintf(out, 16, "invalid");
        return;
    }
    for (size_t i = 0; i < n; i++)
        c[i] = (char)tolower((unsigned char)s[i]);
    c[n] = '\0';
    const void *hit = bsearch(c, mk_sa_colors, sizeof(mk_sa_colors) / sizeof(mk_sa_colors[0]),
                              sizeof(mk_sa_colors[0]), mk_sa_color_cmp);
    if (hit != NULL) {
        snprintf(out, 16, "#%06x", ((const mk_sa_named_color *)hit)->rgb);
        return;
    }
    char hex[64];
    const char *rgb = strstr(c, "rgb(");
    unsigned v[3];
    if (strspn(c, "#abcdef0123456789") == n) {
        snprintf(hex, sizeof(hex), "%s", c);
    } else if (rgb != NULL && rgb[4 + strspn(rgb + 4, "0123456789%, ")] == ')') {
        if (mk_sa_rgb_args(rgb + 4, v, 1)) {
            for (int i = 0; i < 3; i++)
                v[i] = v[i] * 255 / 100;
        } else if (!mk_sa_rgb_args(rgb + 4, v, 0)) {
            snprintf(out, 16, "invalid"); /* left as written: no '#' */
            return;
        }
        snprintf(hex, sizeof(hex), "#%02x%02x%02x", v[0], v[1], v[2]);
    } else {
        snprintf(out, 16, "invalid");
        return;
    }
    if (hex[0] != '#') {
        snprintf(out, 16, "invalid");
        return;
    }
    char digits[64];
    size_t k = 0;
    for (const char *p = hex; *p != '\0'; p++)
        if (isxdigit((unsigned char)*p))
            digits[k++] = *p;
    if (k > 6)
        k = 6;
    if (k > 3 && k < 6)
        k = 3;
    while (k % 3 != 0)
        digits[k++] = '0';
    digits[k] = '\0';
    if (k == 3)
        snprintf(out, 16, "#%c%c%c%c%c%c", digits[0], digits[0], digits[1], digits[1], digits[2],
                 digits[2]);
    else
        snprintf(out, 16, "#%.6s", digits); /* 0 or 6 digits */
}

#define MK_SA_STYLES_MAX 256 /* levels of the stack kept */

struct mk_sa_styles {
    GArray *stack; /* of mk_sa_style, the default at the bottom */
    int basefont;  /* what <basefont size> set; relative sizes count from it */
};

mk_sa_styles *mk_sa_styles_new(void)
{
    mk_sa_styles *st = g_new0(mk_sa_styles, 1);
    st->stack = g_array_new(FALSE, TRUE, sizeof(mk_sa_style));
    mk_sa_style def = {"default", "#000000", "#ffffff", 3, 0, 0};
    st->basefont = 3;
    g_array_append_val(st->stack, def);
    return st;
}

void mk_sa_styles_free(mk_sa_styles *st)
{
    if (st == NULL)
        return;
    g_array_free(st->stack, TRUE);
    g_free(st);
}

static mk_sa_style *mk_sa_styles_top(const mk_sa_styles *st)
{
    return &g_array_index(st->stack, mk_sa_style, st->stack->len - 1);
}

static int mk_sa_styles_has(const mk_sa_styles *st, const char *tag)
{
    for (guint i = 0; i < st->stack->len; i++)
        if (strcmp(g_array_index(st->stack, mk_sa_style, i).tag, tag) == 0)
            return 1;
    return 0;
}

/* The last layer of a CSS background's value (lower case): its first
 * word that is a colour, into bg; nothing when none is. */
static void mk_sa_styles_background(const char *v, char bg[16])
{
    GPtrArray *layer = g_ptr_array_new_with_free_func(g_free), *last = NULL;
    GString *tok = g_string_new(NULL);
    int stack[64], sp = 0, state = 0;
    for (const char *c = v; *c != '\0'; c++) {
        if (state == 0 && (*c == ' ' || *c == ',')) {
            if (tok->len > 0)
                g_ptr_array_add(layer, g_strdup(tok->str));
            g_string_truncate(tok, 0);
            if (*c == ',') { /* a layer ends */
                if (last != NULL)
                    g_ptr_array_free(last, TRUE);
                last = layer;
                layer = g_ptr_array_new_with_free_func(g_free);
            }
            continue;
        }
        g_string_append_c(tok, *c);
        int opens = state != 2 && state != 3 && (*c == '(' || *c == '"' || *c == '\'');
        if (opens && sp < 64) {
            stack[sp++] = state;
            state = *c == '(' ? 1 : *c == '"' ? 2 : 3;
        } else if ((state == 1 && *c == ')') || (state == 2 && *c == '"') ||
                   (state == 3 && *c == '\'')) {
            if (state == 1) {
                g_ptr_array_add(layer, g_strdup(tok->str));
                g_string_truncate(tok, 0);
            }
            state = sp > 0 ? stack[--sp] : 0;
        }
    }
    if (tok->len > 0)
        g_ptr_array_add(layer, g_strdup(tok->str));
    if (layer->len > 0) {
        if (last != NULL)
            g_ptr_array_free(last, TRUE);
        last = layer;
        layer = NULL;
    }
    for (guint i = 0; last != NULL && i < last->len; i++) {
        char c[16];
        mk_sa_color(last->pdata[i], c);
        if (strcmp(c, "invalid") != 0) {
            memcpy(bg, c, 16);
            break;
        }
    }
    if (layer != NULL)
        g_ptr_array_free(layer, TRUE);
    if (last != NULL)
        g_ptr_array_free(last, TRUE);
    g_string_free(tok, TRUE);
}

/* A style attribute's colour, background-color and background. */
static void mk_sa_styles_css(mk_sa_style *new, const mk_sa_style *parent, const char *style)
{
    gchar **parts = g_strsplit(style, ";", -1);
    for (gchar **p = parts; *p != NULL; p++) {
        char *d = g_strstrip(g_strdup(*p));
        int bgc = g_ascii_strncasecmp(d, "background-color:", 17) == 0;
        if (bgc || g_ascii_strncasecmp(d, "color:", 6) == 0) {
            char *value = g_strstrip(g_ascii_strdown(d + (bgc ? 17 : 6), -1));
            char *bang = strrchr(value, '!');
            if (bang != NULL && strcmp(g_strstrip(bang + 1), "important") == 0) {
                *bang = '\0';
                g_strstrip(value);
            }
            char *slot = bgc ? new->bg : new->fg;
            if (strstr(value, "rgb") != NULL) {
                /* the digits and commas only, three numbers (none: 0) */
                unsigned v[3] = {0, 0, 0};
                int i = 0;
                for (const char *c = value; *c != '\0' && i < 3; c++) {
                    if (*c == ',')
                        i++;
                    else if (isdigit((unsigned char)*c))
                        v[i] = v[i] > 1000 ? v[i] : v[i] * 10 + (unsigned)(*c - '0');
                }
                snprintf(slot, 16, "#%02x%02x%02x", MIN(v[0], 255u), MIN(v[1], 255u),
                         MIN(v[2], 255u));
            } else if (strcmp(value, "inherit") == 0) {
                /* as the parent */
            } else if (strcmp(value, "transparent") == 0) {
                snprintf(slot, 16, "transparent");
            } else {
                mk_sa_color(value, slot);
            }
            g_free(value);
        } else if (strncmp(d, "background:", 11) == 0) {
            char *value = g_strstrip(g_ascii_strdown(d + 11, -1));
            mk_sa_styles_background(value, new->bg);
            g_free(value);
        } else if (strncmp(d, "display", 7) == 0 || strncmp(d, "visibility", 10) == 0) {
            /* any other property is kept by its name as written; these two
             * (lower case) say whether the text shows */
            int disp = d[0] == 'd';
            const char *c = d + (disp ? 7 : 10);
            c += strspn(c, " \t\r\n\f\v");
            if (*c == ':') {
                char *value = g_strstrip(g_strdup(c + 1));
                if (*value != '\0') {
                    if (disp)
                        new->display_none = g_ascii_strcasecmp(value, "none") == 0;
                    else
                        new->hidden = g_ascii_strcasecmp(value, "hidden") == 0;
                }
                g_free(value);
            }
        }
        g_free(d);
    }
    g_strfreev(parts);
    if (strcmp(new->bg, "transparent") == 0)
        memcpy(new->bg, parent->bg, 16);
    if (strcmp(new->fg, "transparent") == 0)
        memcpy(new->fg, new->bg, 16);
}

/* A font size as written ("+2", "-1", "7"), within +-10000. */
static int mk_sa_styles_size(const char *d)
{
    gint64 n = g_ascii_strtoll(d, NULL, 10);
    return (int)CLAMP(n, -10000, 10000);
}

void mk_sa_styles_tag(mk_sa_styles *st, const char *tag, const char *attrs, int num,
                      char *(*attr)(const char *attrs, const char *name))
{
    if (strcmp(tag, "th") == 0)
        tag = "td";
    if (num != 1) {
        /* closing: everything up to and with the tag (never body) */
        if (strcmp(tag, "body") == 0 || !mk_sa_styles_has(st, tag))
            return;
        while (st->stack->len > 1) {
            int last = strcmp(mk_sa_styles_top(st)->tag, tag) == 0;
            g_array_set_size(st->stack, st->stack->len - 1);
            if (last)
                break;
        }
        return;
    }
    char *v;
    if (strcmp(tag, "basefont") == 0 && (v = attr(attrs, "size")) != NULL) {
        const char *d = v + strspn(v, " \t\r\n\f\v");
        int digit = isdigit((unsigned char)*d);
        if (digit)
            st->basefont = mk_sa_styles_size(d);
        g_free(v);
        if (digit)
            return; /* a size only */
    }
    if ((strcmp(tag, "td") == 0 || strcmp(tag, "tr") == 0) && mk_sa_styles_has(st, tag))
        while (st->stack->len > 1) { /* close the cell or row still open */
            const char *top = mk_sa_styles_top(st)->tag;
            if (!(strcmp(top, "font") == 0 || strcmp(top, "td") == 0 ||
                  (strcmp(tag, "tr") == 0 && strcmp(top, "tr") == 0)))
                break;
            g_array_set_size(st->stack, st->stack->len - 1);
        }
    /* nesting past any real layout: the style in force stays (a part of
     * millions of open tags costs neither memory nor quadratic time) */
    if (st->stack->len >= MK_SA_STYLES_MAX)
        return;
    mk_sa_style new = *mk_sa_styles_top(st);
    const mk_sa_style parent = new;
    snprintf(new.tag, sizeof(new.tag), "%s", tag);
    if (strcmp(tag, "big") == 0 || strcmp(tag, "small") == 0) {
        new.size += tag[0] == 'b' ? 1 : -1;
        g_array_append_val(st->stack, new);
        return;
    }
    if ((strcmp(tag, "font") == 0 || strcmp(tag, "basefont") == 0) &&
        (v = attr(attrs, "size")) != NULL) {
        /* "+1" and "-1" from the base font's size, "5" as it says */
        const char *d = v + strspn(v, " \t\r\n\f\v");
        if ((*d == '+' || *d == '-') && isdigit((unsigned char)d[1]))
            new.size = st->basefont + mk_sa_styles_size(d);
        else if (isdigit((unsigned char)*d))
            new.size = mk_sa_styles_size(d);
        g_free(v);
    }
    /* the attributes SpamAssassin reads on each tag */
    const char *fg_attr = strcmp(tag, "body") == 0                                   ? "text"
                          : strcmp(tag, "font") == 0 || strcmp(tag, "basefont") == 0 ? "color"
                                                                                     : NULL;
    static const char *const styled[] = {"table", "td", "tr", "span", "p", "div", "a", NULL};
    if (fg_attr != NULL && (v = attr(attrs, fg_attr)) != NULL) {
        mk_sa_color(v, new.fg);
        g_free(v);
    }
    for (const char *const *s = styled; *s != NULL; s++)
        if (strcmp(tag, *s) == 0 && (v = attr(attrs, "style")) != NULL) {
            mk_sa_styles_css(&new, &parent, v);
            g_free(v);
        }
    g_array_append_val(st->stack, new);
}

int mk_sa_styles_text(const mk_sa_styles *st, int *low_contrast, int *invalid_color)
{
    const mk_sa_style *s = mk_sa_styles_top(st);
    size_t fl = strlen(s->fg), bl = strlen(s->bg);
    /* the same colour (the last six characters, as SpamAssassin compares) */
    if (strcmp(s->fg + (fl > 6 ? fl - 6 : 0), s->bg + (bl > 6 ? bl - 6 : 0)) == 0) {
        *low_contrast = 1;
        return 1;
    }
    unsigned r1, g1, b1, r2, g2, b2;
    if (fl == 7 && bl == 7 && strspn(s->fg + 1, "0123456789abcdef") == 6 &&
        strspn(s->bg + 1, "0123456789abcdef") == 6 &&
        sscanf(s->fg + 1, "%2x%2x%2x", &r1, &g1, &b1) == 3 &&
        sscanf(s->bg + 1, "%2x%2x%2x", &r2, &g2, &b2) == 3) {
        /* distance weighted by brightness: under 12 is hard to read */
        double r = (double)r1 - r2, g = (double)g1 - g2, b = (double)b1 - b2;
        if (sqrt(pow(0.2126 * r, 2) + pow(0.7152 * g, 2) + pow(0.0722 * b, 2)) < 12) {
            *low_contrast = 1;
            return 1;
        }
    }
    if (strcmp(s->fg, "invalid") == 0 || strcmp(s->bg, "invalid") == 0) {
        *invalid_color = 1;
        return 1;
    }
    /* too small to read, or not shown */
    return s->size <= 1 || s->display_none || s->hidden;
}
