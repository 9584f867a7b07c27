/*
 * mk_mta: libmilter callbacks translated into mk_pipe calls, and mk_outcome
 * translated back into smfi_* calls. libmilter runs one thread per MTA
 * connection; each connection's mk_pipe is used by that thread only.
 */
#include "config.h"

#include "mk_mta.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mk_log.h"

/* libmilter's callbacks carry no user pointer, so the process state is
 * reached through this one file-level pointer: set before the first
 * thread starts, replaced by a reload (mk_mta_swap_app) under the lock,
 * which a new connection takes to read it and count itself in. */
static const mk_app *mk_mta_app;
static pthread_mutex_t mk_mta_lock = PTHREAD_MUTEX_INITIALIZER;

const mk_app *mk_mta_swap_app(const mk_app *app)
{
    pthread_mutex_lock(&mk_mta_lock);
    const mk_app *old = mk_mta_app;
    mk_mta_app = app;
    pthread_mutex_unlock(&mk_mta_lock);
    return old;
}

/* The stages after which the MTA need not wait for an answer: it streams
 * them, which halves the round trips of a message. */
#define MK_MTA_NOREPLY                                                                             \
    (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_HDR | SMFIP_NR_EOH | \
     SMFIP_NR_BODY)

/* Per MTA connection. */
typedef struct mk_mta_conn {
    mk_pipe *pipe;
    int leadspc;           /* header values arrive with their leading space */
    int chgbody;           /* the MTA lets the milter replace the body */
    unsigned long noreply; /* SMFIP_NR_* steps the MTA agreed to */
    int conn_failed;       /* an error at connect or HELO, not yet answered */
    int msg_failed;        /* an error in DATA, headers or body, answered at EOM */
} mk_mta_conn;

static mk_mta_conn *mk_mta_conn_of(SMFICTX *ctx)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c != NULL)
            smfi_setpriv(ctx, c);
    }
    return c;
}

/* The answer for an internal error at any stage. */
static sfsistat mk_mta_fail(SMFICTX *ctx)
{
    mk_outcome out;
    pthread_mutex_lock(&mk_mta_lock);
    mk_pipe_error_outcome(mk_mta_app, &out);
    pthread_mutex_unlock(&mk_mta_lock);
    if (out.action == MK_ACTION_ACCEPT)
        return SMFIS_ACCEPT;
    smfi_setreply(ctx, (char *)out.rcode, (char *)out.xcode, (char *)out.text);
    return SMFIS_TEMPFAIL;
}

/* A failure at the end of a message: on_error's answer, except for a
 * vaulted message, which must not go out as it came: always tempfail. */
static sfsistat mk_mta_eom_fail(SMFICTX *ctx, const mk_outcome *out)
{
    if (!out->vaulted)
        return mk_mta_fail(ctx);
    smfi_setreply(ctx, "451", "4.3.0", "The secure message cannot be sent now, try again later");
    return SMFIS_TEMPFAIL;
}

/* The answer of a stage that may have been agreed to need no reply: on an
 * error there, the failure is kept in *failed and answered (on_error) at
 * the next stage the MTA waits for. */
static sfsistat mk_mta_quiet(SMFICTX *ctx, mk_mta_conn *c, unsigned long step, int ok, int *failed)
{
    if (!ok && !(c->noreply & step))
        return mk_mta_fail(ctx);
    if (!ok)
        *failed = 1;
    return (c->noreply & step) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* Refuses (a recipient, or the message) with out's reply; out->action is
 * MK_ACTION_REJECT or MK_ACTION_TEMPFAIL. */
static sfsistat mk_mta_refuse(SMFICTX *ctx, const char *qid, const mk_outcome *out)
{
    if (smfi_setreply(ctx, (char *)out->rcode, (char *)out->xcode, (char *)out->text) != MI_SUCCESS)
        mk_log(LOG_WARNING, qid, "MTA refused the reply text; it answers its default");
    return out->action == MK_ACTION_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

static void mk_mta_qid(SMFICTX *ctx, mk_mta_conn *c)
{
    const char *qid = smfi_getsymval(ctx, "i");
    if (qid != NULL && c->pipe != NULL)
        mk_pipe_set_qid(c->pipe, qid);
}

static sfsistat mk_mta_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                                 unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                                 unsigned long *pf2, unsigned long *pf3)
{
    mk_mta_conn *c = mk_mta_conn_of(ctx);
    if (c == NULL)
        return SMFIS_TEMPFAIL;
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_CHGBODY);
    c->chgbody = (*pf0 & SMFIF_CHGBODY) != 0;
    *pf1 = f1 & (SMFIP_HDR_LEADSPC | MK_MTA_NOREPLY);
    *pf2 = 0;
    *pf3 = 0;
    c->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
    c->noreply = *pf1 & MK_MTA_NOREPLY;
    return SMFIS_CONTINUE;
}

static sfsistat mk_mta_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    mk_mta_conn *c = mk_mta_conn_of(ctx);
    if (c == NULL)
        return mk_mta_fail(ctx); /* nothing was negotiated without memory */
    char ip[INET6_ADDRSTRLEN] = "";
    const char *ipp = NULL;
    if (sa != NULL && sa->sa_family == AF_INET)
        ipp = inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, ip, sizeof(ip));
    else if (sa != NULL && sa->sa_family == AF_INET6)
        ipp = inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, ip, sizeof(ip));
    mk_pipe_close(c->pipe);
    pthread_mutex_lock(&mk_mta_lock);
    c->pipe = mk_pipe_connect(mk_mta_app, host, ipp);
    pthread_mutex_unlock(&mk_mta_lock);
    if (c->pipe == NULL)
        mk_log(LOG_ERR, NULL, "out of memory at connect");
    return mk_mta_quiet(ctx, c, SMFIP_NR_CONN, c->pipe != NULL, &c->conn_failed);
}

static sfsistat mk_mta_helo(SMFICTX *ctx, char *helo)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c == NULL)
        return mk_mta_fail(ctx);
    int ok = c->pipe != NULL && mk_pipe_helo(c->pipe, helo) == 0;
    return mk_mta_quiet(ctx, c, SMFIP_NR_HELO, ok, &c->conn_failed);
}

static sfsistat mk_mta_envfrom(SMFICTX *ctx, char **argv)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c == NULL || c->conn_failed || c->pipe == NULL)
        return mk_mta_fail(ctx);
    c->msg_failed = 0;
    if (mk_pipe_mail(c->pipe, argv[0]) != 0)
        return mk_mta_fail(ctx);
    mk_pipe_set_auth(c->pipe, smfi_getsymval(ctx, "{auth_authen}"));
    mk_mta_qid(ctx, c);
    return SMFIS_CONTINUE;
}

static sfsistat mk_mta_envrcpt(SMFICTX *ctx, char **argv)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c == NULL || c->pipe == NULL)
        return mk_mta_fail(ctx);
    mk_mta_qid(ctx, c);
    mk_outcome out;
    if (mk_pipe_rcpt(c->pipe, argv[0], &out) != 0)
        return mk_mta_fail(ctx);
    if (out.action == MK_ACTION_ACCEPT)
        return SMFIS_CONTINUE;
    return mk_mta_refuse(ctx, mk_pipe_qid(c->pipe), &out);
}

static sfsistat mk_mta_header(SMFICTX *ctx, char *name, char *value)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c == NULL)
        return mk_mta_fail(ctx);
    if (c->pipe == NULL || c->msg_failed)
        return mk_mta_quiet(ctx, c, SMFIP_NR_HDR, 0, &c->msg_failed);
    int rc;
    if (c->leadspc) {
        rc = mk_pipe_header(c->pipe, name, value);
    } else {
        /* libmilter took the space after the colon away: put one back. */
        size_t n = strlen(value);
        char *v = malloc(n + 2);
        rc = -1;
        if (v != NULL) {
            v[0] = ' ';
            memcpy(v + 1, value, n + 1);
            rc = mk_pipe_header(c->pipe, name, v);
            free(v);
        }
    }
    return mk_mta_quiet(ctx, c, SMFIP_NR_HDR, rc == 0, &c->msg_failed);
}

static sfsistat mk_mta_eoh(SMFICTX *ctx)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c == NULL)
        return mk_mta_fail(ctx);
    int ok = c->pipe != NULL && !c->msg_failed;
    if (ok) {
        mk_mta_qid(ctx, c);
        ok = mk_pipe_eoh(c->pipe) == 0;
    }
    return mk_mta_quiet(ctx, c, SMFIP_NR_EOH, ok, &c->msg_failed);
}

static sfsistat mk_mta_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c == NULL)
        return mk_mta_fail(ctx);
    int ok = c->pipe != NULL && !c->msg_failed && mk_pipe_body(c->pipe, data, len) == 0;
    return mk_mta_quiet(ctx, c, SMFIP_NR_BODY, ok, &c->msg_failed);
}

static sfsistat mk_mta_eom(SMFICTX *ctx)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c == NULL || c->pipe == NULL)
        return mk_mta_fail(ctx);
    if (c->msg_failed) { /* logged where it happened */
        c->msg_failed = 0;
        return mk_mta_fail(ctx);
    }
    mk_mta_qid(ctx, c);
    mk_outcome out;
    mk_pipe_eom(c->pipe, &out);
    const char *qid = mk_pipe_qid(c->pipe);
    if (out.body != NULL && !c->chgbody) {
        /* a vaulted message must not go out as it came */
        mk_log(LOG_ERR, qid, "the MTA does not let the milter replace the body: not sent");
        return mk_mta_eom_fail(ctx, &out);
    }
    for (size_t i = 0; i < out.n_edits; i++) {
        const mk_edit *e = &out.edits[i];
        int rc;
        if (e->op == MK_EDIT_DELETE) {
            rc = smfi_chgheader(ctx, (char *)e->name, e->index, NULL);
        } else if (c->leadspc) {
            /* With SMFIP_HDR_LEADSPC the MTA takes values verbatim: the
             * space after the colon is ours to give. */
            char *v = malloc(strlen(e->value) + 2);
            if (v == NULL)
                return mk_mta_eom_fail(ctx, &out);
            v[0] = ' ';
            strcpy(v + 1, e->value);
            rc = smfi_insheader(ctx, 0, (char *)e->name, v);
            free(v);
        } else {
            rc = smfi_insheader(ctx, 0, (char *)e->name, (char *)e->value);
        }
        if (rc != MI_SUCCESS) {
            mk_log(LOG_ERR, qid, "MTA refused to %s header %s",
                   e->op == MK_EDIT_DELETE ? "delete" : "add", e->name);
            return mk_mta_eom_fail(ctx, &out);
        }
    }
    if (out.body != NULL &&
        smfi_replacebody(ctx, (unsigned char *)out.body, (int)out.body_len) != MI_SUCCESS) {
        mk_log(LOG_ERR, qid, "MTA refused the new body");
        return mk_mta_eom_fail(ctx, &out);
    }
    switch (out.action) {
    case MK_ACTION_REJECT:
    case MK_ACTION_TEMPFAIL:
        return mk_mta_refuse(ctx, qid, &out);
    case MK_ACTION_ACCEPT:
    case MK_ACTION_ADD_HEADER:
        if (out.hold != NULL && smfi_quarantine(ctx, (char *)out.hold) != MI_SUCCESS)
            mk_log(LOG_WARNING, qid, "MTA refused to hold the message (%s); delivered", out.hold);
        break;
    }
    return SMFIS_CONTINUE;
}

static sfsistat mk_mta_abort(SMFICTX *ctx)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c != NULL) {
        c->msg_failed = 0;
        if (c->pipe != NULL)
            mk_pipe_abort(c->pipe);
    }
    return SMFIS_CONTINUE;
}

static sfsistat mk_mta_close(SMFICTX *ctx)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c != NULL) {
        mk_pipe_close(c->pipe);
        free(c);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

static sfsistat mk_mta_unknown(SMFICTX *ctx, const char *cmd)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    return c != NULL && (c->noreply & SMFIP_NR_UNKN) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat mk_mta_data(SMFICTX *ctx)
{
    mk_mta_conn *c = smfi_getpriv(ctx);
    if (c == NULL)
        return mk_mta_fail(ctx);
    mk_mta_qid(ctx, c); /* Postfix knows the queue ID from DATA on */
    return (c->noreply & SMFIP_NR_DATA) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

int mk_mta_open(const mk_app *app, const char *socket, char *err, size_t errlen)
{
    struct smfiDesc desc = {
        /* smfi_register() takes a copy */
        .xxfi_name = "mailkeeper",
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_CHGBODY,
        .xxfi_connect = mk_mta_connect,
        .xxfi_helo = mk_mta_helo,
        .xxfi_envfrom = mk_mta_envfrom,
        .xxfi_envrcpt = mk_mta_envrcpt,
        .xxfi_header = mk_mta_header,
        .xxfi_eoh = mk_mta_eoh,
        .xxfi_body = mk_mta_body,
        .xxfi_eom = mk_mta_eom,
        .xxfi_abort = mk_mta_abort,
        .xxfi_close = mk_mta_close,
        .xxfi_unknown = mk_mta_unknown,
        .xxfi_data = mk_mta_data,
        .xxfi_negotiate = mk_mta_negotiate,
    };
    mk_mta_app = app;
    if (smfi_setconn((char *)socket) == MI_FAILURE) {
        snprintf(err, errlen, "socket %s: not understood by libmilter", socket);
        return -1;
    }
    if (smfi_register(desc) == MI_FAILURE) {
        snprintf(err, errlen, "libmilter refused to register the filter");
        return -1;
    }
    if (smfi_opensocket(1) == MI_FAILURE) {
        snprintf(err, errlen, "cannot open socket %s (in use, or no permission?)", socket);
        return -1;
    }
    return 0;
}

int mk_mta_run(void)
{
    return smfi_main() == MI_SUCCESS ? 0 : -1;
}
