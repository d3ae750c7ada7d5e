/*
 * config: command-line flags to a validated config (see config.h).
 */
#include "config.h"

#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


enum {
	OPT_LISTEN = 256,
	OPT_DB,
	OPT_HTTP_THREADS,
	OPT_TRAINERS,
	OPT_MAX_BODY,
	OPT_CHECKPOINT,
	OPT_MAX_QUEUE,
	OPT_LOG_LEVEL,
	OPT_HELP,
	OPT_VERSION
};

static const struct option options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "db", required_argument, NULL, OPT_DB },
	{ "http-threads", required_argument, NULL, OPT_HTTP_THREADS },
	{ "trainers", required_argument, NULL, OPT_TRAINERS },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "checkpoint-every", required_argument, NULL, OPT_CHECKPOINT },
	{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

void
config_default(config *c)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof *c);
	strcpy(c->host, "127.0.0.1");
	c->port = 8080;
	c->db_path = "./mlpd.db";
	c->http_threads = cores > 0 ? (unsigned)cores : 1;
	c->trainers = 1;
	c->max_body = 64u * 1024 * 1024;
	c->checkpoint_every = 1.0;
	c->max_queue = 1024;
	c->events_heartbeat = 15.0;
	c->level = LOG_INFO;
}

void
config_usage(FILE *out)
{
	fprintf(out,
	    "usage: mlpd [options]\n"
	    "\n"
	    "  --listen HOST:PORT        address to serve (default 127.0.0.1:8080;\n"
	    "                            port 0 picks a free port; [::1]:PORT for IPv6)\n"
	    "  --db PATH                 SQLite database (default ./mlpd.db; :memory:)\n"
	    "  --http-threads N          HTTP worker threads (default: cores)\n"
	    "  --trainers N              training threads (default 1)\n"
	    "  --max-body BYTES          request body cap (default 67108864)\n"
	    "  --checkpoint-every SECS   weights checkpoint period while training\n"
	    "                            (default 1)\n"
	    "  --max-queue N             queued jobs before 503 (default 1024)\n"
	    "  --log-level LEVEL         error, warn, info or debug (default info)\n"
	    "  --help                    this text\n"
	    "  --version                 the version\n");
}

/* Parses a decimal integer in [lo, hi]. */
static int
parse_ulong(const char *s, unsigned long long lo, unsigned long long hi,
	    unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*s == '\0' || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* HOST:PORT, [V6]:PORT, or :PORT (host stays). */
static int
parse_listen(config *c, const char *arg, fault *f)
{
	const char *colon, *host = arg;
	size_t hlen;
	unsigned long long port;

	colon = strrchr(arg, ':');
	if (colon == NULL)
		return fault_set(f, FAULT_INVALID,
		    "--listen wants HOST:PORT, got '%s'", arg);
	hlen = (size_t)(colon - arg);
	if (hlen >= 2 && arg[0] == '[' && arg[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (parse_ulong(colon + 1, 0, 65535, &port) < 0)
		return fault_set(f, FAULT_INVALID,
		    "--listen port must be 0..65535, got '%s'", colon + 1);
	if (hlen >= sizeof c->host)
		return fault_set(f, FAULT_INVALID, "--listen host is too long");
	if (hlen > 0) {
		memcpy(c->host, host, hlen);
		c->host[hlen] = '\0';
	}
	c->port = (unsigned)port;
	return 0;
}

config_result
config_parse(config *c, int argc, char **argv, fault *f)
{
	unsigned long long v;
	char *end;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN:
			if (parse_listen(c, optarg, f) < 0)
				return CONFIG_ERROR;
			break;
		case OPT_DB:
			if (*optarg == '\0') {
				fault_set(f, FAULT_INVALID, "--db is empty");
				return CONFIG_ERROR;
			}
			c->db_path = optarg;
			break;
		case OPT_HTTP_THREADS:
			if (parse_ulong(optarg, 1, 1024, &v) < 0) {
				fault_set(f, FAULT_INVALID,
				    "--http-threads must be 1..1024");
				return CONFIG_ERROR;
			}
			c->http_threads = (unsigned)v;
			break;
		case OPT_TRAINERS:
			if (parse_ulong(optarg, 1, 256, &v) < 0) {
				fault_set(f, FAULT_INVALID,
				    "--trainers must be 1..256");
				return CONFIG_ERROR;
			}
			c->trainers = (unsigned)v;
			break;
		case OPT_MAX_BODY:
			if (parse_ulong(optarg, 1024, 1ull << 34, &v) < 0) {
				fault_set(f, FAULT_INVALID,
				    "--max-body must be 1024..17179869184 bytes");
				return CONFIG_ERROR;
			}
			c->max_body = (size_t)v;
			break;
		case OPT_CHECKPOINT:
			errno = 0;
			c->checkpoint_every = strtod(optarg, &end);
			if (errno || *end || !isfinite(c->checkpoint_every) ||
			    c->checkpoint_every < 0.01 ||
			    c->checkpoint_every > 86400) {
				fault_set(f, FAULT_INVALID,
				    "--checkpoint-every must be 0.01..86400 "
				    "seconds");
				return CONFIG_ERROR;
			}
			break;
		case OPT_MAX_QUEUE:
			if (parse_ulong(optarg, 1, 1000000, &v) < 0) {
				fault_set(f, FAULT_INVALID,
				    "--max-queue must be 1..1000000");
				return CONFIG_ERROR;
			}
			c->max_queue = (size_t)v;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_from_name(optarg, &c->level) < 0) {
				fault_set(f, FAULT_INVALID,
				    "--log-level must be error, warn, info or "
				    "debug");
				return CONFIG_ERROR;
			}
			break;
		case OPT_HELP:
			config_usage(stdout);
			return CONFIG_EXIT;
		case OPT_VERSION:
			printf("mlpd %s\n", PACKAGE_VERSION);
			return CONFIG_EXIT;
		default:
			fault_set(f, FAULT_INVALID, "unknown or incomplete "
			    "option '%s'; see --help", argv[optind - 1]);
			return CONFIG_ERROR;
		}
	}
	if (optind < argc) {
		fault_set(f, FAULT_INVALID, "unexpected argument '%s'",
		    argv[optind]);
		return CONFIG_ERROR;
	}
	return CONFIG_RUN;
}
