/*
 * mk_io: whole reads and writes on file descriptors (sockets, pipes,
 * files), past short counts and EINTR. Depends on the C library alone, so
 * that the smallest programs (mailkeeper-learnc) may link it.
 */
#ifndef MK_IO_H
#define MK_IO_H

#include <stddef.h>

/* Writes all len bytes of buf to fd; 0, or -1 with errno set (0 when the
 * other end took nothing). */
int mk_io_write_full(int fd, const void *buf, size_t len);
/* Reads exactly len bytes into buf; 0, or -1 on an error, a time limit
 * (SO_RCVTIMEO) or the end of input first (errno 0). */
int mk_io_read_full(int fd, void *buf, size_t len);

#endif
