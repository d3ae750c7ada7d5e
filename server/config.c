/*
 * config: command-line flags to a validated config (see config.h).
 */
#include "config.h"

#include "autoconf.h"
#include "auth.h"
#include "lease.h"
#include "mlp.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


enum {
	OPT_LISTEN = 256,
	OPT_DB,
	OPT_MAX_DB_SIZE,
	OPT_HTTP_THREADS,
	OPT_HTTP_WORKERS,
	OPT_TRAINERS,
	OPT_MAX_BODY,
	OPT_CHECKPOINT,
	OPT_PEER_SYNC,
	OPT_MAX_QUEUE,
	OPT_HISTORY_RAW,
	OPT_LIMIT_FIRST_,  /* the config_limits flags, in limit_opts order */
	OPT_LIMIT_LAST_ = OPT_LIMIT_FIRST_ + 12,
	OPT_LOG_LEVEL,
	OPT_TOKEN_FILE,
	OPT_INSECURE,
	OPT_ALLOWED_HOSTS,
	OPT_CORS_ORIGIN,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_NODE_ID,
	OPT_LEASE_TTL,
	OPT_HELP,
	OPT_VERSION
};

static const struct option options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "db", required_argument, NULL, OPT_DB },
	{ "max-db-size", required_argument, NULL, OPT_MAX_DB_SIZE },
	{ "http-threads", required_argument, NULL, OPT_HTTP_THREADS },
	{ "http-workers", required_argument, NULL, OPT_HTTP_WORKERS },
	{ "trainers", required_argument, NULL, OPT_TRAINERS },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "checkpoint-every", required_argument, NULL, OPT_CHECKPOINT },
	{ "peer-sync", required_argument, NULL, OPT_PEER_SYNC },
	{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
	{ "history-raw-steps", required_argument, NULL, OPT_HISTORY_RAW },
	{ "max-connections", required_argument, NULL, OPT_LIMIT_FIRST_ },
	{ "max-connections-per-ip", required_argument, NULL,
	  OPT_LIMIT_FIRST_ + 1 },
	{ "connection-timeout", required_argument, NULL, OPT_LIMIT_FIRST_ + 2 },
	{ "max-body-memory", required_argument, NULL, OPT_LIMIT_FIRST_ + 3 },
	{ "max-layer-width", required_argument, NULL, OPT_LIMIT_FIRST_ + 4 },
	{ "max-params", required_argument, NULL, OPT_LIMIT_FIRST_ + 5 },
	{ "max-models", required_argument, NULL, OPT_LIMIT_FIRST_ + 6 },
	{ "max-batch-rows", required_argument, NULL, OPT_LIMIT_FIRST_ + 7 },
	{ "max-batch-values", required_argument, NULL, OPT_LIMIT_FIRST_ + 8 },
	{ "max-samples", required_argument, NULL, OPT_LIMIT_FIRST_ + 9 },
	{ "max-idle-per-ip", required_argument, NULL, OPT_LIMIT_FIRST_ + 10 },
	{ "max-versions", required_argument, NULL, OPT_LIMIT_FIRST_ + 11 },
	{ "job-memory", required_argument, NULL, OPT_LIMIT_FIRST_ + 12 },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "allowed-hosts", required_argument, NULL, OPT_ALLOWED_HOSTS },
	{ "cors-origin", required_argument, NULL, OPT_CORS_ORIGIN },
	{ "node-id", required_argument, NULL, OPT_NODE_ID },
	{ "lease-ttl", required_argument, NULL, OPT_LEASE_TTL },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

/* The config_limits flags: option code, field, default and range. */
static const struct limit_opt {
	int opt;
	const char *name;
	size_t off; /* offsetof(config_limits, field) */
	size_t def;
	unsigned long long lo, hi;
} limit_opts[] = {
	{ OPT_LIMIT_FIRST_, "max-connections",
	  offsetof(config_limits, max_connections), 1024, 1, 65536 },
	{ OPT_LIMIT_FIRST_ + 1, "max-connections-per-ip",
	  offsetof(config_limits, max_per_ip), 256, 0, 65536 },
	{ OPT_LIMIT_FIRST_ + 2, "connection-timeout",
	  offsetof(config_limits, conn_timeout), 60, 1, 86400 },
	{ OPT_LIMIT_FIRST_ + 3, "max-body-memory",
	  offsetof(config_limits, max_body_memory), 256u << 20, 1024,
	  1ull << 40 },
	{ OPT_LIMIT_FIRST_ + 4, "max-layer-width",
	  offsetof(config_limits, max_layer_width), MLP_MAX_WIDTH, 1,
	  MLP_MAX_WIDTH },
	{ OPT_LIMIT_FIRST_ + 5, "max-params",
	  offsetof(config_limits, max_params), 16u << 20, 1, 1ull << 36 },
	{ OPT_LIMIT_FIRST_ + 6, "max-models",
	  offsetof(config_limits, max_models), 1000, 1, 10000000 },
	{ OPT_LIMIT_FIRST_ + 7, "max-batch-rows",
	  offsetof(config_limits, max_batch_rows), 100000, 1, MLP_MAX_BATCH },
	{ OPT_LIMIT_FIRST_ + 8, "max-batch-values",
	  offsetof(config_limits, max_batch_values), 16u << 20, 1,
	  1ull << 36 },
	{ OPT_LIMIT_FIRST_ + 9, "max-samples",
	  offsetof(config_limits, max_samples), 1000000, 1, 1ull << 40 },
	{ OPT_LIMIT_FIRST_ + 10, "max-idle-per-ip",
	  offsetof(config_limits, max_idle_per_ip), 32, 1, 65536 },
	{ OPT_LIMIT_FIRST_ + 11, "max-versions",
	  offsetof(config_limits, max_versions), 100, 1, 100000 },
	{ OPT_LIMIT_FIRST_ + 12, "job-memory",
	  offsetof(config_limits, job_memory), 256u << 20, 4096, 1ull << 40 },
};

static size_t *
limit_field(config *c, const struct limit_opt *o)
{
	return (size_t *)((char *)&c->lim + o->off);
}

/* --node-id: printable ASCII without spaces, 1..63 bytes. */
static int
parse_node_id(config *c, const char *s, fault *f)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof c->node_id)
		return fault_set(f, FAULT_INVALID, "--node-id must be 1..%zu "
		    "bytes", sizeof c->node_id - 1);
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return fault_set(f, FAULT_INVALID, "--node-id must be "
			    "printable ASCII without spaces");
	memcpy(c->node_id, s, n + 1);
	return 0;
}

/* The default node id: "hostname:port" (cut to fit; "localhost" when the
 * host name is unknown; bytes that parse_node_id refuses become '_').
 * With port 0 (the kernel picks one) it is "hostname:pid-PID" instead:
 * nodes started that way on one host would otherwise share one id, and
 * with it their leases and jobs. */
static void
default_node_id(config *c)
{
	char host[256];

	if (gethostname(host, sizeof host) != 0)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	for (char *p = host; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			*p = '_';
	if (c->port == 0)
		snprintf(c->node_id, sizeof c->node_id, "%.40s:pid-%ld", host,
		    (long)getpid());
	else
		snprintf(c->node_id, sizeof c->node_id, "%.50s:%u", host,
		    c->port);
}

void
config_default(config *c)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof *c);
	strcpy(c->host, "127.0.0.1");
	c->port = 8080;
	c->db_path = "./mlpd.db";
	c->http_threads = cores > 0 ? (unsigned)cores : 1;
	c->http_workers = 8;
	c->trainers = 1;
	c->max_body = 64u * 1024 * 1024;
	c->checkpoint_every = 1.0;
	c->peer_sync = 1.0;
	c->max_queue = 1024;
	c->history_raw_steps = STORE_HISTORY_RAW_DEFAULT;
	for (size_t i = 0; i < sizeof limit_opts / sizeof *limit_opts; i++)
		*limit_field(c, &limit_opts[i]) = limit_opts[i].def;
	c->events_heartbeat = 15.0;
	c->level = LOG_INFO;
	c->lease_ttl = LEASE_TTL_DEFAULT;
	default_node_id(c);
}

void
config_usage(FILE *out)
{
	fprintf(out,
	    "usage: mlpd [options]\n"
	    "\n"
	    "  --listen HOST:PORT        address to serve (default 127.0.0.1:8080;\n"
	    "                            port 0 picks a free port; [::1]:PORT for IPv6)\n"
	    "  --db PATH                 SQLite database (default ./mlpd.db; :memory:),\n"
	    "                            or a PostgreSQL one: a postgresql:// URI\n"
	    "                            or libpq key=value string (password from\n"
	    "                            PGPASSFILE or PGPASSWORD)\n"
	    "  --max-db-size BYTES       database size cap, 0 for none: writes past\n"
	    "                            it fail with 507 (default 0)\n"
	    "  --http-threads N          HTTP threads, which never wait (default:\n"
	    "                            cores)\n"
	    "  --http-workers N          threads for requests that may wait on the\n"
	    "                            database or a trainer (default 8)\n"
	    "  --trainers N              training threads (default 1)\n"
	    "  --max-body BYTES          request body cap (default 67108864)\n"
	    "  --checkpoint-every SECS   weights checkpoint period while training\n"
	    "                            (default 1)\n"
	    "  --node-id NAME            this node's name in leases, job records,\n"
	    "                            logs and /metrics: printable, no spaces,\n"
	    "                            at most 63 bytes (default HOSTNAME:PORT)\n"
	    "  --lease-ttl SECS          a model's lease (one writer per model) lasts\n"
	    "                            this long unless renewed, 1..3600\n"
	    "                            (default 10)\n"
	    "  --peer-sync SECS          with PostgreSQL, how often a node looks for\n"
	    "                            models other nodes created, trained or\n"
	    "                            deleted (default 1)\n"
	    "  --max-queue N             queued jobs before 503 (default 1024)\n"
	    "  --history-raw-steps N     newest loss steps kept one by one per\n"
	    "                            model, 0 for all; older ones stay as exact\n"
	    "                            buckets (default 1000000)\n"
	    "  --max-connections N       open connections (default 1024)\n"
	    "  --max-connections-per-ip N\n"
	    "                            open connections from one address, 0 for\n"
	    "                            no limit (default 256)\n"
	    "  --max-idle-per-ip N       of those, ones that have not sent a\n"
	    "                            request (with --token-file: one with\n"
	    "                            the token) for 1 s; the oldest are\n"
	    "                            closed first (default 32)\n"
	    "  --connection-timeout SECS\n"
	    "                            an idle connection, or one whose request\n"
	    "                            has not arrived whole, is closed after\n"
	    "                            this long (default 60)\n"
	    "  --max-body-memory BYTES   bodies being received and big answers\n"
	    "                            waiting for their readers, all together:\n"
	    "                            past it 503 (default 268435456)\n"
	    "  --max-layer-width N       units in a layer of a model (default 65536)\n"
	    "  --max-params N            weights and biases of all models together\n"
	    "                            (default 16777216)\n"
	    "  --max-models N            models held (default 1000)\n"
	    "  --max-batch-rows N        rows in one request (default 100000)\n"
	    "  --max-batch-values N      rows x the sum of the layer sizes in one\n"
	    "                            request or train step (default 16777216)\n"
	    "  --max-samples N           stored training rows per model\n"
	    "                            (default 1000000)\n"
	    "  --max-versions N          saved versions per model (default 100)\n"
	    "  --job-memory BYTES        rows one train job holds; a larger data\n"
	    "                            set is streamed from the database in\n"
	    "                            blocks (default 268435456)\n"
	    "  --log-level LEVEL         error, warn, info or debug (default info)\n"
	    "  --token-file FILE         require \"Authorization: Bearer TOKEN\" on\n"
	    "                            /v1 and /metrics (all but / and /healthz);\n"
	    "                            FILE holds the token (or $MLPD_TOKEN_FILE)\n"
	    "  --insecure                allow a non-loopback --listen address\n"
	    "                            without --token-file\n"
	    "  --allowed-hosts LIST      host names (comma-separated) a request's\n"
	    "                            Host may give besides IP addresses and\n"
	    "                            localhost (without a token; DNS rebinding)\n"
	    "  --cors-origin LIST        origins (scheme://host[:port], comma-\n"
	    "                            separated) whose pages may call the API\n"
	    "  --tls-cert FILE           serve HTTPS with this PEM certificate\n"
	    "  --tls-key FILE            and this PEM private key\n"
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

/* One of the limit_opts flags. */
static int
parse_limit(config *c, int opt, const char *arg, fault *f)
{
	const struct limit_opt *o = &limit_opts[opt - OPT_LIMIT_FIRST_];
	unsigned long long v;

	if (parse_ulong(arg, o->lo, o->hi, &v) < 0 || v > SIZE_MAX)
		return fault_set(f, FAULT_INVALID, "--%s must be %llu..%llu",
		    o->name, o->lo, o->hi);
	*limit_field(c, o) = (size_t)v;
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

/* The access settings, once every flag is in: the token file from the
 * environment, TLS files in pairs, and no exposed address without a token
 * unless the operator said --insecure. */
static int
check_access(config *c, fault *f)
{
	const char *env = getenv("MLPD_TOKEN_FILE");

	if (c->token_file == NULL && env != NULL && *env != '\0')
		c->token_file = env;
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		return fault_set(f, FAULT_INVALID, "--tls-cert and --tls-key "
		    "go together; %s is missing", c->tls_cert == NULL ?
		    "--tls-cert" : "--tls-key");
	if (c->token_file == NULL && !c->insecure &&
	    !auth_host_is_loopback(c->host))
		return fault_set(f, FAULT_INVALID, "refusing to listen on %s "
		    "without a token: it is not a loopback address, so anyone "
		    "who reaches it could change or delete every model; give "
		    "--token-file FILE (or MLPD_TOKEN_FILE), or --insecure if "
		    "a firewall or proxy guards it", c->host);
	return 0;
}

config_result
config_parse(config *c, int argc, char **argv, fault *f)
{
	unsigned long long v;
	char *end;
	int opt, node_given = 0;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt >= OPT_LIMIT_FIRST_ && opt <= OPT_LIMIT_LAST_) {
			if (parse_limit(c, opt, optarg, f) < 0)
				return CONFIG_ERROR;
			continue;
		}
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
		case OPT_MAX_DB_SIZE:
			if (parse_ulong(optarg, 0, 1ull << 50, &v) < 0 ||
			    (v != 0 && v < 65536)) {
				fault_set(f, FAULT_INVALID,
				    "--max-db-size must be 0 (no cap) or "
				    "65536..1125899906842624 bytes");
				return CONFIG_ERROR;
			}
			c->max_db_size = (int64_t)v;
			break;
		case OPT_HTTP_THREADS:
			if (parse_ulong(optarg, 1, 1024, &v) < 0) {
				fault_set(f, FAULT_INVALID,
				    "--http-threads must be 1..1024");
				return CONFIG_ERROR;
			}
			c->http_threads = (unsigned)v;
			break;
		case OPT_HTTP_WORKERS:
			if (parse_ulong(optarg, 1, 1024, &v) < 0) {
				fault_set(f, FAULT_INVALID,
				    "--http-workers must be 1..1024");
				return CONFIG_ERROR;
			}
			c->http_workers = (unsigned)v;
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
		case OPT_PEER_SYNC:
			errno = 0;
			c->peer_sync = strtod(optarg, &end);
			if (errno || *end || !isfinite(c->peer_sync) ||
			    c->peer_sync < 0.05 || c->peer_sync > 3600) {
				fault_set(f, FAULT_INVALID,
				    "--peer-sync must be 0.05..3600 seconds");
				return CONFIG_ERROR;
			}
			break;
		case OPT_HISTORY_RAW:
			if (parse_ulong(optarg, 0, 1000000000000ULL, &v) < 0) {
				fault_set(f, FAULT_INVALID,
				    "--history-raw-steps must be "
				    "0..1000000000000");
				return CONFIG_ERROR;
			}
			c->history_raw_steps = (uint64_t)v;
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
		case OPT_TOKEN_FILE:
		case OPT_TLS_CERT:
		case OPT_TLS_KEY:
			if (*optarg == '\0') {
				fault_set(f, FAULT_INVALID, "--%s is empty",
				    opt == OPT_TOKEN_FILE ? "token-file" :
				    opt == OPT_TLS_CERT ? "tls-cert" :
				    "tls-key");
				return CONFIG_ERROR;
			}
			if (opt == OPT_TOKEN_FILE)
				c->token_file = optarg;
			else if (opt == OPT_TLS_CERT)
				c->tls_cert = optarg;
			else
				c->tls_key = optarg;
			break;
		case OPT_INSECURE:
			c->insecure = 1;
			break;
		case OPT_ALLOWED_HOSTS:
		case OPT_CORS_ORIGIN:
			if (origin_add_list(&c->origin, optarg,
			    opt == OPT_CORS_ORIGIN, f) < 0)
				return CONFIG_ERROR;
			break;
		case OPT_NODE_ID:
			if (parse_node_id(c, optarg, f) < 0)
				return CONFIG_ERROR;
			node_given = 1;
			break;
		case OPT_LEASE_TTL:
			if (parse_ulong(optarg, LEASE_TTL_MIN, LEASE_TTL_MAX,
			    &v) < 0) {
				fault_set(f, FAULT_INVALID, "--lease-ttl must be "
				    "%d..%d seconds", LEASE_TTL_MIN,
				    LEASE_TTL_MAX);
				return CONFIG_ERROR;
			}
			c->lease_ttl = (unsigned)v;
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
	if (!node_given)
		default_node_id(c); /* with the port --listen gave */
	return check_access(c, f) < 0 ? CONFIG_ERROR : CONFIG_RUN;
}
