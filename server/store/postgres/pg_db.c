/*
 * pg_db: the PostgreSQL store's connections and transactions (DESIGN in
 * pg_int.h): the bounded pool, the runners that wrap a body in one
 * transaction and run it again after a serialization failure, a deadlock
 * or a connection lost before COMMIT, the typed parameters, the column
 * readers, and the mapping of SQLSTATEs to faults, with the password
 * scrubbed from every message.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup, nanosleep */
#endif
#include "pg_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Type oids (pg_type.h is server-side; these never change). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_FLOAT4 700
#define OID_FLOAT8 701

#define TX_RETRIES 5        /* runs after a serialization failure/deadlock */
#define TX_BACKOFF_MS 10    /* doubled after each */

/* ---- messages ---- */

void
pg_scrub(const pg_store *s, char *msg)
{
	char *nl = strchr(msg, '\n');
	const char *sec = s != NULL ? s->secret : NULL;
	size_t n;
	char *p;

	if (nl != NULL)
		*nl = '\0';
	if (sec == NULL || (n = strlen(sec)) == 0)
		return;
	/* "***" is never longer than what it replaces when n >= 3; a
	 * shorter secret is blanked out byte for byte. */
	while ((p = strstr(msg, sec)) != NULL) {
		if (n >= 3) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + n, strlen(p + n) + 1);
		} else {
			memset(p, '*', n);
		}
	}
}

/* Copies libpq's or the server's text into buf (scrubbed, one line,
 * without the "ERROR:  " / "FATAL:  " prefixes' trailing blanks). */
static void
message(const pg_store *s, const char *text, char *buf, size_t cap)
{
	size_t len;

	snprintf(buf, cap, "%s", text != NULL && text[0] ? text :
		 "no answer from the server");
	pg_scrub(s, buf);
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\r' ||
			   buf[len - 1] == '.'))
		buf[--len] = '\0';
}

/* 1 for SQLSTATEs after which the server or the connection is away for
 * now: the connection exceptions of class 08 that say so (no connection,
 * it failed, could not be made or was refused, or a commit's outcome is
 * unknown), admin shutdown and crash (57P0x), too many connections, a
 * read-only standby (after a failover). Not 08P01, protocol_violation:
 * the server refusing what this client sent (e.g. a statement given
 * fewer parameters than it uses) is a bug to fix, not an outage to wait
 * out; it is an internal error like any other. */
static int
unavailable(const char *st)
{
	static const char *const away[] = {
		"08000", "08003", "08006", "08001", "08004", "08007",
		"53300", "25006", NULL
	};

	for (int i = 0; away[i] != NULL; i++)
		if (strcmp(st, away[i]) == 0)
			return 1;
	return strncmp(st, "57P0", 4) == 0;
}

int
pg_fault(pg_conn *c, const PGresult *r, fault *f, const char *what)
{
	const pg_store *s = c != NULL ? c->st : NULL;
	const char *st = r != NULL ?
	    PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *text;
	char msg[160];

	if (r != NULL)
		text = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	else
		text = NULL;
	if (text == NULL && r != NULL)
		text = PQresultErrorMessage(r);
	if ((text == NULL || !text[0]) && c != NULL && c->pq != NULL)
		text = PQerrorMessage(c->pq);
	message(s, text, msg, sizeof msg);
	if (c == NULL)
		return fault_set(f, FAULT_INTERNAL, "%s: %s", what, msg);
	snprintf(c->sqlstate, sizeof c->sqlstate, "%s", st != NULL ? st : "");
	c->retry = 0;
	if (c->pq == NULL || PQstatus(c->pq) != CONNECTION_OK)
		c->broken = 1;
	if (c->broken)
		return fault_set(f, FAULT_UNAVAILABLE,
				 "%s: PostgreSQL is unavailable (%s)", what,
				 msg);
	if (r == NULL)
		return fault_set(f, FAULT_NOMEM, "%s: out of memory", what);
	if (st == NULL) /* libpq's own, the connection still up */
		return fault_set(f, FAULT_INTERNAL, "%s: %s", what, msg);
	if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0) {
		c->retry = 1;
		return fault_set(f, FAULT_UNAVAILABLE,
				 "%s: PostgreSQL kept aborting the "
				 "transaction (%s)", what, msg);
	}
	if (unavailable(st)) {
		c->broken = 1;
		return fault_set(f, FAULT_UNAVAILABLE,
				 "%s: PostgreSQL is unavailable (%s)", what,
				 msg);
	}
	if (strcmp(st, "53100") == 0)
		return fault_set(f, FAULT_FULL, "%s: the database server's "
				 "disk is full; nothing was written", what);
	if (strcmp(st, "53200") == 0)
		return fault_set(f, FAULT_NOMEM, "%s: the database server "
				 "is out of memory (%s)", what, msg);
	if (strncmp(st, "23", 2) == 0 || strncmp(st, "22", 2) == 0)
		return fault_set(f, FAULT_INVALID, "%s: %s", what, msg);
	return fault_set(f, FAULT_INTERNAL, "%s: PostgreSQL error %s (%s)",
			 what, st, msg);
}

/* ---- connections ---- */

/* libpq prints NOTICEs (e.g. from CREATE .. IF NOT EXISTS) to stderr
 * unless told otherwise; the store has nothing to say about them. */
static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

pg_conn *
pg_conn_open(pg_store *s, fault *f)
{
	/* The conninfo comes last (expanded as dbname): its own settings
	 * override these defaults. */
	static const char *const kw[] = {
		"connect_timeout", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count",
		"fallback_application_name", "dbname", NULL
	};
	const char *val[] = {
		PG_CONNECT_TIMEOUT, "1", "10", "5", "3", "mlpd", s->conninfo,
		NULL
	};
	pg_conn *c = calloc(1, sizeof *c);
	char msg[200];

	if (c == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory opening a "
			  "PostgreSQL connection");
		return NULL;
	}
	c->st = s;
	c->pq = PQconnectdbParams(kw, val, 1);
	if (c->pq == NULL) {
		free(c);
		fault_set(f, FAULT_NOMEM, "out of memory opening a "
			  "PostgreSQL connection");
		return NULL;
	}
	if (PQstatus(c->pq) != CONNECTION_OK) {
		message(s, PQerrorMessage(c->pq), msg, sizeof msg);
		fault_set(f, FAULT_UNAVAILABLE, "cannot connect to "
			  "PostgreSQL: %s", msg);
		pg_conn_close(c);
		return NULL;
	}
	PQsetNoticeProcessor(c->pq, quiet, NULL);
	if (PQserverVersion(c->pq) < 110000) {
		fault_set(f, FAULT_INVALID, "PostgreSQL %d.%d is too old: "
			  "mlpd needs version 11 or newer",
			  PQserverVersion(c->pq) / 10000,
			  PQserverVersion(c->pq) % 10000 / 100);
		pg_conn_close(c);
		return NULL;
	}
	return c;
}

void
pg_conn_close(pg_conn *c)
{
	if (c == NULL)
		return;
	if (c->pq != NULL)
		PQfinish(c->pq);
	free(c);
}

pg_conn *
pg_conn_get(pg_store *s, fault *f)
{
	pg_conn *c = NULL;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		if (s->nidle > 0) {
			c = s->idle[--s->nidle];
			break;
		}
		if (s->nopen < PG_POOL_MAX) {
			s->nopen++;
			break;
		}
		pthread_cond_wait(&s->freed, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	/* A connection the server dropped while it was idle is only found
	 * so when it is used; one known lost is replaced now. */
	if (c != NULL && PQstatus(c->pq) == CONNECTION_OK)
		return c;
	pg_conn_close(c);
	if ((c = pg_conn_open(s, f)) == NULL) {
		pthread_mutex_lock(&s->lock);
		s->nopen--;
		pthread_cond_signal(&s->freed);
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	/* a new connection: the server may have restarted meanwhile */
	pg_presence_refresh(s);
	return c;
}

void
pg_conn_put(pg_store *s, pg_conn *c)
{
	if (c == NULL)
		return;
	c->retry = 0;
	c->sqlstate[0] = '\0';
	if (c->broken || PQstatus(c->pq) != CONNECTION_OK ||
	    PQtransactionStatus(c->pq) != PQTRANS_IDLE) {
		pg_conn_close(c);
		c = NULL;
	}
	pthread_mutex_lock(&s->lock);
	if (c != NULL)
		s->idle[s->nidle++] = c;
	else
		s->nopen--;
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
}

void
pg_pool_drain(pg_store *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->nidle > 0) {
		pg_conn_close(s->idle[--s->nidle]);
		s->nopen--;
	}
	pthread_mutex_unlock(&s->lock);
}

uint64_t
pg_hist_raw(pg_store *s)
{
	uint64_t v;

	pthread_mutex_lock(&s->lock);
	v = s->hist_raw;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* ---- transactions ---- */

/* Runs a statement of the runner's own (BEGIN, COMMIT, ROLLBACK). */
static int
tx_simple(pg_conn *c, const char *sql, fault *f, const char *what)
{
	PGresult *r = PQexec(c->pq, sql);
	int rc = 0;

	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fault(c, r, f, what);
	PQclear(r);
	return rc;
}

/* After a failure inside a transaction: ROLLBACK, best effort (a
 * connection it cannot roll back is closed when given back). */
static void
rollback(pg_conn *c)
{
	PGresult *r;

	if (c->broken || PQtransactionStatus(c->pq) == PQTRANS_IDLE)
		return;
	r = PQexec(c->pq, "ROLLBACK");
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		c->broken = 1;
	PQclear(r);
}

/* Outcomes of one attempt, for the runner. */
enum { TX_OK, TX_FAILED, TX_RETRY, TX_RECONNECT };

void
pg_idle_limit(pg_store *s, int64_t ms)
{
	if (ms < PG_IDLE_MIN_MS)
		ms = PG_IDLE_MIN_MS;
	pthread_mutex_lock(&s->lock);
	if (ms > s->idle_ms)
		s->idle_ms = ms;
	pthread_mutex_unlock(&s->lock);
}

/* Gives c the store's idle-in-transaction limit when it has another. */
static int
idle_sync(pg_conn *c, fault *f)
{
	char sql[80];
	int64_t ms;

	pthread_mutex_lock(&c->st->lock);
	ms = c->st->idle_ms;
	pthread_mutex_unlock(&c->st->lock);
	if (ms == c->idle_ms)
		return 0;
	snprintf(sql, sizeof sql, "SET idle_in_transaction_session_timeout "
		 "= %lld", (long long)ms);
	if (tx_simple(c, sql, f, "setting the idle limit") != 0)
		return -1;
	c->idle_ms = ms;
	return 0;
}

static int
tx_attempt(pg_conn *c, const char *begin, pg_body body, void *arg, fault *f)
{
	int committing = 0;

	c->retry = 0;
	c->sqlstate[0] = '\0';
	if (idle_sync(c, f) != 0 ||
	    tx_simple(c, begin, f, "starting a transaction") != 0)
		goto fail;
	if (body(c, arg, f) != 0)
		goto fail;
	committing = 1;
	if (tx_simple(c, "COMMIT", f, "committing") != 0)
		goto fail;
	return TX_OK;
fail:
	rollback(c);
	if (c->retry)
		return TX_RETRY;
	/* Lost before COMMIT was sent: nothing was committed, so the body
	 * may run again on a fresh connection. Lost at COMMIT: the outcome
	 * is unknown, so it is not run again. */
	if (c->broken && !committing)
		return TX_RECONNECT;
	return TX_FAILED;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
tx_run(pg_store *s, const char *begin, pg_body body, void *arg, fault *f)
{
	long backoff = TX_BACKOFF_MS;
	int retries = 0, reconnected = 0;

	for (;;) {
		pg_conn *c = pg_conn_get(s, f);
		int out;

		if (c == NULL)
			return -1;
		out = tx_attempt(c, begin, body, arg, f);
		pg_conn_put(s, c);
		if (out == TX_OK)
			return 0;
		if (out == TX_RETRY && retries < TX_RETRIES) {
			retries++;
			sleep_ms(backoff);
			backoff *= 2;
			continue;
		}
		if (out == TX_RECONNECT && !reconnected) {
			reconnected = 1;
			continue;
		}
		return -1;
	}
}

int
pg_do_tx(pg_conn *c, const char *begin, pg_body body, void *arg, fault *f)
{
	return tx_attempt(c, begin, body, arg, f) == TX_OK ? 0 : -1;
}

int
pg_write_tx(pg_store *s, pg_body body, void *arg, fault *f)
{
	return tx_run(s, "BEGIN ISOLATION LEVEL READ COMMITTED", body, arg,
		      f);
}

int
pg_read_tx(pg_store *s, pg_body body, void *arg, fault *f)
{
	return tx_run(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		      body, arg, f);
}

/* ---- parameters ---- */

static int
slot(pg_params *p)
{
	if (p->n >= PG_PARAMS_MAX) {
		p->bad = 1;
		return -1;
	}
	return p->n++;
}

static void
put_be64(unsigned char *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static void
null_of(pg_params *p, int i, Oid type)
{
	p->types[i] = type;
	p->values[i] = NULL;
	p->lengths[i] = 0;
	p->formats[i] = 1;
}

void
pg_p_i64(pg_params *p, int64_t v)
{
	int i = slot(p);

	if (i < 0)
		return;
	put_be64(p->num[i], (uint64_t)v);
	p->types[i] = OID_INT8;
	p->values[i] = (const char *)p->num[i];
	p->lengths[i] = 8;
	p->formats[i] = 1;
}

void
pg_p_time(pg_params *p, int64_t v)
{
	int i;

	if (v != 0) {
		pg_p_i64(p, v);
		return;
	}
	if ((i = slot(p)) >= 0)
		null_of(p, i, OID_INT8);
}

void
pg_p_real(pg_params *p, double v)
{
	uint64_t u;
	int i = slot(p);

	if (i < 0)
		return;
	if (isnan(v)) {
		null_of(p, i, OID_FLOAT8);
		return;
	}
	memcpy(&u, &v, sizeof u);
	put_be64(p->num[i], u);
	p->types[i] = OID_FLOAT8;
	p->values[i] = (const char *)p->num[i];
	p->lengths[i] = 8;
	p->formats[i] = 1;
}

void
pg_p_text(pg_params *p, const char *s)
{
	int i = slot(p);

	if (i < 0)
		return;
	p->types[i] = OID_TEXT;
	p->values[i] = s;
	p->lengths[i] = 0;
	p->formats[i] = 0;
}

void
pg_p_bytea(pg_params *p, const void *b, size_t n)
{
	int i = slot(p);

	if (i < 0)
		return;
	if (n > (size_t)1 << 30) { /* bytea's own limit is 1 GB */
		p->bad = 1;
		return;
	}
	p->types[i] = OID_BYTEA;
	p->values[i] = b != NULL ? (const char *)b : "";
	p->lengths[i] = (int)n;
	p->formats[i] = 1;
}

/* ---- statements ---- */

PGresult *
pg_exec(pg_conn *c, const char *sql, const pg_params *p, int binary,
	fault *f, const char *what)
{
	PGresult *r;
	ExecStatusType st;

	if (p != NULL && p->bad) {
		fault_set(f, FAULT_INTERNAL, "%s: too many parameters or a "
			  "value over 1 GB", what);
		return NULL;
	}
	r = PQexecParams(c->pq, sql, p ? p->n : 0, p ? p->types : NULL,
			 p ? p->values : NULL, p ? p->lengths : NULL,
			 p ? p->formats : NULL, binary);
	st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	pg_fault(c, r, f, what);
	PQclear(r);
	return NULL;
}

int64_t
pg_run(pg_conn *c, const char *sql, const pg_params *p, fault *f,
       const char *what)
{
	PGresult *r = pg_exec(c, sql, p, 0, f, what);
	const char *n;
	int64_t rows;

	if (r == NULL)
		return -1;
	n = PQcmdTuples(r);
	rows = n != NULL && n[0] ? strtoll(n, NULL, 10) : 0;
	PQclear(r);
	return rows;
}

/* ---- columns ---- */

static uint64_t
get_be(const unsigned char *b, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

int
pg_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col);
}

int64_t
pg_i64(const PGresult *r, int row, int col)
{
	const unsigned char *b;

	if (PQgetisnull(r, row, col))
		return 0;
	b = (const unsigned char *)PQgetvalue(r, row, col);
	if (PQfformat(r, col) == 0)
		return strtoll((const char *)b, NULL, 10);
	switch (PQftype(r, col)) {
	case OID_INT2:
		return (int16_t)get_be(b, 2);
	case OID_INT4:
		return (int32_t)get_be(b, 4);
	case OID_INT8:
		return (int64_t)get_be(b, 8);
	case OID_BOOL:
		return b[0] != 0;
	default:
		return 0;
	}
}

double
pg_real(const PGresult *r, int row, int col)
{
	const unsigned char *b;
	uint64_t u;
	uint32_t w;
	double d;
	float x;

	if (PQgetisnull(r, row, col))
		return NAN;
	b = (const unsigned char *)PQgetvalue(r, row, col);
	if (PQfformat(r, col) == 0)
		return strtod((const char *)b, NULL);
	switch (PQftype(r, col)) {
	case OID_FLOAT8:
		u = get_be(b, 8);
		memcpy(&d, &u, sizeof d);
		return d;
	case OID_FLOAT4:
		w = (uint32_t)get_be(b, 4);
		memcpy(&x, &w, sizeof x);
		return x;
	default:
		return (double)pg_i64(r, row, col);
	}
}

const char *
pg_text(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return "";
	return PQgetvalue(r, row, col);
}

const void *
pg_bytes(const PGresult *r, int row, int col, size_t *len)
{
	*len = 0;
	if (PQgetisnull(r, row, col) || PQfformat(r, col) != 1)
		return NULL;
	*len = (size_t)PQgetlength(r, row, col);
	return PQgetvalue(r, row, col);
}

void *
pg_copy_bytes(const PGresult *r, int row, int col, size_t *len, fault *f)
{
	const void *b;
	void *d;
	size_t n = 0;
	unsigned char *u = NULL;

	if (PQfformat(r, col) == 1 || PQgetisnull(r, row, col)) {
		b = pg_bytes(r, row, col, &n);
	} else {
		u = PQunescapeBytea((const unsigned char *)
				    PQgetvalue(r, row, col), &n);
		if (u == NULL)
			goto nomem;
		b = u;
	}
	if ((d = malloc(n > 0 ? n : 1)) == NULL) {
		PQfreemem(u);
		goto nomem;
	}
	if (n > 0)
		memcpy(d, b, n);
	PQfreemem(u);
	*len = n;
	return d;
nomem:
	fault_set(f, FAULT_NOMEM, "out of memory copying a stored value");
	return NULL;
}

int
pg_copy_id(char dst[STORE_ID_MAX], const PGresult *r, int row, int col,
	   fault *f)
{
	const char *t = pg_text(r, row, col);
	size_t len = strlen(t);

	if (len == 0 || len >= STORE_ID_MAX)
		return fault_set(f, FAULT_INTERNAL,
				 "a stored id is empty or too long");
	memcpy(dst, t, len + 1);
	return 0;
}

char *
pg_copy_text(const PGresult *r, int row, int col, fault *f)
{
	char *d = strdup(pg_text(r, row, col));

	if (d == NULL)
		fault_set(f, FAULT_NOMEM, "out of memory copying a row");
	return d;
}

int
pg_check_id(const char *id, const char *kind, fault *f)
{
	return store_check_id(id, kind, f); /* store.c: one check for both */
}
