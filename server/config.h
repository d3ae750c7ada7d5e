/*
 * config: the daemon's settings, parsed from the command line and checked
 * once at start.
 */
#ifndef MLPD_CONFIG_H
#define MLPD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "fault.h"
#include "log.h"

#define CONFIG_HOST_MAX 256

typedef struct config {
	char host[CONFIG_HOST_MAX]; /* numeric IPv4/IPv6 or "localhost" */
	unsigned port;              /* 0 picks a free port */
	const char *db_path;        /* borrowed from argv or a literal */
	unsigned http_threads;      /* MHD thread pool size, >= 1 */
	unsigned trainers;          /* trainer worker threads, >= 1 */
	size_t max_body;            /* request body cap in bytes */
	double checkpoint_every;    /* seconds of training per checkpoint */
	size_t max_queue;           /* queued jobs before 503 */
	double events_heartbeat;    /* seconds between event-stream heartbeats
	                               (15; no flag: tests shorten it) */
	log_level level;
} config;

/* The defaults: 127.0.0.1:8080, ./mlpd.db, one HTTP thread per core, one
 * trainer, 64 MiB bodies, checkpoints every second. */
void config_default(config *c);

typedef enum config_result {
	CONFIG_RUN = 0, /* settings are valid: start the daemon */
	CONFIG_EXIT,    /* --help or --version was printed: exit 0 */
	CONFIG_ERROR    /* f says what is wrong: exit 2 */
} config_result;

/* Parses argv into c (which holds the defaults); prints --help/--version
 * output to stdout. */
config_result config_parse(config *c, int argc, char **argv, fault *f);

/* Usage text for --help. */
void config_usage(FILE *out);

#endif
