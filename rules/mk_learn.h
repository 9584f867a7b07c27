/*
 * mk_learn: learns messages into the Bayes stores and puts their senders
 * on a user's lists; the engine of mailkeeper-learn, of its one-event path
 * (a message from Dovecot's sieve pipe) and of its resident server
 * (mailkeeper-learn --serve, reached through mailkeeper-learnc).
 */
#ifndef MK_LEARN_H
#define MK_LEARN_H

#include <glib.h>
#include <libpsl.h>
#include <stddef.h>

#include "mk_bayes.h"
#include "mk_config.h"

#define MK_LEARN_PROG  "mailkeeper-learn"
#define MK_LEARN_BATCH 500 /* messages per transaction in bulk */
/* single learns look at expiry once per this many messages */
#define MK_LEARN_EXPIRE_EVERY 100
/* how long a single learn waits for a busy store before it spools */
#define MK_LEARN_BUSY_MS 2000

/* Which stores a user's learning trains ([bayes] learn_to, --global). */
enum { MK_LEARN_USER = 1, MK_LEARN_GLOBAL = 2, MK_LEARN_BOTH = 3 };

/* One run of learning; the caller owns cfg, db and psl. Zero it, then set
 * cfg, db, psl, cls and the stores (mk_learn_stores). */
typedef struct mk_learn {
    const mk_config *cfg;
    mk_bayes_db *db;
    const psl_ctx_t *psl;
    int cls;              /* MK_BAYES_SPAM, MK_BAYES_HAM or MK_BAYES_FORGET */
    const char *users[2]; /* the stores that learn: a user's, "" global */
    size_t n_users;
    int tokens_only;  /* print each message's tokens, learn nothing */
    size_t in_batch;  /* messages learned in the open transaction */
    size_t counts[5]; /* per mk_bayes_outcome */
    size_t unreadable, messages;
    int failed;             /* a store error: stop */
    int keep_errors;        /* store errors go to error (the caller may spool), not said */
    char error[512];        /* the last store error */
    const char *list_scope; /* --user: whose lists the senders go on; NULL: none */
    size_t listed, unlisted;
    GString *notes; /* what the user is told; NULL: stderr */
} mk_learn;

/* The names of the classes, by cls + 1: "forget", "ham", "spam". */
extern const char *const mk_learn_cls_names[3];

/* Tells the user (l->notes, or stderr) a line: "mailkeeper-learn: ...". */
void mk_learn_say(mk_learn *l, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* mk_mailsrc's callback: learns one message (data: the mk_learn); stops
 * after a store error. Opens a transaction when none is; commits every
 * MK_LEARN_BATCH messages. */
int mk_learn_each(void *data, const char *msg, size_t len, const char *what);
/* Prints on stdout what one store holds. */
void mk_learn_print_stats(mk_bayes_db *db, const char *user);
/* Sets the stores that learn: user's (normalized; "" is the global store)
 * and/or the global one, per stores (MK_LEARN_*). */
void mk_learn_stores(mk_learn *l, const char *user, int stores);
/* The stores a user's single learn trains: [bayes] learn_to, or both with
 * --global (global set). */
int mk_learn_store_choice(const mk_config *cfg, int global);
/* Keeps the event of user (normalized; "" global) for stores in
 * state_dir/spool, to be learned later; 0 or -1. l->error says why the
 * store did not take it (busy, or worse). */
int mk_learn_spool(mk_learn *l, const char *user, int stores, const char *msg, size_t len);
/* Learns what the spool holds, each event in its own transaction; 0 when
 * it is empty at the end, 1 when the store is still busy, -1 when the spool
 * cannot be read. */
int mk_learn_drain(mk_learn *l);
/* Learns one event, a message from a Dovecot pipe, for user (normalized;
 * "" global) into stores, and lists its sender, in one transaction, after
 * what the spool holds; a busy or failing store spools it. l is fresh, with
 * cfg, db (open, writable) and psl set, and cls. The summary lines are
 * appended to out; what went wrong is said (l->notes or stderr). Returns a
 * sysexits status: EX_OK (learned, or spooled), 1 (not a message: nothing
 * learned), EX_TEMPFAIL (neither learned nor kept). */
int mk_learn_event(mk_learn *l, const char *user, int stores, const char *msg, size_t len,
                   GString *out);
/* mailkeeper-learn --serve: listens on [bayes] learn_socket, drops root,
 * learns each event a client sends until SIGTERM or SIGINT
 * (mk_learn_serve.c says how). Returns a sysexits status. */
int mk_learn_serve(const mk_config *cfg, const psl_ctx_t *psl);

#endif
