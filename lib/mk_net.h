/*
 * mk_net: IP addresses, CIDR networks and their lists, reverse-DNS names.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are treated as IPv4.
 */
#ifndef MK_NET_H
#define MK_NET_H

#include <stddef.h>
#include <stdint.h>

typedef struct mk_addr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
} mk_addr;

typedef struct mk_cidr {
    mk_addr addr;
    unsigned bits;
} mk_cidr;

/* A list of networks; owned by whoever holds it, freed with mk_net_list_free(). */
typedef struct mk_netlist {
    mk_cidr *nets;
    size_t n;
} mk_netlist;

/* Parses a textual IPv4 or IPv6 address (an optional "IPv6:" prefix, as
 * Sendmail reports it, is accepted). Returns 0, or -1 when it is none. */
int mk_net_parse_addr(const char *text, mk_addr *out);
/* Parses "ADDR" or "ADDR/BITS"; host bits are cleared. 0 or -1. */
int mk_net_parse_cidr(const char *text, mk_cidr *out);
/* Parses a comma- or space-separated list of networks into *out (whose old
 * contents are freed). On error returns -1 and names the bad item in err. */
int mk_net_list_parse(const char *text, mk_netlist *out, char *err, size_t errlen);
void mk_net_list_free(mk_netlist *list);

int mk_net_cidr_contains(const mk_cidr *net, const mk_addr *addr);
int mk_net_list_contains(const mk_netlist *list, const mk_addr *addr);
/* True for addresses no public block list can speak of: loopback, private
 * (RFC 1918, ULA), link-local, CGNAT, unspecified, multicast, reserved. */
int mk_net_is_special(const mk_addr *addr);

/* The address in text, into buf (at least 46 bytes). */
const char *mk_net_addr_str(const mk_addr *addr, char *buf, size_t len);
/* The DNSxL query label: "4.3.2.1" for 1.2.3.4, the 32 reversed nibbles for
 * IPv6 (RFC 5782). buf needs at least 73 bytes. */
const char *mk_net_reverse(const mk_addr *addr, char *buf, size_t len);

/* Checks a DNS server list: "IP", "IP:PORT", "[IPv6]:PORT", comma or space
 * separated. Writes the c-ares CSV form to csv. 0 or -1 (err names the item). */
int mk_net_servers_parse(const char *text, char *csv, size_t csvlen, char *err, size_t errlen);

#endif
