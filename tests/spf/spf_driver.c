/*
 * spf_driver: runs SPF test scenarios through mailkeeper's SPF evaluation
 * (mk_spf_server_new + mk_spf_eval, as the milter calls them) with libspf2's
 * in-memory zone layer as the DNS. Read by tests/spf/run_suite.py.
 * Lines on stdin, fields separated by tabs, data backslash-escaped:
 *   R                              a new scenario: forget the zone
 *   Z DOMAIN TYPE DATA             a record: A AAAA MX TXT PTR, or TIMEOUT
 *   T NAME CLIENT-IP HELO MAILFROM  evaluate; prints "NAME<tab>RESULT<tab>COMMENT"
 */
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mk_spf.h" /* before the zone header, which needs spf.h's types */

#include <spf2/spf_dns_zone.h>

/* Undoes \\, \t, \n and \xHH in place; \x00 becomes MK_DNS_TXT_NUL, as
 * the resolver gives a NUL inside TXT data (the zone stands for it). */
static void unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p != '\\' || p[1] == '\0') {
            *o++ = *p;
            continue;
        }
        p++;
        if (*p == 't')
            *o++ = '\t';
        else if (*p == 'n')
            *o++ = '\n';
        else if (*p == 'x' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0};
            char c = (char)strtol(hex, NULL, 16);
            *o++ = c != '\0' ? c : MK_DNS_TXT_NUL;
            p += 2;
        } else
            *o++ = *p;
    }
    *o = '\0';
}

static ns_type type_of(const char *t)
{
    static const struct {
        const char *name;
        ns_type type;
    } types[] = {
        {"A", ns_t_a}, {"AAAA", ns_t_aaaa}, {"MX", ns_t_mx}, {"TXT", ns_t_txt}, {"PTR", ns_t_ptr}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(t, types[i].name) == 0)
            return types[i].type;
    return ns_t_invalid;
}

int main(void)
{
    char line[65536];
    SPF_dns_server_t *zone = NULL;
    while (fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *field[6] = {0};
        int n = 0;
        for (char *save = NULL, *f = strtok_r(line, "\t", &save); f && n < 6;
             f = strtok_r(NULL, "\t", &save))
            field[n++] = f;
        if (n == 0)
            continue;
        for (int i = 1; i < n; i++)
            unescape(field[i]);
        if (strcmp(field[0], "R") == 0) {
            if (zone != NULL)
                zone->destroy(zone);
            zone = SPF_dns_zone_new(NULL, "suite", 0);
        } else if (strcmp(field[0], "Z") == 0 && n >= 3 && zone != NULL) {
            if (strcmp(field[2], "TIMEOUT") == 0)
                SPF_dns_zone_add_str(zone, field[1], ns_t_any, TRY_AGAIN, NULL);
            else if (type_of(field[2]) != ns_t_invalid)
                SPF_dns_zone_add_str(zone, field[1], type_of(field[2]), NETDB_SUCCESS,
                                     n > 3 ? field[3] : "");
        } else if (strcmp(field[0], "T") == 0 && n >= 3 && zone != NULL) {
            /* A server per test over a copy-free view of the zone: the zone
             * outlives it (the view's destructor is NULL). */
            SPF_dns_server_t *view = calloc(1, sizeof(*view));
            *view = *zone;
            view->destroy = NULL;
            SPF_server_t *server = mk_spf_server_new(view);
            mk_spf_outcome o;
            const char *helo = n > 3 ? field[3] : "";
            const char *from = n > 4 ? field[4] : "";
            if (server == NULL || mk_spf_eval(server, field[2], helo, from, &o) != 0)
                printf("%s\terror\t%s\n", field[1], server ? o.comment : "no server");
            else
                printf("%s\t%s\t%s\n", field[1], mk_spf_result_name(o.result), o.comment);
            fflush(stdout);
            if (server != NULL)
                SPF_server_free(server);
            free(view);
        }
    }
    if (zone != NULL)
        zone->destroy(zone);
    return 0;
}
