/*
 * mk_testmode: runs the pipeline over message files with no MTA, the way
 * an MTA would feed it (headers one by one, body in CRLF form), and prints
 * the verdict, the score with its symbols, the reply and the header edits.
 */
#ifndef MK_TESTMODE_H
#define MK_TESTMODE_H

#include <stdio.h>

#include "mk_pipe.h"

typedef struct mk_test_opts {
    const char *client_ip; /* NULL: unknown, as for local submission */
    const char *client_host;
    const char *helo;
    const char *from;
    const char *auth; /* SMTP AUTH name, or NULL */
    const char *const *rcpts;
    size_t n_rcpts;
} mk_test_opts;

/* One file ("-": standard input). 0, or -1 when it cannot be read (said on
 * out) or the pipeline failed (the on_error answer is printed). */
int mk_testmode_file(const mk_app *app, const mk_test_opts *opts, const char *path, FILE *out);

/* Feeds a whole message in memory into pipe as an MTA would. 0 or -1. */
int mk_testmode_feed(mk_pipe *pipe, const char *data, size_t len);

#endif
