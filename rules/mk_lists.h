/*
 * mk_lists: friend and block lists, kept in the learning store (the Bayes
 * database's file; see mk_bayes_db), so that learning a message and
 * listing its sender happen in one transaction.
 *
 * A list belongs to a scope: a user (a name as the MTA or Dovecot gives
 * it, e.g. "alice@example.org"), everyone at a domain ("@example.org"), or
 * everyone (""). An entry is a sender's address ("bob@example.com") or a
 * whole domain ("@example.com"), lower-case, the domain in A-labels
 * (IDNA), so that every spelling of a name finds the same entry. An entry
 * is on at most one list of a scope: listing it as friend takes it off the
 * block list, and the other way round.
 *
 * What decides for a sender and a user: the user's own lists before the
 * lists of the user's domain before the global lists; within one scope the
 * address before its domain before the parent domains.
 */
#ifndef MK_LISTS_H
#define MK_LISTS_H

#include <stddef.h>
#include <time.h>

#include "mk_bayes.h"

typedef enum { MK_LIST_NONE = 0, MK_LIST_FRIEND = 1, MK_LIST_BLOCK = 2 } mk_list_kind;

/* "friend", "block", "none". */
const char *mk_list_kind_name(mk_list_kind kind);
/* The kind named ("friend", "block"), or MK_LIST_NONE. */
mk_list_kind mk_list_kind_parse(const char *name);

/* The entry (address or "@domain") text stands for, normalized; NULL with
 * why in err when it is neither. g_free it. */
char *mk_lists_entry(const char *text, char *err, size_t errlen);
/* The scope text names (a user, "@domain", or "" for everyone),
 * normalized as entries are (a user name without '@' is kept as written,
 * less surrounding white space); NULL with why. g_free it. */
char *mk_lists_scope(const char *text, char *err, size_t errlen);

/* The user a recipient address is delivered to, named as scopes are
 * (mk_lists_scope): a tag after one of delims in the local part is left
 * out ("alice+news@example.org" -> "alice@example.org"); NULL when the
 * address is not one. g_free it. */
char *mk_lists_user_of_rcpt(const char *rcpt, const char *delims);

/* Puts entry (normalized) on scope's list of kind, or takes it off every
 * list of scope (MK_LIST_NONE). Inside the caller's transaction if one is
 * open. 1 when something changed, 0 when it was so already, -1 with why. */
int mk_lists_set(mk_bayes_db *db, const char *scope, const char *entry, mk_list_kind kind,
                 const char *source, time_t now, char *err, size_t errlen);

/* What the lists say of sender (an address) for user. matched, when not
 * NULL, receives "SCOPE ENTRY" of the entry that decided. MK_LIST_NONE
 * when no list names the sender (or on error, logged). */
mk_list_kind mk_lists_lookup(mk_bayes_db *db, const char *user, const char *sender, char *matched,
                             size_t mlen);

/* Calls fn with each entry of scope's lists, in order of entry; 0 or -1. */
int mk_lists_each(mk_bayes_db *db, const char *scope,
                  void (*fn)(void *data, const char *entry, mk_list_kind kind, const char *source,
                             time_t time),
                  void *data);

/* The address of the first mailbox in msg's header name ("From",
 * "Return-Path"), or NULL when it names none. g_free it. */
char *mk_lists_header_addr(const mk_msg *msg, const char *name);

/* ---- the milter's view ------------------------------------------------------ */

typedef struct mk_lists_reader mk_lists_reader;

/* The lists of cfg's learning store ([bayes] database) as the milter reads
 * them. A store not made yet is no error: it is opened once it appears.
 * Free with mk_lists_reader_free(). */
mk_lists_reader *mk_lists_reader_new(const mk_config *cfg);
void mk_lists_reader_free(mk_lists_reader *r);

/* mk_lists_lookup() on the reader's store; thread-safe. MK_LIST_NONE while
 * there is no store. */
mk_list_kind mk_lists_reader_lookup(mk_lists_reader *r, const char *user, const char *sender,
                                    char *matched, size_t mlen);

#endif
