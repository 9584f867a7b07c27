/*
 * mk_pipe: the milter's pipeline, with no MTA in sight. The libmilter layer
 * (mk_mta.c) and the test mode (mk_testmode.c) both drive it through these
 * calls, one mk_pipe per SMTP connection, one message at a time:
 *
 *   connect -> helo -> (mail -> rcpt... -> header... -> eoh -> body... -> eom)...
 *
 * At connect the connect-stage checks (RBL) start their DNS; headers and
 * body are buffered; at eom the message is parsed once, the message checks
 * run, all DNS is collected under one deadline, and the verdict becomes an
 * mk_outcome: the reply and the header edits the MTA is asked to make.
 */
#ifndef MK_PIPE_H
#define MK_PIPE_H

#include <libpsl.h>
#include <stdatomic.h>
#include <stddef.h>

#include "mk_config.h"
#include "mk_lists.h"
#include "mk_result.h"
#include "mk_sa.h"
#include "mk_verdict.h"

/* Process-wide and read-only while connections use it; a reload makes a
 * new one, and the old one is freed once its last connection closed. */
typedef struct mk_app {
    const mk_config *cfg;
    mk_policy policy;
    const psl_ctx_t *psl;          /* libpsl's built-in list unless main loads another */
    const mk_sa_rules *rules;      /* content rules ([rules] paths), or NULL */
    struct mk_bayes *bayes;        /* the Bayes store ([bayes]), or NULL; thread-safe */
    struct mk_lists_reader *lists; /* friend and block lists ([lists]), or NULL; thread-safe */
    struct mk_archive *archive;    /* the compliance archive ([archive] enabled), or NULL */
    struct mk_vault *vault;        /* the secure vault ([vault] enabled), or NULL; thread-safe */
    atomic_int users;              /* connections open on it (mk_pipe_connect/close) */
} mk_app;

typedef enum { MK_EDIT_DELETE, MK_EDIT_INSERT } mk_edit_op;

/* One header edit, in the order to apply it. */
typedef struct mk_edit {
    mk_edit_op op;
    const char *name;
    int index;         /* DELETE: 1-based among the headers of that name */
    const char *value; /* INSERT: the value, inserted at the top */
} mk_edit;

typedef struct mk_outcome {
    mk_action action;  /* accept and add_header: deliver with the edits */
    int error;         /* the answer comes from on_error, not a verdict */
    const char *rcode; /* "550", "451" for reject and tempfail */
    const char *xcode; /* "5.7.1", "4.7.1" */
    const char *text;
    const char *hold; /* accepted, but to be kept in the MTA's hold queue: why */
    const mk_edit *edits;
    size_t n_edits;
    const mk_results *results; /* NULL on error */
    mk_verdict verdict;
    long long archived; /* the archive's entry of the message, or 0 */
    int vaulted;        /* kept in the vault: the edits and body make the notification */
    const char *body;   /* the new body (CRLF), or NULL: unchanged */
    size_t body_len;
} mk_outcome;

typedef struct mk_pipe mk_pipe;

void mk_app_init(mk_app *app, const mk_config *cfg);

/* A new connection: host as the MTA names the client, ip its address in
 * text (NULL when unknown). NULL when out of memory. */
mk_pipe *mk_pipe_connect(const mk_app *app, const char *host, const char *ip);
/* Connections open on app (for freeing it once a reload replaced it). */
int mk_app_users(const mk_app *app);
/* Ends the connection and frees everything of it. NULL is allowed. */
void mk_pipe_close(mk_pipe *pipe);

/* The MTA's queue ID, as soon as it is known (Postfix: from RCPT on). */
void mk_pipe_set_qid(mk_pipe *pipe, const char *qid);
const char *mk_pipe_qid(const mk_pipe *pipe);

/* Each returns 0, or -1 on an internal error (logged): the caller answers
 * the MTA with mk_pipe_error_outcome(). */
int mk_pipe_helo(mk_pipe *pipe, const char *helo);
int mk_pipe_mail(mk_pipe *pipe, const char *from);
/* The SMTP AUTH name the client logged in with, for the message begun by
 * the last mk_pipe_mail (NULL or "": none). */
void mk_pipe_set_auth(mk_pipe *pipe, const char *name);
/* A recipient. out->action says whether to take it: MK_ACTION_REJECT (550
 * 5.7.1: the sender is on its block list, [lists] block_action = reject)
 * or MK_ACTION_TEMPFAIL (452 4.5.3: its lists differ from the first
 * recipient's, [lists] split_recipients) refuse this recipient only, with
 * the reply in out; MK_ACTION_ACCEPT takes it. */
int mk_pipe_rcpt(mk_pipe *pipe, const char *rcpt, mk_outcome *out);
/* value is everything after the colon, leading space included. */
int mk_pipe_header(mk_pipe *pipe, const char *name, const char *value);
int mk_pipe_eoh(mk_pipe *pipe);
int mk_pipe_body(mk_pipe *pipe, const void *data, size_t len);
/* Runs the checks and decides. out's strings live until the next message or
 * the end of the connection. Returns 0, or -1 when out is the on_error answer. */
int mk_pipe_eom(mk_pipe *pipe, mk_outcome *out);
/* The message was aborted (RSET, or the client went away). */
void mk_pipe_abort(mk_pipe *pipe);

/* The answer for an internal error, per on_error. */
void mk_pipe_error_outcome(const mk_app *app, mk_outcome *out);

#endif
