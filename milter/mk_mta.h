/*
 * mk_mta: the one layer between libmilter and the pipeline. Every smfi_*
 * call of mailkeeper is in mk_mta.c; nothing else sees an SMFICTX.
 */
#ifndef MK_MTA_H
#define MK_MTA_H

#include "mk_pipe.h"

/* Registers the filter and opens the socket (libmilter's syntax:
 * inet:PORT@HOST, inet6:PORT@HOST, unix:PATH). 0, or -1 with err. */
int mk_mta_open(const mk_app *app, const char *socket, char *err, size_t errlen);
/* Serves new connections with app from now on (connections open stay on
 * theirs); returns the app served before. */
const mk_app *mk_mta_swap_app(const mk_app *app);
/* Serves MTA connections until SIGTERM, SIGINT or SIGHUP; 0 on a clean stop. */
int mk_mta_run(void);

#endif
