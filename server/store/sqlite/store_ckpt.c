/*
 * store_ckpt: WAL checkpoints off the write path. SQLite's own
 * auto-checkpoint runs inside the commit that passes 1,000 WAL pages, so
 * the request that pushed a multi-MB batch also copied the whole WAL into
 * the database file and waited for two more fsyncs before its 201 (about
 * a fifth of a CSV push's time, perf and strace, issue 11). Here a
 * thread with its own connection does that copy after the commit.
 *
 * DESIGN: the writer connection's WAL hook (store_int.h: it runs on the
 * writer, wlock held, after each commit that is on disk) only wakes the
 * checkpoint thread once the WAL holds CKPT_BYTES; the thread runs a
 * PASSIVE checkpoint on its own read-write connection, which never blocks
 * the writer or a reader (it copies what no reader still needs and stops
 * there). Durability does not move: a commit is fsync'd in the WAL before
 * it returns, as before, and a checkpoint only copies committed pages.
 * Should the thread fall behind a stream of writes (the WAL past
 * CKPT_INLINE_BYTES), the writer checkpoints itself in the hook, as
 * SQLite's default hook would, so the WAL stays bounded. The lock k->mu
 * guards pending and stop only; it is a leaf, never held across SQL.
 */
#include "store_int.h"

#include <stdlib.h>

/* WAL bytes after which the thread checkpoints: SQLite's default of
 * 1,000 pages of 4 KiB. */
#define CKPT_BYTES (1000 * 4096)
/* WAL bytes after which the writer checkpoints itself (the
 * journal_size_limit store_open sets). */
#define CKPT_INLINE_BYTES (64 * 1024 * 1024)

struct sq_ckpt {
	conn *c;              /* the thread's own read-write connection */
	pthread_t thread;
	pthread_mutex_t mu;   /* guards pending and stop */
	pthread_cond_t cv;    /* signalled when either changes */
	int pending;          /* a checkpoint is wanted */
	int stop;             /* ckpt_stop: the thread ends */
	int pages, inline_pages; /* CKPT_BYTES, CKPT_INLINE_BYTES in the
	                            file's pages */
};

/* The writer's WAL hook (sqlite3_wal_hook): runs after each commit on the
 * writer thread, with the writer's lock held. */
static int
on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
	sq_ckpt *k = arg;

	if (pages >= k->inline_pages) {
		/* behind: what SQLite's default hook does, inline */
		(void)sqlite3_wal_checkpoint_v2(db, name,
						SQLITE_CHECKPOINT_PASSIVE,
						NULL, NULL);
		return SQLITE_OK;
	}
	if (pages >= k->pages) {
		pthread_mutex_lock(&k->mu);
		k->pending = 1;
		pthread_cond_signal(&k->cv);
		pthread_mutex_unlock(&k->mu);
	}
	return SQLITE_OK;
}

static void *
ckpt_main(void *arg)
{
	sq_ckpt *k = arg;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->pending && !k->stop)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stop)
			break;
		k->pending = 0;
		pthread_mutex_unlock(&k->mu);
		/* SQLITE_BUSY (a checkpoint already running) is fine: the
		 * next commit past k->pages asks again */
		(void)sqlite3_wal_checkpoint_v2(k->c->db, "main",
						SQLITE_CHECKPOINT_PASSIVE,
						NULL, NULL);
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* The file's page size (4096, SQLite's default, should it not say). */
static int
page_size(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int page = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) ==
	    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		page = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return page >= 512 ? page : 4096;
}

sq_ckpt *
ckpt_start(const char *path, conn *writer, fault *f)
{
	sq_ckpt *k = calloc(1, sizeof *k);
	char *err = NULL;
	int page;

	if (k == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory opening the database");
		return NULL;
	}
	if ((k->c = db_conn_open(path, 0, f)) == NULL)
		goto fail;
	/* a checkpoint syncs the WAL before and the file after copying */
	if (sqlite3_exec(k->c->db, "PRAGMA synchronous = FULL", NULL, NULL,
			 &err) != SQLITE_OK) {
		fault_set(f, FAULT_INTERNAL, "setting up the checkpointer: %s",
			  err ? err : "?");
		sqlite3_free(err);
		goto fail_conn;
	}
	page = page_size(k->c->db);
	k->pages = CKPT_BYTES / page;
	k->inline_pages = CKPT_INLINE_BYTES / page;
	if (pthread_mutex_init(&k->mu, NULL) != 0)
		goto nomem_conn;
	if (pthread_cond_init(&k->cv, NULL) != 0) {
		pthread_mutex_destroy(&k->mu);
		goto nomem_conn;
	}
	if (pthread_create(&k->thread, NULL, ckpt_main, k) != 0) {
		pthread_cond_destroy(&k->cv);
		pthread_mutex_destroy(&k->mu);
		goto nomem_conn;
	}
	/* replaces SQLite's auto-checkpoint on the writer */
	sqlite3_wal_hook(writer->db, on_wal, k);
	return k;
nomem_conn:
	fault_set(f, FAULT_NOMEM, "cannot start the checkpoint thread");
fail_conn:
	db_conn_close(k->c);
fail:
	free(k);
	return NULL;
}

void
ckpt_stop(sq_ckpt *k, conn *writer)
{
	if (k == NULL)
		return;
	/* the writer checkpoints on its own again (it closes last) */
	sqlite3_wal_autocheckpoint(writer->db, k->pages);
	pthread_mutex_lock(&k->mu);
	k->stop = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	db_conn_close(k->c);
	free(k);
}
