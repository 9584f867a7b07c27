/* Shared includes for the cmocka unit tests. */
#ifndef MK_TEST_H
#define MK_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#endif
