/*
 * metrics: counters and the Prometheus text renderer (see metrics.h for
 * the DESIGN). Every metric mlpd exports is named in this file.
 */
#include "metrics.h"

#include "blas_tune.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds (seconds) of the request duration histogram's buckets. */
static const double buckets[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10
};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

/* The method label of requests no route took; anything else is "other". */
static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"
};
#define NMETHODS (sizeof methods / sizeof methods[0])

/* Distinct status codes one series can tell apart; the last slot takes
 * whatever does not fit and is shown as code="other". */
#define CODE_SLOTS 16

typedef struct code_slot {
	atomic_int code;                 /* 0 while the slot is free */
	atomic_uint_least64_t n;
} code_slot;

/* Request counts of one (route, method) pair, by status code. */
typedef struct req_series {
	code_slot slots[CODE_SLOTS];
} req_series;

/* The duration histogram of one route label. */
typedef struct duration_hist {
	atomic_uint_least64_t bucket[NBUCKETS + 1]; /* per bucket, not
						      * cumulative; the last
						      * is above the top */
	atomic_uint_least64_t sum_ns;    /* total duration, nanoseconds */
} duration_hist;

struct metrics {
	const http_route *routes;
	size_t nroutes;
	char **labels;        /* per route: its pattern with "{id}" for '*' */
	size_t *hist_of;      /* per route: its histogram (one per pattern) */
	size_t nhist;         /* histograms: distinct patterns + unmatched */
	req_series *reqs;     /* nroutes matched, then NMETHODS unmatched,
	                         then nroutes HEADs of the GET routes */
	duration_hist *hists; /* nhist; the last is "unmatched" */
	char node[64];        /* --node-id (metrics_set_node); "": none */
};

/* The pattern as a label: each '*' becomes "{id}". */
static char *
route_label(const char *pattern)
{
	size_t stars = 0, n = strlen(pattern);
	char *out, *o;

	for (const char *p = pattern; *p; p++)
		stars += *p == '*';
	out = malloc(n + 3 * stars + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (const char *p = pattern; *p; p++) {
		if (*p == '*') {
			memcpy(o, "{id}", 4);
			o += 4;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

metrics *
metrics_create(const http_route *routes, size_t nroutes, fault *f)
{
	metrics *m = calloc(1, sizeof *m);

	if (m == NULL)
		goto nomem;
	m->routes = routes;
	m->nroutes = nroutes;
	m->labels = calloc(nroutes ? nroutes : 1, sizeof *m->labels);
	m->hist_of = calloc(nroutes ? nroutes : 1, sizeof *m->hist_of);
	m->reqs = calloc(2 * nroutes + NMETHODS, sizeof *m->reqs);
	m->hists = calloc(nroutes + 1, sizeof *m->hists);
	if (m->labels == NULL || m->hist_of == NULL || m->reqs == NULL ||
	    m->hists == NULL)
		goto nomem;
	for (size_t i = 0; i < nroutes; i++) {
		size_t k;

		if ((m->labels[i] = route_label(routes[i].pattern)) == NULL)
			goto nomem;
		for (k = 0; k < i; k++)
			if (strcmp(routes[k].pattern, routes[i].pattern) == 0)
				break;
		m->hist_of[i] = k < i ? m->hist_of[k] : m->nhist++;
	}
	m->nhist++; /* unmatched */
	/* calloc's zero bytes are the atomics' initial values */
	return m;
nomem:
	metrics_destroy(m);
	fault_set(f, FAULT_NOMEM, "out of memory");
	return NULL;
}

void
metrics_destroy(metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; m->labels && i < m->nroutes; i++)
		free(m->labels[i]);
	free(m->labels);
	free(m->hist_of);
	free(m->reqs);
	free(m->hists);
	free(m);
}

/* The slot of code in s, claiming a free one on first sight. */
static code_slot *
slot_for(req_series *s, int code)
{
	if (code < 100 || code > 999)
		return &s->slots[CODE_SLOTS - 1];
	for (size_t i = 0; i < CODE_SLOTS - 1; i++) {
		code_slot *c = &s->slots[i];
		int seen = atomic_load_explicit(&c->code, memory_order_relaxed);

		if (seen == 0) {
			int zero = 0;

			if (atomic_compare_exchange_strong_explicit(&c->code,
			    &zero, code, memory_order_relaxed,
			    memory_order_relaxed))
				return c;
			seen = zero; /* another thread took it first */
		}
		if (seen == code)
			return c;
	}
	return &s->slots[CODE_SLOTS - 1];
}

void
metrics_observe_http(void *ctx, int route, const char *method, int status,
		     double seconds)
{
	metrics *m = ctx;
	req_series *s;
	duration_hist *h;
	size_t b = 0, k = NMETHODS - 1;

	if (m == NULL)
		return;
	if (route >= 0 && (size_t)route < m->nroutes) {
		/* HEAD takes a GET route: counted apart, under its method */
		s = &m->reqs[method && strcmp(method, "HEAD") == 0 ?
		    m->nroutes + NMETHODS + (size_t)route : (size_t)route];
		h = &m->hists[m->hist_of[route]];
	} else {
		for (size_t i = 0; i < NMETHODS - 1; i++)
			if (method && strcmp(method, methods[i]) == 0)
				k = i;
		s = &m->reqs[m->nroutes + k];
		h = &m->hists[m->nhist - 1];
	}
	atomic_fetch_add_explicit(&slot_for(s, status)->n, 1,
	    memory_order_relaxed);
	if (!(seconds >= 0)) /* also NaN */
		seconds = 0;
	while (b < NBUCKETS && seconds > buckets[b])
		b++;
	atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint_least64_t)(seconds * 1e9),
	    memory_order_relaxed);
}

/* ------------------------------------------------------------------------
 * Rendering
 * --------------------------------------------------------------------- */

static uint_least64_t
load(atomic_uint_least64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

/* A sample value as Prometheus spells it (NaN, +Inf, -Inf), finite ones
 * in the fewest digits that read back as the same double. */
static void
put_value(FILE *o, double v)
{
	char num[32];

	if (isnan(v)) {
		fputs("NaN", o);
		return;
	}
	if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", o);
		return;
	}
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(num, sizeof num, "%.*g", digits, v);
		if (strtod(num, NULL) == v)
			break;
	}
	fputs(num, o);
}

/* A label value in quotes, with \ " and newline escaped. */
static void
put_label(FILE *o, const char *s)
{
	fputc('"', o);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', o);
		if (*s == '\n')
			fputs("\\n", o);
		else
			fputc(*s, o);
	}
	fputc('"', o);
}

static void
put_family(FILE *o, const char *name, const char *type, const char *help)
{
	fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The route label of series/histogram index i (matched or unmatched). */
static const char *
label_of(const metrics *m, size_t route)
{
	return route < m->nroutes ? m->labels[route] : "unmatched";
}

static void
put_requests(FILE *o, metrics *m)
{
	put_family(o, "mlpd_http_requests_total", "counter",
	    "HTTP requests answered, by route pattern, method and status.");
	for (size_t i = 0; i < 2 * m->nroutes + NMETHODS; i++) {
		req_series *s = &m->reqs[i];
		size_t route = i < m->nroutes + NMETHODS ? i :
		    i - m->nroutes - NMETHODS;
		const char *method = i < m->nroutes ? m->routes[i].method :
		    i < m->nroutes + NMETHODS ? methods[i - m->nroutes] : "HEAD";

		for (size_t k = 0; k < CODE_SLOTS; k++) {
			code_slot *c = &s->slots[k];
			int code = atomic_load_explicit(&c->code,
			    memory_order_relaxed);
			uint_least64_t n = load(&c->n);

			if (k == CODE_SLOTS - 1 ? n == 0 : code == 0)
				continue;
			fputs("mlpd_http_requests_total{route=", o);
			put_label(o, label_of(m, route));
			fputs(",method=", o);
			put_label(o, method);
			if (k == CODE_SLOTS - 1)
				fputs(",code=\"other\"", o);
			else
				fprintf(o, ",code=\"%d\"", code);
			fprintf(o, "} %llu\n", (unsigned long long)n);
		}
	}
}

/* One route label's histogram: cumulative buckets, +Inf, sum, count. The
 * count is the +Inf bucket, so the two always agree. */
static void
put_hist(FILE *o, duration_hist *h, const char *route)
{
	static const char name[] = "mlpd_http_request_duration_seconds";
	uint_least64_t cum = 0;

	for (size_t b = 0; b <= NBUCKETS; b++) {
		cum += load(&h->bucket[b]);
		fprintf(o, "%s_bucket{route=", name);
		put_label(o, route);
		if (b < NBUCKETS)
			fprintf(o, ",le=\"%g\"} %llu\n", buckets[b],
			    (unsigned long long)cum);
		else
			fprintf(o, ",le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
	}
	fprintf(o, "%s_sum{route=", name);
	put_label(o, route);
	fputs("} ", o);
	put_value(o, (double)load(&h->sum_ns) / 1e9);
	fprintf(o, "\n%s_count{route=", name);
	put_label(o, route);
	fprintf(o, "} %llu\n", (unsigned long long)cum);
}

static void
put_durations(FILE *o, metrics *m)
{
	put_family(o, "mlpd_http_request_duration_seconds", "histogram",
	    "Time from a request's arrival to its response, by route "
	    "pattern.");
	for (size_t hi = 0; hi < m->nhist; hi++) {
		const char *route = "unmatched";

		for (size_t i = 0; i < m->nroutes; i++) {
			if (m->hist_of[i] == hi) {
				route = m->labels[i];
				break;
			}
		}
		put_hist(o, &m->hists[hi], route);
	}
}

static void
put_models(FILE *o, registry *reg)
{
	size_t held = 0, n;
	model_entry **all = registry_list(reg, &held);
	registry_view *v = malloc((held ? held : 1) * sizeof *v);

	if (all == NULL)
		held = 0;
	n = v != NULL ? held : 0;
	/* one view per model, so its three series agree */
	for (size_t i = 0; i < n; i++)
		registry_view_of(all[i], &v[i]);
	put_family(o, "mlpd_training_steps_total", "counter",
	    "Training steps (minibatch updates) this process ran, by model.");
	for (size_t i = 0; i < n; i++) {
		fputs("mlpd_training_steps_total{model=", o);
		put_label(o, v[i].id);
		fprintf(o, "} %llu\n", (unsigned long long)v[i].trained_steps);
	}
	put_family(o, "mlpd_training_samples_total", "counter",
	    "Samples (rows) this process trained on, by model; a row "
	    "counts once per step that used it.");
	for (size_t i = 0; i < n; i++) {
		fputs("mlpd_training_samples_total{model=", o);
		put_label(o, v[i].id);
		fprintf(o, "} %llu\n",
		    (unsigned long long)v[i].trained_samples);
	}
	put_family(o, "mlpd_model_last_loss", "gauge",
	    "Loss of the model's last training step (absent until it has "
	    "trained), by model.");
	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i].last_loss))
			continue;
		fputs("mlpd_model_last_loss{model=", o);
		put_label(o, v[i].id);
		fputs("} ", o);
		put_value(o, v[i].last_loss);
		fputc('\n', o);
	}
	free(v);
	for (size_t i = 0; i < held; i++)
		registry_put(all[i]);
	free(all);
}

static void
put_jobs(FILE *o, trainer *tr)
{
	size_t counts[STORE_JOB_STATUS_COUNT_];

	trainer_job_counts(tr, counts);
	put_family(o, "mlpd_jobs", "gauge",
	    "Training jobs the daemon knows (this run's and those found in "
	    "the database), by state.");
	for (int s = 0; s < STORE_JOB_STATUS_COUNT_; s++)
		fprintf(o, "mlpd_jobs{state=\"%s\"} %zu\n",
		    store_job_status_name((store_job_status)s), counts[s]);
	put_family(o, "mlpd_job_queue_depth", "gauge",
	    "Train jobs waiting for a worker.");
	fprintf(o, "mlpd_job_queue_depth %zu\n", trainer_queue_depth(tr));
}

static void
put_database(FILE *o, store *st)
{
	int64_t size = store_size_bytes(st);

	put_family(o, "mlpd_database_size_bytes", "gauge",
	    "Bytes the SQLite database uses (page count times page size).");
	if (size >= 0)
		fprintf(o, "mlpd_database_size_bytes %lld\n",
		    (long long)size);
}

/* The connections the server shut down itself, by reason. */
static void
put_closed(FILE *o, const http_server *hs)
{
	unsigned long slow, idle;

	http_closed_counts(hs, &slow, &idle);
	put_family(o, "mlpd_http_connections_closed_total", "counter",
	    "Connections mlpd shut down itself: slow_request, a request "
	    "slower than --connection-timeout; idle_budget, past "
	    "--max-idle-per-ip.");
	fprintf(o, "mlpd_http_connections_closed_total{reason=\"slow_request\"}"
	    " %lu\n", slow);
	fprintf(o, "mlpd_http_connections_closed_total{reason=\"idle_budget\"}"
	    " %lu\n", idle);
}

void
metrics_set_node(metrics *m, const char *node_id)
{
	snprintf(m->node, sizeof m->node, "%s", node_id);
}

/* mlpd_node_info: which node answers (the label escaped as the text
 * format asks). */
static void
put_node(FILE *o, const metrics *m)
{
	put_family(o, "mlpd_node_info", "gauge",
	    "This node's --node-id (the name in its leases and job records); "
	    "always 1.");
	fputs("mlpd_node_info{node=\"", o);
	for (const char *p = m->node; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', o);
		fputc(*p, o);
	}
	fputs("\"} 1\n", o);
}

/* mlpd_blas_info: the OpenBLAS kernel set in use and who chose it. */
static void
put_blas(FILE *o)
{
	put_family(o, "mlpd_blas_info", "gauge",
	    "OpenBLAS's kernel set (core) and who chose it (choice: default, "
	    "user, auto, failed); always 1.");
	/* the names are OpenBLAS's own, plain words: nothing to escape */
	fprintf(o, "mlpd_blas_info{core=\"%s\",choice=\"%s\"} 1\n",
	    blas_tune_core(), blas_tune_state_name(blas_tune_get_state()));
}

char *
metrics_render(metrics *m, registry *reg, trainer *tr, store *st,
	       const http_server *hs, size_t *len)
{
	char *text = NULL;
	size_t n = 0;
	FILE *o = open_memstream(&text, &n);

	if (o == NULL)
		return NULL;
	if (m)
		put_requests(o, m);
	if (m)
		put_durations(o, m);
	if (m && m->node[0] != '\0')
		put_node(o, m);
	if (m)
		put_blas(o);
	if (hs)
		put_closed(o, hs);
	if (reg)
		put_models(o, reg);
	if (tr)
		put_jobs(o, tr);
	if (st)
		put_database(o, st);
	if (ferror(o)) {
		fclose(o);
		free(text);
		return NULL;
	}
	if (fclose(o) != 0) {
		free(text);
		return NULL;
	}
	*len = n;
	return text;
}
