/* Shared includes for the cmocka unit tests. */
#ifndef MK_TEST_H
#define MK_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib/gstdio.h>

#include "mk_dns.h"
#include "mk_msg.h"

/* Group set-up and tear-down for tests that run the pipeline. */
static inline int mk_test_libs_up(void **state)
{
    (void)state;
    mk_msg_library_init();
    return mk_dns_library_init();
}

/* Removes a directory holding a learning store (bayes.db and its WAL
 * files) and frees its name. */
static inline void mk_test_store_dir_free(char *dir)
{
    const char *names[] = {"bayes.db", "bayes.db-wal", "bayes.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char *p = g_build_filename(dir, names[i], NULL);
        g_unlink(p);
        g_free(p);
    }
    g_rmdir(dir);
    g_free(dir);
}

static inline int mk_test_libs_down(void **state)
{
    (void)state;
    mk_dns_library_cleanup();
    mk_msg_library_cleanup();
    return 0;
}

#endif
