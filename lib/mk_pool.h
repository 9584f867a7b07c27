/*
 * mk_pool: a memory pool (arena) per message or per connection.
 * Everything allocated from a pool is freed at once by mk_pool_free();
 * nothing allocated from it is ever freed alone.
 */
#ifndef MK_POOL_H
#define MK_POOL_H

#include <stdarg.h>
#include <stddef.h>

typedef struct mk_pool mk_pool;

/* A new, empty pool; NULL when out of memory. Free with mk_pool_free(). */
mk_pool *mk_pool_new(void);
/* Frees the pool and everything allocated from it. NULL is allowed. */
void mk_pool_free(mk_pool *pool);

/* Zeroed memory owned by the pool; NULL when out of memory. */
void *mk_pool_alloc(mk_pool *pool, size_t size);
/* Copies owned by the pool; NULL in gives NULL out. */
char *mk_pool_strdup(mk_pool *pool, const char *s);
char *mk_pool_strndup(mk_pool *pool, const char *s, size_t n);
/* A formatted string owned by the pool. */
char *mk_pool_printf(mk_pool *pool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *mk_pool_vprintf(mk_pool *pool, const char *fmt, va_list ap);
/* Bytes handed out so far (for statistics and tests). */
size_t mk_pool_used(const mk_pool *pool);

#endif
