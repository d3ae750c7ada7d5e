/*
 * config: the daemon's settings, parsed from the command line and checked
 * once at start.
 */
#ifndef MLPD_CONFIG_H
#define MLPD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fault.h"
#include "log.h"
#include "origin.h"

#define CONFIG_HOST_MAX 256

/* What one client, and all of them together, may make the daemon hold
 * (README, "Limits"). Each is a flag; size_t so that one parser fills
 * them all. */
typedef struct config_limits {
	size_t max_connections;  /* open connections in all */
	size_t max_per_ip;       /* open connections from one address; 0: any */
	size_t conn_timeout;     /* seconds a connection may idle, and that
	                            one request may take to arrive whole */
	size_t max_body_memory;  /* bytes of request bodies being received and
	                            of big answers not yet sent, all
	                            connections together (>= max_body) */
	size_t max_layer_width;  /* units in any layer of a new model */
	size_t max_params;       /* weights + biases of all models together */
	size_t max_models;       /* models held */
	size_t max_batch_rows;   /* rows in one request (batch, step, predict,
	                            validation set) */
	size_t max_batch_values; /* rows x the sum of the model's layer sizes
	                            that one request or train step works on */
	size_t max_samples;      /* stored training rows per model */
	size_t max_versions;     /* saved versions per model */
	size_t job_memory;       /* bytes of rows one train job holds; past
	                            it they are streamed (--job-memory) */
	size_t max_idle_per_ip;  /* of max_per_ip, connections that have not
	                            sent a request (with a token: one with
	                            it); the oldest past it are closed */
} config_limits;

typedef struct config {
	char host[CONFIG_HOST_MAX]; /* numeric IPv4/IPv6 or "localhost" */
	unsigned port;              /* 0 picks a free port */
	const char *db_path;        /* borrowed from argv or a literal */
	int64_t max_db_size;        /* --max-db-size: bytes the database may
	                               grow to; 0: no cap but the disk's */
	unsigned http_threads;      /* MHD thread pool size, >= 1 */
	unsigned http_workers;      /* request workers (http_pool), >= 1 */
	unsigned trainers;          /* trainer worker threads, >= 1 */
	size_t max_body;            /* request body cap in bytes */
	double checkpoint_every;    /* seconds of training per checkpoint */
	double peer_sync;           /* --peer-sync: seconds between looks at
	                               what other nodes changed in a shared
	                               store */
	size_t max_queue;           /* queued jobs before 503 */
	uint64_t history_raw_steps; /* newest loss steps kept one by one per
	                               model (0: all) */
	double events_heartbeat;    /* seconds between event-stream heartbeats
	                               (15; no flag: tests shorten it) */
	log_level level;
	const char *token_file;     /* --token-file or $MLPD_TOKEN_FILE (borrowed);
	                               NULL: no token is asked for */
	const char *tls_cert;       /* --tls-cert PEM file (borrowed), or NULL */
	const char *tls_key;        /* --tls-key PEM file; set with tls_cert */
	int insecure;               /* --insecure: a non-loopback address may
	                               serve without a token */
	config_limits lim;          /* the --max-* and connection limits */
	origin_policy origin;       /* --allowed-hosts and --cors-origin (the
	                               names point into argv) */
	char node_id[64];           /* --node-id (STORE_NODE_MAX): this node's
	                               name in leases, job records, logs and
	                               /metrics; default "hostname:port" */
	unsigned lease_ttl;         /* --lease-ttl: seconds a model's lease
	                               lasts unless renewed (every third) */
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
 * output to stdout. Reads $MLPD_TOKEN_FILE when --token-file is not given.
 * Refuses (CONFIG_ERROR) a non-loopback --listen host without a token file
 * unless --insecure is given, and one of --tls-cert/--tls-key alone. */
config_result config_parse(config *c, int argc, char **argv, fault *f);

/* Usage text for --help. */
void config_usage(FILE *out);

#endif
