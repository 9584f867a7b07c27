/*
 * NAME
 *   mailkeeper-webvault - the HTTPS reader of the secure vault
 *
 * SYNOPSIS
 *   mailkeeper-webvault [-c CONF] [-n]
 *
 * DESCRIPTION
 *   Serves the links of the notifications that replace vaulted messages
 *   (see mailkeeper-vault(1)): HTTPS only (TLS 1.2 and 1.3, forward-secret
 *   AEAD ciphers), on [webvault] listen, with the certificate and key of
 *   [webvault] cert_file and key_file. It reads them and binds as root,
 *   then runs as [general] user. A reader gives their address; a recipient
 *   of the message gets a one-time code by mail ([webvault] sendmail); the
 *   right code starts a session (a __Host- cookie, Secure, HttpOnly,
 *   SameSite=Strict, bound to the message, with idle and absolute limits
 *   kept on the server); then the message, its attachments as downloads,
 *   its HTML in a sandboxed frame, and a form to reply to the sender.
 *   Runs in the foreground and logs to syslog and standard error; SIGTERM
 *   or SIGINT stops it. -n checks the configuration, the certificate and
 *   the key, and exits.
 *
 * EXIT STATUS
 *   0 when stopped by a signal; 64-78 (sysexits) on usage, configuration,
 *   TLS or socket errors.
 */
#include "config.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <getopt.h>
#include <gmime/gmime.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "mk_daemon.h"
#include "mk_log.h"
#include "mk_web.h"

/* The longest request body: a reply with attachments. */
#define MK_WEB_MAX_BODY (12u << 20)
/* A connection quiet this long is closed (a slow client holds one socket
 * and nothing else: every connection is an event, none a thread). */
#define MK_WEB_TIMEOUT_S 15

/* OpenSSL's report on a connection: a handshake that failed (garbage, an
 * old protocol, no common cipher) gets a log line with the client's
 * address and OpenSSL's reason; nothing of the content. */
static void mk_web_tls_info(const SSL *ssl, int where, int ret)
{
    if (!((where & SSL_CB_ACCEPT_EXIT) && ret == 0) &&
        !((where & SSL_CB_ALERT) && (where & SSL_CB_WRITE)))
        return;
    char client[INET6_ADDRSTRLEN] = "unknown";
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = SSL_get_fd(ssl);
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        getnameinfo((struct sockaddr *)&ss, len, client, sizeof(client), NULL, 0, NI_NUMERICHOST);
    if (where & SSL_CB_ALERT)
        mk_log(LOG_NOTICE, NULL, "TLS: alert sent to client %s: %s", client,
               SSL_alert_desc_string_long(ret));
    else
        mk_log(LOG_NOTICE, NULL, "TLS: a handshake with client %s failed", client);
}

/* The TLS context of the configuration; NULL with why. */
static SSL_CTX *mk_web_tls(const mk_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "TLS: cannot make a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* TLS 1.2: forward-secret AEAD suites only; TLS 1.3: OpenSSL's own */
    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
    SSL_CTX_set_info_callback(ctx, mk_web_tls_info);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->webvault_cert_file) != 1) {
        snprintf(err, errlen, "%s: [webvault] cert_file %s: %s", cfg->path, cfg->webvault_cert_file,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->webvault_key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "%s: [webvault] key_file %s: %s", cfg->path, cfg->webvault_key_file,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* evhttp's maker of each connection's bufferevent: a TLS one. */
static struct bufferevent *mk_web_bev(struct event_base *base, void *arg)
{
    SSL *ssl = SSL_new(arg);
    if (ssl == NULL)
        return NULL;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

/* Every minute: the pages kept past their time go; every hour the vault
 * purges the messages that expired (what mailkeeper-vault purge does). */
static void mk_web_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mk_web *w = arg;
    gint64 now = (gint64)time(NULL);
    mk_web_pages_prune(w->pages, now);
    if (now - w->purged < 3600)
        return;
    w->purged = now;
    size_t n = 0;
    char err[512];
    if (mk_vault_purge(w->vault, now, &n, err, sizeof(err)) != 0)
        mk_log(LOG_ERR, NULL, "purge: %s", err);
    else if (n > 0)
        mk_log(LOG_INFO, NULL, "purge: %zu expired message(s) deleted", n);
}

static void mk_web_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    mk_log(LOG_INFO, NULL, "signal %d: stopping", (int)sig);
    event_base_loopexit(arg, NULL);
}

/* Binds "ADDRESS:PORT" ("[v6]:PORT" too); the socket, or -1 with why. */
static evutil_socket_t mk_web_listen(const char *listen_on, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    if (evutil_parse_sockaddr_port(listen_on, (struct sockaddr *)&ss, &sslen) != 0) {
        snprintf(err, errlen, "[webvault] listen: '%s' is not ADDRESS:PORT", listen_on);
        return -1;
    }
    evutil_socket_t fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    /* TCP_NODELAY, which accepted sockets inherit: a response goes out as
     * TLS records of its head and its body, and the second must not wait
     * for the first's acknowledgement (40 ms, with delayed ACKs) */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) != 0 || listen(fd, 512) != 0) {
        snprintf(err, errlen, "[webvault] listen %s: %s", listen_on, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int check = 0, c;
    while ((c = getopt_long(argc, argv, "c:nh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'n':
            check = 1;
            break;
        case 'h':
            printf("usage: " MK_WEB_PROG " [-c CONF] [-n]\n");
            return EX_OK;
        default:
            fprintf(stderr, "usage: " MK_WEB_PROG " [-c CONF] [-n]\n");
            return EX_USAGE;
        }
    }
    mk_config *cfg = mk_config_load_tool(MK_WEB_PROG, config_path);
    if (cfg == NULL)
        return EX_CONFIG;
    mk_log_open(MK_WEB_PROG, 1, cfg->log_level);
    char err[1024];
    SSL_CTX *tls = mk_web_tls(cfg, err, sizeof(err));
    if (tls == NULL) {
        mk_log(LOG_ERR, NULL, "%s", err);
        mk_config_free(cfg);
        return EX_CONFIG;
    }
    if (check) {
        printf("%s: configuration, certificate and key are fine\n", cfg->path);
        SSL_CTX_free(tls);
        mk_config_free(cfg);
        return EX_OK;
    }
    uid_t uid;
    gid_t gid;
    int root;
    if (mk_daemon_prepare(cfg->user, cfg->path, &root, &uid, &gid) != 0)
        return EX_CONFIG;
    evutil_socket_t fd = mk_web_listen(cfg->webvault_listen, err, sizeof(err));
    if (fd < 0) {
        mk_log(LOG_ERR, NULL, "%s", err);
        return EX_UNAVAILABLE;
    }
    if (root && mk_daemon_drop_root(cfg->user, uid, gid, err, sizeof(err)) != 0) {
        mk_log(LOG_ERR, NULL, "%s", err);
        return EX_NOPERM;
    }
    signal(SIGPIPE, SIG_IGN);
    g_mime_init();
    mk_web w = {.cfg = cfg,
                .pol = {.code_ttl_s = (int)(cfg->webvault_code_ttl_ms / 1000),
                        .max_fails = (int)cfg->webvault_max_fails,
                        .lockout_s = (int)(cfg->webvault_lockout_ms / 1000),
                        .idle_s = (int)(cfg->webvault_session_idle_ms / 1000),
                        .absolute_s = (int)(cfg->webvault_session_max_ms / 1000)},
                .clients = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                .pages = mk_web_pages_new()};
    w.vault = mk_vault_open_config(cfg, 0, err, sizeof(err));
    if (w.vault == NULL) {
        mk_log(LOG_ERR, NULL, "%s: [vault]: %s", cfg->path, err);
        return EX_NOINPUT;
    }
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_bevcb(http, mk_web_bev, tls);
    evhttp_set_gencb(http, mk_web_route, &w);
    evhttp_set_timeout(http, MK_WEB_TIMEOUT_S);
    evhttp_set_max_body_size(http, MK_WEB_MAX_BODY);
    evhttp_set_max_headers_size(http, 16384);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
    if (evhttp_accept_socket(http, fd) != 0) {
        mk_log(LOG_ERR, NULL, "[webvault] listen %s: evhttp does not take it",
               cfg->webvault_listen);
        return EX_SOFTWARE;
    }
    struct event *sigterm = evsignal_new(base, SIGTERM, mk_web_stop, base);
    struct event *sigint = evsignal_new(base, SIGINT, mk_web_stop, base);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    struct event *tick = event_new(base, -1, EV_PERSIST, mk_web_tick, &w);
    struct timeval minute = {.tv_sec = 60};
    event_add(tick, &minute);
    mk_log(LOG_INFO, NULL, "serving https on %s", cfg->webvault_listen);
    event_base_dispatch(base);
    event_free(tick);
    event_free(sigterm);
    event_free(sigint);
    evhttp_free(http);
    event_base_free(base);
    mk_vault_close(w.vault);
    g_hash_table_destroy(w.clients);
    g_hash_table_destroy(w.pages);
    SSL_CTX_free(tls);
    g_mime_shutdown();
    mk_config_free(cfg);
    return EX_OK;
}
