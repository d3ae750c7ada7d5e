/*
 * daemon: builds the running service from a config (store, registry,
 * trainer, HTTP server), and takes it down in order.
 */
#ifndef MLPD_DAEMON_H
#define MLPD_DAEMON_H

#include "config.h"
#include "events.h"
#include "fault.h"
#include "peers.h"

typedef struct daemon_ctx daemon_ctx;

/* Opens the database, loads every model, starts the trainer and the HTTP
 * server. NULL with f set on failure. */
daemon_ctx *daemon_start(const config *c, fault *f);

/* The port being served. */
unsigned daemon_port(const daemon_ctx *d);

/* The live event hub (borrowed; lives until daemon_stop), for tests. */
events *daemon_events(const daemon_ctx *d);

/* The thread that follows other nodes' changes (engine/peers.h): NULL
 * unless the store is shared (PostgreSQL), for tests. */
peers *daemon_peers(const daemon_ctx *d);

/* Orderly shutdown: stop accepting, refuse new work, let running jobs
 * checkpoint (ending them interrupted), end the event streams, finish
 * requests in flight, close the database, free everything. NULL is a
 * no-op. */
void daemon_stop(daemon_ctx *d);

#endif
