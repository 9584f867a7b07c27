/*
 * mk_pool: chunked arena allocator. Small requests are carved out of 8 KiB
 * chunks; a request larger than a quarter chunk gets a chunk of its own, so
 * big allocations never waste the rest of a shared chunk.
 */
#include "config.h"

#include "mk_pool.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MK_POOL_CHUNK 8192
#define MK_POOL_ALIGN 16

struct mk_chunk {
    struct mk_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(MK_POOL_ALIGN) unsigned char data[];
};

struct mk_pool {
    struct mk_chunk *head; /* chunk being filled */
    struct mk_chunk *big;  /* dedicated chunks of large requests */
    size_t handed_out;
};

static struct mk_chunk *mk_pool_chunk_new(size_t size)
{
    struct mk_chunk *c = malloc(sizeof(*c) + size);
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

mk_pool *mk_pool_new(void)
{
    mk_pool *p = calloc(1, sizeof(*p));
    return p;
}

static void mk_pool_chain_free(struct mk_chunk *c)
{
    while (c != NULL) {
        struct mk_chunk *n = c->next;
        free(c);
        c = n;
    }
}

void mk_pool_free(mk_pool *pool)
{
    if (pool == NULL)
        return;
    mk_pool_chain_free(pool->head);
    mk_pool_chain_free(pool->big);
    free(pool);
}

void *mk_pool_alloc(mk_pool *pool, size_t size)
{
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - MK_POOL_ALIGN)
        return NULL;
    size_t need = (size + MK_POOL_ALIGN - 1) & ~(size_t)(MK_POOL_ALIGN - 1);
    if (need > MK_POOL_CHUNK / 4) {
        struct mk_chunk *c = mk_pool_chunk_new(need);
        if (c == NULL)
            return NULL;
        c->next = pool->big;
        pool->big = c;
        c->used = need;
        pool->handed_out += need;
        memset(c->data, 0, need);
        return c->data;
    }
    if (pool->head == NULL || pool->head->size - pool->head->used < need) {
        struct mk_chunk *c = mk_pool_chunk_new(MK_POOL_CHUNK);
        if (c == NULL)
            return NULL;
        c->next = pool->head;
        pool->head = c;
    }
    void *ptr = pool->head->data + pool->head->used;
    pool->head->used += need;
    pool->handed_out += need;
    memset(ptr, 0, need);
    return ptr;
}

char *mk_pool_strndup(mk_pool *pool, const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *d = mk_pool_alloc(pool, n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *mk_pool_strdup(mk_pool *pool, const char *s)
{
    return s == NULL ? NULL : mk_pool_strndup(pool, s, strlen(s));
}

char *mk_pool_vprintf(mk_pool *pool, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *d = mk_pool_alloc(pool, (size_t)n + 1);
    if (d != NULL)
        vsnprintf(d, (size_t)n + 1, fmt, ap);
    return d;
}

char *mk_pool_printf(mk_pool *pool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *d = mk_pool_vprintf(pool, fmt, ap);
    va_end(ap);
    return d;
}

size_t mk_pool_used(const mk_pool *pool)
{
    return pool->handed_out;
}
