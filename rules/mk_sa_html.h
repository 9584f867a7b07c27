/*
 * mk_sa_html: what SpamAssassin's HTML parser (Mail::SpamAssassin::HTML,
 * on HTML::Parser) measures of one text/html part, for the HTMLEval
 * tests: tag and element counts, the tags left open, the length of the
 * source, the area of its images, the visible text's length, words split
 * by tags ("obfuscation"), font sizes, and the text of titles, comments
 * and links; and, for Bayes, the text one sees and the text no one sees
 * (SpamAssassin's visible_rendered and invisible_rendered). The part is
 * tokenized as HTML::Parser does (tags, end tags, comments, declarations,
 * text with entities decoded; script and style content as raw text), not
 * as a browser repairs it, since the statistics count what was written.
 */
#ifndef MK_SA_HTML_H
#define MK_SA_HTML_H

#include <glib.h>
#include <stddef.h>

typedef struct mk_sa_html {
    GHashTable *inside; /* tag -> GINT_TO_POINTER(opened - closed, never below 0) + 1 */
    unsigned tags, elements, tags_seen, elements_seen, closed_extra, obfuscation;
    int has_elements;       /* an element or a doctype was seen */
    double length;          /* characters of the part's source */
    double image_area;      /* width x height of its images (percentages scaled) */
    double non_space_len;   /* characters of the rendered text that are not spaces */
    int max_size, min_size; /* font sizes, 3 the default */
    GPtrArray *title;       /* of char *: each <title>'s text */
    GPtrArray *comment;     /* each comment, "<!-- ... -->" as written */
    GPtrArray *anchor;      /* each link's text ("<img>\n" for an image) */
    int embeds, form_action_mailto, font_face_bad;
    int font_low_contrast, font_invalid_color; /* text in colours hard to tell apart, or unread */
    GString *rendered;  /* the text not in colours hidden, white space as the tags insert it */
    GString *visible;   /* the text but what no one sees (for Bayes, as SpamAssassin's) */
    GString *invisible; /* the text no one sees (mk_sa_styles_text), pieces apart */
} mk_sa_html;

/* Measures the HTML in text (len bytes, UTF-8 or not). Free with
 * mk_sa_html_free(). */
mk_sa_html *mk_sa_html_parse(const char *text, size_t len);
void mk_sa_html_free(mk_sa_html *h);

/* The number test names (length, max_size, closed_extra_ratio,
 * bad_tag_ratio, non_element_ratio, obfuscation_ratio, ...) of h; 0 when
 * h does not have it (as SpamAssassin's result is then undefined). */
int mk_sa_html_value(const mk_sa_html *h, const char *test, double *out);

/* How many of tag are open at the end (opened less closed); -1 when the
 * tag never appeared. */
int mk_sa_html_inside(const mk_sa_html *h, const char *tag);

/* The text style stack of the parse (mk_sa_html_style.c): what tags
 * body, font, table, td, span, p, div, a, ... set (num 1) or end (num -1),
 * attr reading their attributes (a g_free'd value or NULL); at each piece
 * of text that is not all white space, _text says whether its colours are
 * too close or invalid (setting *low_contrast or *invalid_color), and
 * returns 1 when no one sees it: for those colours, a font size of 1 or
 * less, or style "display: none" or "visibility: hidden" (SpamAssassin's
 * html_font_invisible). */
typedef struct mk_sa_styles mk_sa_styles;
mk_sa_styles *mk_sa_styles_new(void);
void mk_sa_styles_free(mk_sa_styles *st);
void mk_sa_styles_tag(mk_sa_styles *st, const char *tag, const char *attrs, int num,
                      char *(*attr)(const char *attrs, const char *name));
int mk_sa_styles_text(const mk_sa_styles *st, int *low_contrast, int *invalid_color);

#endif
