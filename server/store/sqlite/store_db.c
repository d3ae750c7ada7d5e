/*
 * store_db: the store's connections and transactions (DESIGN and lock
 * order in store_int.h): opening a connection, the statement cache, the
 * binders and row reader every resource file uses, the writer and the
 * pool of readers, and the runners that wrap a body in one transaction,
 * retried while another process holds the file.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strnlen, strdup, nanosleep */
#endif
#include "store_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUSY_TIMEOUT_MS 5000 /* SQLite's own wait for a lock, per statement */
#define BUSY_RETRIES 5       /* whole-transaction retries after that */
#define READERS_KEPT 4       /* idle read connections kept open */

enum q { Q_BEGIN_READ, Q_BEGIN_WRITE, Q_COMMIT, Q_ROLLBACK, Q_COUNT_ };

static const char *const q_sql[Q_COUNT_] = {
	[Q_BEGIN_READ] = "BEGIN",
	[Q_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
};

static int
is_busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* What a write that found no room says (FAULT_FULL): SQLITE_FULL comes
 * both from a full disk and from PRAGMA max_page_count (--max-db-size). */
#define STORE_FULL_MSG \
	"the disk is full or the database reached its size limit " \
	"(--max-db-size); nothing was written"

int
db_fault(conn *c, int rc, fault *f, const char *what)
{
	const char *msg = sqlite3_errstr(rc);
	int sys = 0;

	if (c != NULL) {
		c->rc = rc;
		if ((sqlite3_errcode(c->db) & 0xff) == (rc & 0xff))
			msg = sqlite3_errmsg(c->db);
		sys = sqlite3_system_errno(c->db);
	}
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return fault_set(f, FAULT_FULL, "%s: " STORE_FULL_MSG, what);
	case SQLITE_IOERR:
		if (sys == ENOSPC || sys == EDQUOT || sys == EFBIG)
			return fault_set(f, FAULT_FULL, "%s: " STORE_FULL_MSG,
					 what);
		return fault_set(f, FAULT_INTERNAL, "%s: I/O error (%s)",
				 what, msg);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return fault_set(f, FAULT_INTERNAL,
				 "%s: the database stayed locked (%s)", what,
				 msg);
	case SQLITE_NOMEM:
		return fault_set(f, FAULT_NOMEM, "%s: out of memory", what);
	case SQLITE_CONSTRAINT:
	case SQLITE_TOOBIG:
		return fault_set(f, FAULT_INVALID, "%s: %s", what, msg);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return fault_set(f, FAULT_INTERNAL,
				 "%s: the database file is corrupt or not a "
				 "database (%s)", what, msg);
	case SQLITE_READONLY:
		return fault_set(f, FAULT_INTERNAL,
				 "%s: the database is read-only (%s)", what,
				 msg);
	default:
		return fault_set(f, FAULT_INTERNAL, "%s: %s", what, msg);
	}
}

/* ---- rows ---- */

int
db_check_id(const char *id, const char *kind, fault *f)
{
	return store_check_id(id, kind, f); /* store.c: one check for both */
}

int
db_copy_id(char dst[STORE_ID_MAX], sqlite3_stmt *st, int col, fault *f)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	size_t len = t ? strlen(t) : 0;

	if (len == 0 || len >= STORE_ID_MAX)
		return fault_set(f, FAULT_INTERNAL,
				 "a stored id is empty or too long");
	memcpy(dst, t, len + 1);
	return 0;
}

char *
db_copy_text(sqlite3_stmt *st, int col, fault *f)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	char *d = strdup(t ? t : "");

	if (d == NULL)
		fault_set(f, FAULT_NOMEM, "out of memory copying a row");
	return d;
}

double
db_real(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NAN;
	return sqlite3_column_double(st, col);
}

/* Grows *p (of *cap elements of size elem) to hold at least need. */
static int
grow(void **p, size_t *cap, size_t need, size_t elem, fault *f)
{
	size_t ncap = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			goto nomem;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		goto nomem;
	if ((q = realloc(*p, ncap * elem)) == NULL)
		goto nomem;
	*p = q;
	*cap = ncap;
	return 0;
nomem:
	return fault_set(f, FAULT_NOMEM, "out of memory reading rows");
}

int
db_rows(conn *c, sqlite3_stmt *st, db_array *a, db_fill fill, fault *f,
	const char *what)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow(&a->v, &a->cap, a->n + 1, a->elem, f) != 0 ||
		    fill(st, (char *)a->v + a->n * a->elem, f) != 0) {
			db_done(st);
			return -1;
		}
		a->n++;
	}
	if (rc != SQLITE_DONE)
		db_fault(c, rc, f, what);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- statements ---- */

sqlite3_stmt *
db_stmt(conn *c, const char *sql, fault *f)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* A few dozen statements: a scan of their addresses costs less than
	 * the smallest step. */
	for (size_t i = 0; i < c->nst; i++) {
		if (c->st[i].sql == sql)
			return c->st[i].st;
	}
	if (grow((void **)&c->st, &c->capst, c->nst + 1, sizeof *c->st,
		 f) != 0)
		return NULL;
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				&st, NULL);
	if (rc != SQLITE_OK) {
		db_fault(c, rc, f, "preparing a statement");
		sqlite3_finalize(st);
		return NULL;
	}
	c->st[c->nst].sql = sql;
	c->st[c->nst].st = st;
	c->nst++;
	return st;
}

void
db_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

void
db_bind_i64(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_int64(st, i, v);
}

void
db_bind_time(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = v ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

void
db_bind_real(sqlite3_stmt *st, int i, double v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = isnan(v) ? sqlite3_bind_null(st, i)
			       : sqlite3_bind_double(st, i, v);
}

/* Text, or NULL for a NULL pointer. */
void
db_bind_text(sqlite3_stmt *st, int i, const char *s, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC)
			: sqlite3_bind_null(st, i);
}

/* A blob; an empty one stays a (zero-length) blob, never NULL. */
void
db_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	if (n == 0 || p == NULL)
		*rc = sqlite3_bind_zeroblob(st, i, 0);
	else
		*rc = sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC);
}

int
db_bound(conn *c, sqlite3_stmt *st, int rc, fault *f, const char *what)
{
	if (rc == SQLITE_OK)
		return 0;
	db_fault(c, rc, f, what);
	db_done(st);
	return -1;
}

int
db_run(conn *c, sqlite3_stmt *st, fault *f, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		db_fault(c, rc, f, what);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
db_run_text(conn *c, const char *sql, const char *text, fault *f,
	    const char *what)
{
	sqlite3_stmt *st = db_stmt(c, sql, f);
	int rc = SQLITE_OK;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, text, &rc);
	if (db_bound(c, st, rc, f, what) != 0)
		return -1;
	return db_run(c, st, f, what);
}

/* ---- connections and transactions ---- */

void
db_conn_close(conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nst; i++)
		sqlite3_finalize(c->st[i].st);
	free(c->st);
	/* Nothing to report from a destructor; close_v2 never leaks the
	 * handle even if something were still open. */
	sqlite3_close_v2(c->db);
	free(c);
}

conn *
db_conn_open(const char *path, int readonly, fault *f)
{
	int flags = SQLITE_OPEN_NOMUTEX |
		    (readonly ? SQLITE_OPEN_READONLY
			      : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	conn *c = calloc(1, sizeof *c);
	int rc;

	if (c == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory opening the database");
		return NULL;
	}
	rc = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		if (c->db == NULL)
			fault_set(f, FAULT_NOMEM,
				  "out of memory opening the database");
		else
			db_fault(c, rc, f, "cannot open the file");
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	rc = sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK) {
		db_fault(c, rc, f, "setting the busy timeout");
		goto fail;
	}
	return c;
fail:
	db_conn_close(c);
	return NULL;
}

int
db_do_tx(conn *c, int write, tx_body body, void *arg, fault *f)
{
	sqlite3_stmt *st;
	int rc;

	c->rc = SQLITE_OK;
	/* A ROLLBACK that failed last time left a transaction open. */
	if (!sqlite3_get_autocommit(c->db) &&
	    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		return db_fault(c, sqlite3_errcode(c->db), f,
				"ending an earlier transaction");
	st = db_stmt(c, q_sql[write ? Q_BEGIN_WRITE : Q_BEGIN_READ], f);
	if (st == NULL || db_run(c, st, f, "starting a transaction") != 0)
		return -1;
	if (body(c, arg, f) != 0)
		goto fail;
	if ((st = db_stmt(c, q_sql[Q_COMMIT], f)) == NULL ||
	    db_run(c, st, f, "committing") != 0)
		goto fail;
	return 0;
fail:
	/* Some errors (a full disk, I/O) already rolled back. A ROLLBACK
	 * that fails leaves nothing better to do than report the first
	 * error, which is what the caller is about to see. */
	rc = c->rc;
	if (!sqlite3_get_autocommit(c->db) &&
	    (st = db_stmt(c, q_sql[Q_ROLLBACK], NULL)) != NULL) {
		sqlite3_step(st);
		db_done(st);
	}
	c->rc = rc;
	return -1;
}

static void
backoff(int attempt)
{
	struct timespec ts = { 0, 20000000L * (attempt + 1) };

	nanosleep(&ts, NULL);
}

int
db_write_tx(store *st, tx_body body, void *arg, fault *f)
{
	sq_store *s = sq_of(st);
	int r;

	pthread_mutex_lock(&s->wlock);
	for (int attempt = 0;; attempt++) {
		r = db_do_tx(s->writer, 1, body, arg, f);
		if (r == 0 || !is_busy(s->writer->rc) || attempt == BUSY_RETRIES)
			break;
		backoff(attempt);
	}
	pthread_mutex_unlock(&s->wlock);
	return r;
}

/* Takes a read connection: an idle one, a new one, or (in memory) the
 * writer with wlock held. Give it back with db_reader_put. */
static conn *
reader_get(sq_store *s, fault *f)
{
	conn *c;

	if (s->memory) {
		pthread_mutex_lock(&s->wlock);
		return s->writer;
	}
	pthread_mutex_lock(&s->rlock);
	c = s->idle;
	if (c != NULL) {
		s->idle = c->next;
		s->nidle--;
	}
	pthread_mutex_unlock(&s->rlock);
	if (c == NULL)
		c = db_conn_open(s->path, 1, f);
	return c;
}

void
db_reader_put(sq_store *s, conn *c)
{
	if (s->memory) {
		pthread_mutex_unlock(&s->wlock);
		return;
	}
	pthread_mutex_lock(&s->rlock);
	if (s->nidle < READERS_KEPT) {
		c->next = s->idle;
		s->idle = c;
		s->nidle++;
		c = NULL;
	}
	pthread_mutex_unlock(&s->rlock);
	db_conn_close(c);
}

int
db_read_tx(store *st, tx_body body, void *arg, fault *f)
{
	sq_store *s = sq_of(st);
	conn *c;
	int r, busy;

	for (int attempt = 0;; attempt++) {
		if ((c = reader_get(s, f)) == NULL)
			return -1;
		r = db_do_tx(c, 0, body, arg, f);
		busy = is_busy(c->rc);
		db_reader_put(s, c);
		if (r == 0 || !busy || attempt == BUSY_RETRIES)
			return r;
		backoff(attempt);
	}
}
