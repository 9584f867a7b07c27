/* Shared includes for the cmocka unit tests. */
#ifndef MK_TEST_H
#define MK_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mk_dns.h"
#include "mk_msg.h"

/* Group set-up and tear-down for tests that run the pipeline. */
static inline int mk_test_libs_up(void **state)
{
    (void)state;
    mk_msg_library_init();
    return mk_dns_library_init();
}

static inline int mk_test_libs_down(void **state)
{
    (void)state;
    mk_dns_library_cleanup();
    mk_msg_library_cleanup();
    return 0;
}

#endif
