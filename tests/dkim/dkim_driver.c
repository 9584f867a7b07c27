/*
 * dkim_driver KEYFILE MIN-KEY-BITS FILE...: verifies each message with
 * mailkeeper's DKIM verification (mk_dkim_verify, as the milter calls it),
 * keys from a libopendkim query file instead of DNS. Prints one line per
 * file: "FILE<tab>RESULT[,RESULT...]<tab>d=/s= and reasons", results in
 * signature order ("none" when unsigned). Bare LF line ends become CRLF,
 * as the MTA hands a message to the milter.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mk_dkim.h"
#include "mk_msg.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s KEYFILE MIN-KEY-BITS FILE...\n", argv[0]);
        return 2;
    }
    mk_msg_library_init();
    int rc = 0;
    for (int i = 3; i < argc; i++) {
        mk_dkim_verifier *v = mk_dkim_verifier_new_file(argv[1], (unsigned)atoi(argv[2]));
        int fd = open(argv[i], O_RDONLY);
        if (v == NULL || fd < 0) {
            printf("%s\terror\tcannot start or read\n", argv[i]);
            rc = 1;
            mk_dkim_verifier_free(v);
            if (fd >= 0)
                close(fd);
            continue;
        }
        GByteArray *wire = g_byte_array_new();
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            for (ssize_t k = 0; k < n; k++) {
                if (buf[k] == '\n' && (wire->len == 0 || wire->data[wire->len - 1] != '\r'))
                    g_byte_array_append(wire, (const guint8 *)"\r", 1);
                g_byte_array_append(wire, (const guint8 *)&buf[k], 1);
            }
        close(fd);
        GMimeStream *s = g_mime_stream_mem_new_with_byte_array(wire); /* owns wire */
        mk_dkim_outcome o;
        if (mk_dkim_verify(v, s, "test", &o) != 0) {
            printf("%s\terror\tlibopendkim failed\n", argv[i]);
            rc = 1;
        } else {
            printf("%s\t", argv[i]);
            for (size_t k = 0; k < o.n; k++)
                printf("%s%s", k ? "," : "", o.sigs[k].result);
            printf("%s\t", o.n ? "" : "none");
            for (size_t k = 0; k < o.n; k++)
                printf("%sd=%s s=%s%s%s", k ? "; " : "", o.sigs[k].domain, o.sigs[k].selector,
                       o.sigs[k].why[0] ? ": " : "", o.sigs[k].why);
            printf("\n");
        }
        g_object_unref(s);
        mk_dkim_verifier_free(v);
    }
    mk_msg_library_cleanup();
    return rc;
}
