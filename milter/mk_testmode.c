/*
 * mk_testmode: the file-fed MTA. Splits the header block the way Postfix
 * does (a line that is no header ends it; a leading mbox "From " line is
 * skipped), unfolds nothing (folds are passed on as the MTA would), and
 * gives the body in CRLF form.
 */
#include "config.h"

#include "mk_testmode.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mk_pool.h"

#define MK_TEST_CHUNK 65536

/* Length of the line at p (without its end) and of its end (0, 1 or 2). */
static size_t mk_test_line(const char *p, const char *end, size_t *eol)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
        *eol = 0;
        return (size_t)(end - p);
    }
    size_t len = (size_t)(nl - p);
    *eol = 1;
    if (len > 0 && p[len - 1] == '\r') {
        len--;
        *eol = 2;
    }
    return len;
}

/* A header line: a name of printable characters but ':' and space, then ':'. */
static size_t mk_test_header_name(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] != ':' && p[i] > 32 && p[i] < 127)
        i++;
    return (i > 0 && i < len && p[i] == ':') ? i : 0;
}

static int mk_test_body(mk_pipe *pipe, const char *p, const char *end)
{
    char chunk[MK_TEST_CHUNK + 2];
    size_t o = 0;
    for (; p < end; p++) {
        if (*p == '\n' && (o == 0 || chunk[o - 1] != '\r'))
            chunk[o++] = '\r';
        chunk[o++] = *p;
        if (o >= MK_TEST_CHUNK) {
            if (mk_pipe_body(pipe, chunk, o) != 0)
                return -1;
            o = 0;
        }
    }
    return o > 0 ? mk_pipe_body(pipe, chunk, o) : 0;
}

int mk_testmode_feed(mk_pipe *pipe, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    size_t eol;
    if (len >= 5 && memcmp(p, "From ", 5) == 0) {
        p += mk_test_line(p, end, &eol);
        p += eol;
    }
    while (p < end) {
        size_t l = mk_test_line(p, end, &eol);
        if (l == 0) { /* the empty line between header and body */
            p += eol;
            break;
        }
        size_t nlen = mk_test_header_name(p, l);
        if (nlen == 0)
            break; /* no header: the body starts here */
        /* The value runs on over continuation lines. */
        const char *vstart = p + nlen + 1;
        const char *q = p + l + eol;
        while (q < end && (*q == ' ' || *q == '\t')) {
            size_t e2;
            size_t l2 = mk_test_line(q, end, &e2);
            q += l2 + e2;
        }
        const char *vend = q;
        while (vend > vstart && (vend[-1] == '\n' || vend[-1] == '\r'))
            vend--;
        char *name = strndup(p, nlen);
        char *value = strndup(vstart, (size_t)(vend - vstart));
        int rc = (name && value) ? mk_pipe_header(pipe, name, value) : -1;
        free(name);
        free(value);
        if (rc != 0)
            return -1;
        p = q;
    }
    if (mk_pipe_eoh(pipe) != 0)
        return -1;
    return mk_test_body(pipe, p, end);
}

static char *mk_test_read(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (fp == NULL) {
        snprintf(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    if (buf == NULL || ferror(fp)) {
        snprintf(err, errlen, "%s", buf ? strerror(errno) : "out of memory");
        free(buf);
        buf = NULL;
    }
    if (fp != stdin)
        fclose(fp);
    *len = n;
    return buf;
}

static void mk_test_print(const mk_outcome *o, FILE *out)
{
    fprintf(out, "verdict: %s%s\n", mk_action_name(o->action), o->error ? " (on_error)" : "");
    if (o->results != NULL) {
        fprintf(out, "score: %.2f\n", o->verdict.score);
        fprintf(out, "symbols:%s\n", o->results->n ? "" : " none");
        for (size_t i = 0; i < o->results->n; i++) {
            const mk_symbol *s = &o->results->syms[i];
            fprintf(out, "  %-24s %7.2f  %s\n", s->name, s->score, s->detail ? s->detail : "");
        }
    }
    if (o->rcode != NULL)
        fprintf(out, "reply: %s %s %s\n", o->rcode, o->xcode, o->text);
    if (o->hold != NULL)
        fprintf(out, "hold: %s\n", o->hold);
    if (o->n_edits > 0)
        fprintf(out, "headers:\n");
    for (size_t i = 0; i < o->n_edits; i++)
        if (o->edits[i].op == MK_EDIT_DELETE)
            fprintf(out, "  - %s[%d]\n", o->edits[i].name, o->edits[i].index);
    /* Inserts go to the top one after the other: print them top-down. */
    for (size_t i = o->n_edits; i-- > 0;)
        if (o->edits[i].op == MK_EDIT_INSERT)
            fprintf(out, "  + %s: %s\n", o->edits[i].name, o->edits[i].value);
}

int mk_testmode_file(const mk_app *app, const mk_test_opts *opts, const char *path, FILE *out)
{
    char err[256];
    size_t len = 0;
    fprintf(out, "file: %s\n", path);
    char *data = mk_test_read(path, &len, err, sizeof(err));
    if (data == NULL) {
        fprintf(out, "error: cannot read: %s\n\n", err);
        return -1;
    }
    mk_pipe *pipe = mk_pipe_connect(app, opts->client_host, opts->client_ip);
    mk_outcome outcome;
    int rc = -1;
    if (pipe != NULL && mk_pipe_helo(pipe, opts->helo) == 0 &&
        mk_pipe_mail(pipe, opts->from) == 0) {
        rc = 0;
        mk_pipe_set_qid(pipe, "TEST");
        mk_pipe_set_auth(pipe, opts->auth);
        size_t taken = 0;
        for (size_t i = 0; i < opts->n_rcpts && rc == 0; i++) {
            rc = mk_pipe_rcpt(pipe, opts->rcpts[i], &outcome);
            if (rc == 0 && outcome.action != MK_ACTION_ACCEPT)
                fprintf(out, "rcpt %s: %s %s %s\n", opts->rcpts[i], outcome.rcode, outcome.xcode,
                        outcome.text);
            taken += rc == 0 && outcome.action == MK_ACTION_ACCEPT;
        }
        if (rc == 0 && taken == 0 && opts->n_rcpts > 0) {
            fprintf(out, "no recipient taken: no message\n\n");
            mk_pipe_close(pipe);
            free(data);
            return 0;
        }
        if (rc == 0)
            rc = mk_testmode_feed(pipe, data, len);
    }
    if (rc == 0)
        rc = mk_pipe_eom(pipe, &outcome);
    else
        mk_pipe_error_outcome(app, &outcome);
    mk_test_print(&outcome, out);
    fputc('\n', out);
    mk_pipe_close(pipe);
    free(data);
    return rc;
}
