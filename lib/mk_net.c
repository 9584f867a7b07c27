/*
 * mk_net: address parsing and matching on top of inet_pton(3).
 */
#include "config.h"

#include "mk_net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static void mk_net_unmap(mk_addr *a)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a->family == AF_INET6 && memcmp(a->bytes, v4mapped, 12) == 0) {
        a->family = AF_INET;
        memmove(a->bytes, a->bytes + 12, 4);
        memset(a->bytes + 4, 0, 12);
    }
}

int mk_net_parse_addr(const char *text, mk_addr *out)
{
    char buf[64];
    if (text == NULL)
        return -1;
    if (strncasecmp(text, "IPv6:", 5) == 0)
        text += 5;
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    /* "[addr]" as MTAs sometimes report it */
    if (text[0] == '[' && text[n - 1] == ']') {
        text++;
        n -= 2;
    }
    memcpy(buf, text, n);
    buf[n] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->bytes) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
        out->family = AF_INET6;
        mk_net_unmap(out);
        return 0;
    }
    return -1;
}

static void mk_net_mask(mk_addr *a, unsigned bits)
{
    unsigned total = a->family == AF_INET ? 32 : 128;
    for (unsigned i = bits; i < total; i++)
        a->bytes[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
}

int mk_net_parse_cidr(const char *text, mk_cidr *out)
{
    char buf[80];
    size_t n = strlen(text);
    if (n >= sizeof(buf))
        return -1;
    memcpy(buf, text, n + 1);
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash != NULL) {
        *slash = '\0';
        char *end;
        errno = 0;
        bits = strtol(slash + 1, &end, 10);
        if (errno != 0 || end == slash + 1 || *end != '\0' || bits < 0)
            return -1;
    }
    int v6_text = strchr(buf, ':') != NULL;
    if (mk_net_parse_addr(buf, &out->addr) != 0)
        return -1;
    unsigned max = out->addr.family == AF_INET ? 32 : 128;
    if (bits < 0)
        bits = max;
    else if (v6_text && out->addr.family == AF_INET) /* ::ffff:a.b.c.d/NN */
        bits -= 96;
    if (bits < 0 || (unsigned long)bits > max)
        return -1;
    out->bits = (unsigned)bits;
    mk_net_mask(&out->addr, out->bits);
    return 0;
}

int mk_net_list_parse(const char *text, mk_netlist *out, char *err, size_t errlen)
{
    mk_netlist list = {NULL, 0};
    const char *p = text;
    while (*p != '\0') {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        const char *s = p;
        while (*p != '\0' && *p != ',' && !isspace((unsigned char)*p))
            p++;
        char item[80];
        size_t n = (size_t)(p - s);
        mk_cidr c;
        if (n >= sizeof(item)) {
            snprintf(err, errlen, "network '%.40s...' is too long", s);
            free(list.nets);
            return -1;
        }
        memcpy(item, s, n);
        item[n] = '\0';
        if (mk_net_parse_cidr(item, &c) != 0) {
            snprintf(err, errlen, "'%s' is not an IP network (ADDR or ADDR/BITS)", item);
            free(list.nets);
            return -1;
        }
        mk_cidr *grown = realloc(list.nets, (list.n + 1) * sizeof(*grown));
        if (grown == NULL) {
            snprintf(err, errlen, "out of memory");
            free(list.nets);
            return -1;
        }
        list.nets = grown;
        list.nets[list.n++] = c;
    }
    free(out->nets);
    *out = list;
    return 0;
}

void mk_net_list_free(mk_netlist *list)
{
    free(list->nets);
    list->nets = NULL;
    list->n = 0;
}

int mk_net_cidr_contains(const mk_cidr *net, const mk_addr *addr)
{
    if (net->addr.family != addr->family)
        return 0;
    mk_addr a = *addr;
    mk_net_mask(&a, net->bits);
    size_t len = addr->family == AF_INET ? 4 : 16;
    return memcmp(a.bytes, net->addr.bytes, len) == 0;
}

int mk_net_list_contains(const mk_netlist *list, const mk_addr *addr)
{
    for (size_t i = 0; i < list->n; i++)
        if (mk_net_cidr_contains(&list->nets[i], addr))
            return 1;
    return 0;
}

int mk_net_is_special(const mk_addr *addr)
{
    static const char *const special[] = {
        "0.0.0.0/8",     "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4",   "240.0.0.0/4", "::/128",
        "::1/128",       "fc00::/7",       "fe80::/10",     "ff00::/8",    "64:ff9b:1::/48",
    };
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        mk_cidr c;
        if (mk_net_parse_cidr(special[i], &c) == 0 && mk_net_cidr_contains(&c, addr))
            return 1;
    }
    return 0;
}

const char *mk_net_addr_str(const mk_addr *addr, char *buf, size_t len)
{
    if (inet_ntop(addr->family, addr->bytes, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
    return buf;
}

const char *mk_net_reverse(const mk_addr *addr, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    buf[0] = '\0';
    if (addr->family == AF_INET) {
        snprintf(buf, len, "%u.%u.%u.%u", addr->bytes[3], addr->bytes[2], addr->bytes[1],
                 addr->bytes[0]);
        return buf;
    }
    if (len < 64)
        return buf;
    for (int i = 15; i >= 0; i--) {
        buf[o++] = hex[addr->bytes[i] & 0xf];
        buf[o++] = '.';
        buf[o++] = hex[addr->bytes[i] >> 4];
        buf[o++] = i > 0 ? '.' : '\0';
    }
    return buf;
}

int mk_net_servers_parse(const char *text, char *csv, size_t csvlen, char *err, size_t errlen)
{
    size_t o = 0;
    const char *p = text;
    csv[0] = '\0';
    while (*p != '\0') {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        const char *s = p;
        while (*p != '\0' && *p != ',' && !isspace((unsigned char)*p))
            p++;
        char item[80], orig[80], host[80];
        size_t n = (size_t)(p - s);
        if (n >= sizeof(item)) {
            snprintf(err, errlen, "server '%.40s...' is too long", s);
            return -1;
        }
        memcpy(item, s, n);
        item[n] = '\0';
        memcpy(orig, item, n + 1);
        long port = 53;
        const char *portp = NULL;
        if (item[0] == '[') {
            char *close = strchr(item, ']');
            if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
                snprintf(err, errlen, "'%s' is not [IPv6]:PORT", item);
                return -1;
            }
            *close = '\0';
            snprintf(host, sizeof(host), "%s", item + 1);
            if (close[1] == ':')
                portp = close + 2;
        } else {
            char *colon = strchr(item, ':');
            if (colon != NULL && strchr(colon + 1, ':') == NULL) { /* IPv4:PORT */
                *colon = '\0';
                portp = colon + 1;
            }
            snprintf(host, sizeof(host), "%s", item);
        }
        if (portp != NULL) {
            char *end;
            errno = 0;
            port = strtol(portp, &end, 10);
            if (errno != 0 || end == portp || *end != '\0' || port < 1 || port > 65535) {
                snprintf(err, errlen, "'%s' has no valid port (1-65535)", orig);
                return -1;
            }
        }
        mk_addr a;
        if (mk_net_parse_addr(host, &a) != 0) {
            snprintf(err, errlen, "'%s' is not an IP address (a DNS server is given by address)",
                     host);
            return -1;
        }
        char astr[64];
        mk_net_addr_str(&a, astr, sizeof(astr));
        int w = snprintf(csv + o, csvlen - o, a.family == AF_INET6 ? "%s[%s]:%ld" : "%s%s:%ld",
                         o > 0 ? "," : "", astr, port);
        if (w < 0 || (size_t)w >= csvlen - o) {
            snprintf(err, errlen, "too many DNS servers");
            return -1;
        }
        o += (size_t)w;
    }
    return 0;
}
