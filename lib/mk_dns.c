/*
 * mk_dns: c-ares channel per connection, driven with poll(2) by the thread
 * that owns the connection, so no locking and no resolver thread.
 */
#include "config.h"

#include "mk_dns.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct mk_dns {
    ares_channel channel;
    size_t pending;
    size_t asked; /* queries started, for statistics */
};

struct mk_dns_query {
    mk_dns *dns;
    int type;
    mk_dns_cb cb;
    void *arg;
};

int mk_dns_library_init(void)
{
    return ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS ? 0 : -1;
}

void mk_dns_library_cleanup(void)
{
    ares_library_cleanup();
}

mk_dns *mk_dns_new(const char *servers_csv, int try_ms, char *err, size_t errlen)
{
    mk_dns *dns = calloc(1, sizeof(*dns));
    if (dns == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct ares_options opts;
    memset(&opts, 0, sizeof(opts));
    opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    opts.timeout = try_ms > 0 ? try_ms : 1000;
    opts.tries = 2;
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    int rc = ares_init_options(&dns->channel, &opts, mask);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        free(dns);
        return NULL;
    }
    if (servers_csv != NULL && servers_csv[0] != '\0') {
        rc = ares_set_servers_ports_csv(dns->channel, servers_csv);
        if (rc != ARES_SUCCESS) {
            snprintf(err, errlen, "c-ares: servers '%s': %s", servers_csv, ares_strerror(rc));
            ares_destroy(dns->channel);
            free(dns);
            return NULL;
        }
    }
    return dns;
}

void mk_dns_free(mk_dns *dns)
{
    if (dns == NULL)
        return;
    ares_destroy(dns->channel); /* runs pending callbacks with ARES_EDESTRUCTION */
    free(dns);
}

static mk_dns_status mk_dns_status_of(int rc)
{
    switch (rc) {
    case ARES_SUCCESS:
        return MK_DNS_OK;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
        return MK_DNS_NOTFOUND;
    default:
        return MK_DNS_TEMPERROR;
    }
}

static void mk_dns_parse_addrs(int type, unsigned char *abuf, int alen, mk_dns_answer *ans)
{
    if (type == MK_DNS_A) {
        struct ares_addrttl ttls[MK_DNS_MAX_ADDRS];
        int n = MK_DNS_MAX_ADDRS;
        int rc = ares_parse_a_reply(abuf, alen, NULL, ttls, &n);
        if (rc != ARES_SUCCESS) {
            ans->status = mk_dns_status_of(rc);
            ans->error = ares_strerror(rc);
            return;
        }
        for (int i = 0; i < n; i++) {
            mk_addr *a = &ans->addrs[ans->n_addrs++];
            memset(a, 0, sizeof(*a));
            a->family = AF_INET;
            memcpy(a->bytes, &ttls[i].ipaddr, 4);
        }
    } else {
        struct ares_addr6ttl ttls[MK_DNS_MAX_ADDRS];
        int n = MK_DNS_MAX_ADDRS;
        int rc = ares_parse_aaaa_reply(abuf, alen, NULL, ttls, &n);
        if (rc != ARES_SUCCESS) {
            ans->status = mk_dns_status_of(rc);
            ans->error = ares_strerror(rc);
            return;
        }
        for (int i = 0; i < n; i++) {
            mk_addr *a = &ans->addrs[ans->n_addrs++];
            memset(a, 0, sizeof(*a));
            a->family = AF_INET6;
            memcpy(a->bytes, &ttls[i].ip6addr, 16);
        }
    }
    if (ans->n_addrs == 0) {
        ans->status = MK_DNS_NOTFOUND;
        ans->error = "no address in answer";
    }
}

/* Joins each TXT record's strings into one buffer slot. */
static void mk_dns_parse_txt(unsigned char *abuf, int alen, mk_dns_answer *ans, char *buf,
                             size_t buflen)
{
    struct ares_txt_ext *txt = NULL;
    int rc = ares_parse_txt_reply_ext(abuf, alen, &txt);
    if (rc != ARES_SUCCESS) {
        ans->status = mk_dns_status_of(rc);
        ans->error = ares_strerror(rc);
        return;
    }
    size_t o = 0;
    for (struct ares_txt_ext *t = txt; t != NULL; t = t->next) {
        if (t->record_start) {
            if (ans->n_txt == MK_DNS_MAX_TXT || o + 1 >= buflen)
                break;
            if (o > 0)
                buf[o++] = '\0';
            ans->txt[ans->n_txt++] = buf + o;
        }
        if (ans->n_txt == 0)
            continue;
        size_t n = t->length;
        if (n > buflen - o - 1)
            n = buflen - o - 1;
        memcpy(buf + o, t->txt, n);
        for (size_t i = o; i < o + n; i++)
            if (buf[i] == '\0')
                buf[i] = MK_DNS_TXT_NUL;
        o += n;
    }
    buf[o] = '\0';
    ares_free_data(txt);
    if (ans->n_txt == 0) {
        ans->status = MK_DNS_NOTFOUND;
        ans->error = "no TXT record in answer";
    }
}

/* MX exchanges in order of preference, or PTR names, into buf. */
static void mk_dns_parse_names(int type, unsigned char *abuf, int alen, mk_dns_answer *ans,
                               char *buf, size_t buflen)
{
    size_t o = 0;
    int rc;
    if (type == MK_DNS_MX) {
        struct ares_mx_reply *mx = NULL;
        rc = ares_parse_mx_reply(abuf, alen, &mx);
        if (rc == ARES_SUCCESS) {
            /* a few records: pick them out by preference, lowest first */
            for (int pass = 0; pass < 65536 && ans->n_names < MK_DNS_MAX_NAMES; pass++) {
                int next = 65536;
                for (struct ares_mx_reply *m = mx; m != NULL; m = m->next) {
                    if (m->priority == pass && ans->n_names < MK_DNS_MAX_NAMES &&
                        o + strlen(m->host) + 1 <= buflen) {
                        ans->names[ans->n_names++] = buf + o;
                        memcpy(buf + o, m->host, strlen(m->host) + 1);
                        o += strlen(m->host) + 1;
                    }
                    if (m->priority > pass && m->priority < next)
                        next = m->priority;
                }
                if (next == 65536)
                    break;
                pass = next - 1;
            }
            ares_free_data(mx);
        }
    } else {
        struct hostent *he = NULL;
        rc = ares_parse_ptr_reply(abuf, alen, NULL, 0, AF_INET, &he);
        if (rc == ARES_SUCCESS) {
            if (he->h_name != NULL && o + strlen(he->h_name) + 1 <= buflen) {
                ans->names[ans->n_names++] = buf + o;
                memcpy(buf + o, he->h_name, strlen(he->h_name) + 1);
                o += strlen(he->h_name) + 1;
            }
            for (char **al = he->h_aliases; al != NULL && *al != NULL; al++) {
                if (ans->n_names == MK_DNS_MAX_NAMES || o + strlen(*al) + 1 > buflen)
                    break;
                ans->names[ans->n_names++] = buf + o;
                memcpy(buf + o, *al, strlen(*al) + 1);
                o += strlen(*al) + 1;
            }
            ares_free_hostent(he);
        }
    }
    if (rc != ARES_SUCCESS) {
        ans->status = mk_dns_status_of(rc);
        ans->error = ares_strerror(rc);
    } else if (ans->n_names == 0) {
        ans->status = MK_DNS_NOTFOUND;
        ans->error = "no name in answer";
    }
}

static void mk_dns_on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct mk_dns_query *q = arg;
    mk_dns_answer ans;
    char txtbuf[16384];
    memset(&ans, 0, sizeof(ans));
    ans.status = mk_dns_status_of(status);
    ans.nxdomain = status == ARES_ENOTFOUND;
    ans.raw = abuf;
    ans.raw_len = abuf != NULL && alen > 0 ? (size_t)alen : 0;
    if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION)
        ans.error = "DNS deadline reached";
    else if (status != ARES_SUCCESS)
        ans.error = ares_strerror(status);
    else if (q->type == MK_DNS_TXT)
        mk_dns_parse_txt(abuf, alen, &ans, txtbuf, sizeof(txtbuf));
    else if (q->type == MK_DNS_MX || q->type == MK_DNS_PTR)
        mk_dns_parse_names(q->type, abuf, alen, &ans, txtbuf, sizeof(txtbuf));
    else
        mk_dns_parse_addrs(q->type, abuf, alen, &ans);
    q->dns->pending--;
    q->cb(q->arg, &ans);
    free(q);
}

void mk_dns_query(mk_dns *dns, const char *name, int type, mk_dns_cb cb, void *arg)
{
    struct mk_dns_query *q = malloc(sizeof(*q));
    if (q == NULL) {
        mk_dns_answer ans;
        memset(&ans, 0, sizeof(ans));
        ans.status = MK_DNS_TEMPERROR;
        ans.error = "out of memory";
        cb(arg, &ans);
        return;
    }
    q->dns = dns;
    q->type = type;
    q->cb = cb;
    q->arg = arg;
    dns->pending++;
    dns->asked++;
    ares_query(dns->channel, name, C_IN, type, mk_dns_on_reply, q);
}

size_t mk_dns_pending(const mk_dns *dns)
{
    return dns->pending;
}

size_t mk_dns_asked(const mk_dns *dns)
{
    return dns->asked;
}

static long mk_dns_ms_until(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms;
}

struct timespec mk_dns_deadline_in(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

/* One round of work: waits for the sockets (at most until the deadline
 * or c-ares' next timeout) and processes what is ready. -1 at the deadline. */
static int mk_dns_step(mk_dns *dns, const struct timespec *deadline)
{
    long left = mk_dns_ms_until(deadline);
    if (left <= 0)
        return -1;
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    struct pollfd pfd[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(dns->channel, socks, ARES_GETSOCK_MAXNUM);
    nfds_t n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
        short ev = 0;
        /* c-ares' own macros shift a signed 1 into the sign bit */
        if ((unsigned)bits & (1u << i))
            ev |= POLLIN;
        if ((unsigned)bits & (1u << (i + ARES_GETSOCK_MAXNUM)))
            ev |= POLLOUT;
        if (ev == 0)
            continue;
        pfd[n].fd = socks[i];
        pfd[n].events = ev;
        pfd[n].revents = 0;
        n++;
    }
    struct timeval maxtv = {left / 1000, (left % 1000) * 1000}, tv;
    struct timeval *tvp = ares_timeout(dns->channel, &maxtv, &tv);
    int ms = (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
    int rc = poll(pfd, n, ms);
    if (rc < 0 && errno != EINTR)
        return -1;
    if (rc <= 0) {
        ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
        return 0;
    }
    for (nfds_t i = 0; i < n; i++) {
        if (pfd[i].revents == 0)
            continue;
        ares_socket_t r =
            (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd : ARES_SOCKET_BAD;
        ares_socket_t w = (pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD;
        ares_process_fd(dns->channel, r, w);
    }
    return 0;
}

void mk_dns_wait(mk_dns *dns, const struct timespec *deadline)
{
    while (dns->pending > 0 && mk_dns_step(dns, deadline) == 0)
        ;
    if (dns->pending > 0)
        ares_cancel(dns->channel);
}

int mk_dns_wait_for(mk_dns *dns, const int *done, const struct timespec *deadline)
{
    while (!*done && dns->pending > 0 && mk_dns_step(dns, deadline) == 0)
        ;
    return *done ? 0 : -1;
}
