/*
 * mk_lists: friend and block lists in the learning store (see mk_lists.h).
 * One table, lists(uid, entry, kind, source, time), keyed by scope (the
 * store's user number) and entry; a lookup reads every candidate row in
 * one query and picks the one that decides.
 */
#include "config.h"

#include "mk_lists.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mk_domain.h"
#include "mk_log.h"

const char *mk_list_kind_name(mk_list_kind kind)
{
    return kind == MK_LIST_FRIEND ? "friend" : kind == MK_LIST_BLOCK ? "block" : "none";
}

mk_list_kind mk_list_kind_parse(const char *name)
{
    if (g_ascii_strcasecmp(name, "friend") == 0)
        return MK_LIST_FRIEND;
    if (g_ascii_strcasecmp(name, "block") == 0)
        return MK_LIST_BLOCK;
    return MK_LIST_NONE;
}

/* "@" and the normalized domain d (len bytes); NULL with why. */
static char *mk_lists_domain(const char *d, size_t len, char *err, size_t errlen)
{
    char out[MK_DOMAIN_MAX];
    if (len == 0 || mk_domain_normalize(d, len, out, sizeof(out)) != 0 ||
        strchr(out, '.') == NULL) {
        snprintf(err, errlen, "'%.*s' is not a domain name", (int)MIN(len, 200), d);
        return NULL;
    }
    return g_strconcat("@", out, NULL);
}

char *mk_lists_entry(const char *text, char *err, size_t errlen)
{
    char *t = g_strstrip(g_strdup(text != NULL ? text : ""));
    char *out = NULL;
    const char *at = strrchr(t, '@');
    if (*t == '<' && t[strlen(t) - 1] == '>') { /* <addr> */
        t[strlen(t) - 1] = '\0';
        memmove(t, t + 1, strlen(t));
        at = strrchr(t, '@');
    }
    if (at == NULL) {
        snprintf(err, errlen, "'%s' is neither an address (user@domain) nor a domain (@domain)", t);
    } else if (at == t || (at == t + 1 && t[0] == '*')) { /* @domain, *@domain */
        out = mk_lists_domain(at + 1, strlen(at + 1), err, errlen);
    } else {
        int ok = 1;
        for (const char *p = t; p < at && ok; p++)
            ok = (unsigned char)*p > 0x20 && *p != 0x7f && *p != '<' && *p != '>' && *p != '@';
        char *dom = ok ? mk_lists_domain(at + 1, strlen(at + 1), err, errlen) : NULL;
        if (!ok)
            snprintf(err, errlen,
                     "'%s' is not an address: its local part holds a space, a "
                     "control character or an angle bracket",
                     t);
        if (dom != NULL) {
            char *local = g_utf8_validate(t, at - t, NULL) ? g_utf8_strdown(t, at - t)
                                                           : g_ascii_strdown(t, at - t);
            out = g_strconcat(local, dom, NULL);
            g_free(local);
            g_free(dom);
        }
    }
    g_free(t);
    return out;
}

char *mk_lists_scope(const char *text, char *err, size_t errlen)
{
    char *t = g_strstrip(g_strdup(text != NULL ? text : ""));
    if (*t == '\0' || strchr(t, '@') != NULL) {
        char *out = *t == '\0' ? g_strdup("") : mk_lists_entry(t, err, errlen);
        g_free(t);
        return out;
    }
    for (const char *p = t; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '/') {
            snprintf(err, errlen, "the user name '%s' holds a space, a control character or '/'",
                     t);
            g_free(t);
            return NULL;
        }
    if (!g_utf8_validate(t, -1, NULL)) {
        snprintf(err, errlen, "the user name is not UTF-8");
        g_free(t);
        return NULL;
    }
    return t;
}

static int mk_lists_fail(mk_bayes_db *db, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", sqlite3_errmsg(mk_bayes_db_handle(db)));
    return -1;
}

int mk_lists_set(mk_bayes_db *db, const char *scope, const char *entry, mk_list_kind kind,
                 const char *source, time_t now, char *err, size_t errlen)
{
    sqlite3 *s = mk_bayes_db_handle(db);
    sqlite3_int64 uid = mk_bayes_uid(db, scope, kind != MK_LIST_NONE);
    if (uid < 0 && kind == MK_LIST_NONE)
        return 0; /* an unknown scope lists nothing */
    if (uid < 0)
        return mk_lists_fail(db, err, errlen);
    const char *sql = kind == MK_LIST_NONE
                          ? "DELETE FROM lists WHERE uid = ?1 AND entry = ?2"
                          : "INSERT INTO lists VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(uid, entry) "
                            "DO UPDATE SET kind = ?3, source = ?4, time = ?5 WHERE kind != ?3";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) != SQLITE_OK)
        return mk_lists_fail(db, err, errlen);
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_text(st, 2, entry, -1, SQLITE_STATIC);
    if (kind != MK_LIST_NONE) {
        sqlite3_bind_int(st, 3, (int)kind);
        sqlite3_bind_text(st, 4, source != NULL ? source : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return mk_lists_fail(db, err, errlen);
    return sqlite3_changes(s) > 0;
}

mk_list_kind mk_lists_lookup(mk_bayes_db *db, const char *user, const char *sender, char *matched,
                             size_t mlen)
{
    if (matched != NULL && mlen > 0)
        matched[0] = '\0';
    char err[256];
    char *who = mk_lists_scope(user, err, sizeof(err));
    char *from = mk_lists_entry(sender, err, sizeof(err));
    mk_list_kind kind = MK_LIST_NONE;
    if (who == NULL || from == NULL || from[0] == '@')
        goto out;
    /* the scopes, best first: the user, the user's domain, everyone */
    const char *scopes[3] = {who, NULL, ""};
    const char *at = strrchr(who, '@');
    if (at != NULL && at != who)
        scopes[1] = at;
    /* the entries, best first: the address, its domain, the parents */
    GPtrArray *entries = g_ptr_array_new();
    g_ptr_array_add(entries, from);
    for (const char *d = strrchr(from, '@'); d != NULL; d = strchr(d + 1, '.')) {
        if (d[0] == '@')
            g_ptr_array_add(entries, g_strdup(d));
        else if (strchr(d + 1, '.') != NULL)
            g_ptr_array_add(entries, g_strconcat("@", d + 1, NULL));
    }
    /* the first listed, in that order, is the answer (point reads in one
     * read transaction) */
    size_t s, e;
    int found = mk_bayes_db_list_find(db, scopes, 3, (const char *const *)entries->pdata,
                                      entries->len, &s, &e);
    if (found >= 0 && matched != NULL)
        snprintf(matched, mlen, "%s %s", scopes[s][0] ? scopes[s] : "(everyone)",
                 (const char *)entries->pdata[e]);
    if (found >= 0)
        kind = (mk_list_kind)found;
    else if (found == -2)
        mk_log(LOG_ERR, NULL, "lists: %s", sqlite3_errmsg(mk_bayes_db_handle(db)));
    for (guint i = 1; i < entries->len; i++)
        g_free(entries->pdata[i]);
    g_ptr_array_free(entries, TRUE);
out:
    g_free(who);
    g_free(from);
    return kind;
}

int mk_lists_each(mk_bayes_db *db, const char *scope,
                  void (*fn)(void *data, const char *entry, mk_list_kind kind, const char *source,
                             time_t time),
                  void *data)
{
    sqlite3_int64 uid = mk_bayes_uid(db, scope, 0);
    if (uid < 0)
        return 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(mk_bayes_db_handle(db),
                           "SELECT entry, kind, source, time FROM lists WHERE uid = ?1 "
                           "ORDER BY entry",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, uid);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(data, (const char *)sqlite3_column_text(st, 0), (mk_list_kind)sqlite3_column_int(st, 1),
           (const char *)sqlite3_column_text(st, 2), (time_t)sqlite3_column_int64(st, 3));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

char *mk_lists_header_addr(const mk_msg *msg, const char *name)
{
    const char *value = g_mime_object_get_header(GMIME_OBJECT(msg->mime), name);
    if (value == NULL)
        return NULL;
    InternetAddressList *list = internet_address_list_parse(NULL, value);
    char *addr = NULL;
    for (int i = 0; list != NULL && i < internet_address_list_length(list) && addr == NULL; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        const char *a = INTERNET_ADDRESS_IS_MAILBOX(ia)
                            ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia))
                            : NULL;
        if (a != NULL && a[0] != '\0')
            addr = g_strdup(a);
    }
    if (list != NULL)
        g_object_unref(list);
    return addr;
}

char *mk_lists_user_of_rcpt(const char *rcpt, const char *delims)
{
    const char *at = strrchr(rcpt, '@');
    size_t cut = delims != NULL && *delims != '\0' && at != NULL ? strcspn(rcpt, delims) : 0;
    char err[256];
    if (at == NULL || cut == 0 || rcpt + cut >= at)
        return mk_lists_scope(rcpt, err, sizeof(err));
    char *untagged = g_strdup_printf("%.*s%s", (int)cut, rcpt, at);
    char *user = mk_lists_scope(untagged, err, sizeof(err));
    g_free(untagged);
    return user;
}

/* The milter's reader: one connection to the store, used under a lock (a
 * lookup is a few indexed reads). Until the store exists, whether it has
 * appeared is looked at once a second at most. */
struct mk_lists_reader {
    char *path;
    pthread_mutex_t lock;
    mk_bayes_db *db; /* NULL until the store exists */
    time_t tried;    /* when opening it was last tried */
};

mk_lists_reader *mk_lists_reader_new(const mk_config *cfg)
{
    mk_lists_reader *r = g_new0(mk_lists_reader, 1);
    r->path = mk_bayes_db_path(cfg);
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void mk_lists_reader_free(mk_lists_reader *r)
{
    if (r == NULL)
        return;
    mk_bayes_db_close(r->db);
    pthread_mutex_destroy(&r->lock);
    g_free(r->path);
    g_free(r);
}

mk_list_kind mk_lists_reader_lookup(mk_lists_reader *r, const char *user, const char *sender,
                                    char *matched, size_t mlen)
{
    mk_list_kind kind = MK_LIST_NONE;
    if (matched != NULL && mlen > 0)
        matched[0] = '\0';
    pthread_mutex_lock(&r->lock);
    time_t now = time(NULL);
    if (r->db == NULL && now != r->tried) {
        r->tried = now;
        char err[256];
        if (access(r->path, F_OK) == 0 &&
            (r->db = mk_bayes_db_open(r->path, 0, err, sizeof(err))) == NULL)
            mk_log(LOG_WARNING, NULL, "lists: %s", err);
    }
    if (r->db != NULL)
        kind = mk_lists_lookup(r->db, user, sender, matched, mlen);
    pthread_mutex_unlock(&r->lock);
    return kind;
}
