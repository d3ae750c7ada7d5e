/*
 * peers: a shared store's changes brought into the registry (see peers.h
 * for the DESIGN).
 */
#include "peers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "log.h"
#include "wallclock.h"

/* Milliseconds a failed wait for notifications waits before the next
 * (PostgreSQL away: the store answers at once). */
#define RETRY_MS 1000

/* What the last poll saw of a job (the poller's own). */
typedef struct job_mark {
	char id[STORE_ID_MAX];
	char model_id[STORE_ID_MAX];
	store_job_status status;
	char node[STORE_NODE_MAX];
	size_t at;  /* its place in the read that made it (merge_marks) */
} job_mark;

/* A model another node trains: a job of it runs there. */
typedef struct remote_run {
	char model_id[STORE_ID_MAX];
	char node[STORE_NODE_MAX];
} remote_run;

struct peers {
	peers_config c;
	char node[STORE_NODE_MAX]; /* c.node_id, copied ("" for none) */
	pthread_t thread;
	pthread_mutex_t mu;  /* guards stop */
	pthread_cond_t wake;
	int stop;
	/* a shared store's wait for notifications ends when cancel[0] is
	 * readable (peers_stop writes cancel[1]); -1 when not open */
	int cancel[2];
	/* the poller's own: ids the last poll found in the store and not in
	 * the registry */
	char (*missing)[STORE_ID_MAX];
	size_t nmissing;
	/* the poller's own: the jobs the last poll read, sorted by id */
	job_mark *jobs;
	size_t njobs;
	int jobs_known;  /* a poll read them: the next ones publish changes */
	/* the poller's own: on a shared store, the cursor of
	 * store_jobs_changed (the next read takes the rows written since;
	 * jobs keeps the marks of every job read so far) */
	uint64_t jobs_cursor;
	/* the models other nodes train now (from the marks), sorted by
	 * model id: written by the poller, read by the API
	 * (peers_training_elsewhere), under rmu (a leaf) */
	pthread_mutex_t rmu;
	remote_run *remote;
	size_t nremote;
};

/* What one poll read and compares. */
struct poll {
	store_model_stamp *st;
	size_t n, cap;
};

static int
collect_stamp(void *arg, const store_model_stamp *m)
{
	struct poll *k = arg;

	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 64;
		store_model_stamp *p = realloc(k->st, cap * sizeof *p);

		if (p == NULL)
			return -1;
		k->st = p;
		k->cap = cap;
	}
	k->st[k->n++] = *m;
	return 0;
}

static void
held(peers *p, const mlp_spec *spec, int delta)
{
	if (p->c.held != NULL)
		p->c.held(p->c.held_arg, spec, delta);
}

/* store_model_get callback of peers_fetch: the row becomes an entry. */
struct fetch {
	peers *p;
	model_entry *got;
};

static int
fetch_row(void *arg, const store_model *row)
{
	struct fetch *k = arg;
	fault f;
	model_entry *e = registry_entry_from_row(row, &f);
	int added = 0;

	if (e == NULL) {
		log_error("model %s: not loaded from the store: %s", row->id,
		    f.msg);
		return 0;
	}
	k->got = registry_add_new(k->p->c.reg, e, &added, &f);
	if (k->got == NULL)
		log_error("model %s: %s", row->id, f.msg);
	else if (added) {
		held(k->p, &e->spec, 1);
		log_info("model %s loaded: created on another node", row->id);
	}
	registry_put(e);
	return 0;
}

model_entry *
peers_fetch(peers *p, const char *id)
{
	struct fetch k = { p, NULL };
	fault f;

	if (p == NULL)
		return NULL;
	if (store_model_get(p->c.st, id, fetch_row, &k, &f) < 0)
		log_warn("model %s: cannot read it from the store: %s", id,
		    f.msg);
	return k.got;
}

/* What reload_row reloads, and the step it found. */
struct reload {
	model_entry *e;
	int done;       /* the snapshot was replaced */
	uint64_t step;  /* then: the stored step it is at */
	/* the registry's step and time before the read: a row with both
	 * is what e shows already (this node's own commit) */
	uint64_t had_step;
	int64_t had_ms;
};

/* store_model_get callback of reload: the checkpoint becomes e's
 * snapshot. */
static int
reload_row(void *arg, const store_model *row)
{
	struct reload *k = arg;
	model_entry *e = k->e;
	fault f;
	mlp *m;
	mlp_snapshot *s = NULL;
	store_model_stamp st;

	if (row->step == k->had_step && row->updated_ms == k->had_ms)
		return 0;
	if ((m = blob_load(row->blob, row->blob_len, &e->spec, &f)) != NULL) {
		mlp_set_step(m, row->step);
		s = mlp_snapshot_create(m, &f);
		mlp_destroy(m);
	}
	if (s == NULL) {
		log_error("model %s: checkpoint not reloaded: %s", row->id,
		    f.msg);
		return 0;
	}
	memset(&st, 0, sizeof st);
	st.step = row->step;
	st.updated_ms = row->updated_ms;
	st.samples = row->samples;
	st.last_loss = row->last_loss;
	/* not when this node published meanwhile: the row read before that
	 * may be older than what e shows now, and going back to it made the
	 * next reload publish this node's steps from there again (a /step
	 * here committed and published while the poller read the row of the
	 * one before); the next poll compares again */
	if (!registry_replace_snapshot(e, s, &st, k->had_step, k->had_ms))
		return 0;
	k->done = 1;
	k->step = row->step;
	return 0;
}

/* A `step` event for the points another node committed for e past step
 * from up to step to (see peers.h): all of them up to EVENTS_STEPS_MAX,
 * else the last one. trained: e's training count here before the stamps
 * were read; a change means this node trained it meanwhile, and its own
 * publisher tells. So does a task of e running on a worker here: a /step
 * commits (and NOTIFYs) before it counts and publishes, so the row just
 * read may be its own with the count not moved yet. Asked first: a task
 * that ended since had moved the count by then. */
static void
publish_steps(peers *p, model_entry *e, uint64_t from, uint64_t to,
	      uint64_t trained)
{
	store_loss_point *pts = NULL;
	size_t n = 0, gap = (size_t)(to - from);
	registry_view v;
	fault f;
	int busy;

	if (to - from > EVENTS_STEPS_MAX) {
		from = to - 1;
		gap = 1;
	}
	if (store_loss_query(p->c.st, e->id, from, gap, &pts, &n, &f) < 0) {
		log_warn("model %s: no step event for steps past %llu: %s",
		    e->id, (unsigned long long)from, f.msg);
		return;
	}
	while (n > 0 && pts[n - 1].step > to)
		n--;
	busy = trainer_model_busy(p->c.tr, e);
	registry_view_of(e, &v);
	if (!busy && v.trained_steps == trained && registry_job_counts(e,
	    NULL, NULL) == 0)
		events_step(p->c.ev, e->id, pts, n);
	free(pts);
}

/* A model the store no longer has leaves as a local delete leaves it,
 * the store untouched. */
static void
drop(peers *p, model_entry *e)
{
	if (!registry_remove_entry(p->c.reg, e))
		return; /* a local delete took it */
	trainer_forget_model(p->c.tr, e);
	versions_forget_model(p->c.vs, e->id);
	held(p, &e->spec, -1);
	events_model_deleted(p->c.ev, e->id);
	log_info("model %s dropped: deleted on another node", e->id);
	registry_put(e);
}

static int
was_missing(const peers *p, const char *id)
{
	for (size_t i = 0; i < p->nmissing; i++)
		if (strcmp(p->missing[i], id) == 0)
			return 1;
	return 0;
}

static int
mark_cmp(const void *a, const void *b)
{
	return strcmp(((const job_mark *)a)->id, ((const job_mark *)b)->id);
}

/* What one poll reads of the jobs: their marks, and copies of the rows
 * that changed since the last poll (error strings malloc'd, options
 * NULL). */
struct jobscan {
	const peers *p;
	job_mark *marks;
	size_t n, cap;
	store_job *changed;
	size_t nchanged, capchanged;
};

/* Appends one element of size elem to *buf (*n used of *cap): 0, or -1
 * when out of memory. */
static int
push(void *bufp, size_t *n, size_t *cap, size_t elem, const void *x)
{
	char **buf = bufp;

	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		char *b = c > SIZE_MAX / elem ? NULL : realloc(*buf, c * elem);

		if (b == NULL)
			return -1;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *n * elem, x, elem);
	(*n)++;
	return 0;
}

/* store_jobs_each callback of poll_jobs. */
static int
scan_job(void *arg, const store_job *j)
{
	struct jobscan *k = arg;
	const peers *p = k->p;
	job_mark m, *old;
	store_job row;

	memset(&m, 0, sizeof m);
	memcpy(m.id, j->id, sizeof m.id);
	memcpy(m.model_id, j->model_id, sizeof m.model_id);
	m.status = j->status;
	memcpy(m.node, j->node, sizeof m.node);
	m.at = k->n;
	if (push(&k->marks, &k->n, &k->cap, sizeof m, &m) < 0)
		return -1;
	if (!p->jobs_known || (p->node[0] != '\0' &&
	    strcmp(j->node, p->node) == 0))
		return 0;
	old = p->njobs == 0 ? NULL : bsearch(&m, p->jobs, p->njobs,
	    sizeof *p->jobs, mark_cmp);
	if (old != NULL && old->status == m.status &&
	    strcmp(old->node, m.node) == 0)
		return 0;
	row = *j;
	row.options = NULL;
	row.error = NULL;
	if (j->error != NULL && (row.error = strdup(j->error)) == NULL)
		return -1;
	if (push(&k->changed, &k->nchanged, &k->capchanged, sizeof row,
	    &row) < 0) {
		free((char *)row.error);
		return -1;
	}
	return 0;
}

/* Does this node's trainer speak for row: it has the job queued or
 * running, or shows it as row does (then it published it), or offered it
 * and row is still as offered (queued on no node: announced then)? */
static int
told_here(peers *p, const store_job *row)
{
	trainer_job_view v;

	if (trainer_job_get(p->c.tr, row->id, &v) < 0)
		return row->status == STORE_JOB_QUEUED && row->node[0] ==
		    '\0' && trainer_offered_here(p->c.tr, row->id);
	return v.row.status == STORE_JOB_QUEUED ||
	    v.row.status == STORE_JOB_RUNNING ||
	    (v.row.status == row->status && strcmp(v.row.node, row->node) ==
	    0);
}

/* By id, then by place in the read. */
static int
mark_at_cmp(const void *a, const void *b)
{
	const job_mark *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Marks k (n, read since the last poll; reordered here) into p->jobs,
 * which stays sorted: a job's mark replaced in place, the new jobs' added
 * (one merge, only when there are new ones). 0, or -1 out of memory. */
static int
merge_marks(peers *p, job_mark *k, size_t n)
{
	size_t m = 0, nnew = 0, i = 0, j = 0, o = 0;
	job_mark *out;

	if (n == 0)
		return 0;
	qsort(k, n, sizeof *k, mark_at_cmp);
	/* a job read twice (its row written between two pages): its last
	 * read stays */
	for (size_t r = 0; r < n; r++) {
		if (m > 0 && strcmp(k[m - 1].id, k[r].id) == 0)
			k[m - 1] = k[r];
		else
			k[m++] = k[r];
	}
	/* the known ones in place; the new ones to the front of k, still
	 * sorted */
	for (size_t r = 0; r < m; r++) {
		job_mark *old = p->njobs == 0 ? NULL : bsearch(&k[r], p->jobs,
		    p->njobs, sizeof *p->jobs, mark_cmp);

		if (old != NULL)
			*old = k[r];
		else
			k[nnew++] = k[r];
	}
	if (nnew == 0)
		return 0;
	if (p->njobs > SIZE_MAX / sizeof *out - nnew ||
	    (out = malloc((p->njobs + nnew) * sizeof *out)) == NULL)
		return -1;
	while (i < p->njobs || j < nnew) {
		if (j == nnew || (i < p->njobs &&
		    strcmp(p->jobs[i].id, k[j].id) < 0))
			out[o++] = p->jobs[i++];
		else
			out[o++] = k[j++];
	}
	free(p->jobs);
	p->jobs = out;
	p->njobs = o;
	return 0;
}

static int
remote_cmp(const void *a, const void *b)
{
	return strcmp(((const remote_run *)a)->model_id,
	    ((const remote_run *)b)->model_id);
}

/* The node training model_id in the sorted list r (n long), or NULL. */
static const remote_run *
remote_find(const remote_run *r, size_t n, const char *model_id)
{
	remote_run key;

	if (n == 0)
		return NULL;
	snprintf(key.model_id, sizeof key.model_id, "%s", model_id);
	return bsearch(&key, r, n, sizeof *r, remote_cmp);
}

/* Touches the model id (when this node has it), so that the ETags of
 * GET /v1/models change with what it shows of other nodes' jobs. */
static void
touch(peers *p, const char *id)
{
	model_entry *e = registry_get(p->c.reg, id);

	if (e != NULL)
		registry_touch(e);
	registry_put(e);
}

/* Rebuilds the list of models other nodes train from the marks, and
 * touches each model that came, went or moved to another node. */
static int
remote_update(peers *p)
{
	remote_run *r = NULL, *old;
	size_t n = 0, cap = 0, nold;

	for (size_t i = 0; i < p->njobs; i++) {
		const job_mark *m = &p->jobs[i];
		remote_run x;

		if (m->status != STORE_JOB_RUNNING || m->node[0] == '\0' ||
		    strcmp(m->node, p->node) == 0)
			continue;
		memcpy(x.model_id, m->model_id, sizeof x.model_id);
		memcpy(x.node, m->node, sizeof x.node);
		if (push(&r, &n, &cap, sizeof x, &x) < 0) {
			free(r);
			return -1;
		}
	}
	if (n > 1)
		qsort(r, n, sizeof *r, remote_cmp);
	pthread_mutex_lock(&p->rmu);
	old = p->remote;
	nold = p->nremote;
	p->remote = r;
	p->nremote = n;
	pthread_mutex_unlock(&p->rmu);
	/* the touches after the swap: a reader that sees the new version
	 * reads the new list */
	for (size_t i = 0; i < n; i++) {
		const remote_run *o = remote_find(old, nold, r[i].model_id);

		if (o == NULL || strcmp(o->node, r[i].node) != 0)
			touch(p, r[i].model_id);
	}
	for (size_t i = 0; i < nold; i++)
		if (remote_find(r, n, old[i].model_id) == NULL)
			touch(p, old[i].model_id);
	free(old);
	return 0;
}

int
peers_training_elsewhere(peers *p, const char *model_id, char *node,
			 size_t len)
{
	const remote_run *r;
	int found = 0;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->rmu);
	if ((r = remote_find(p->remote, p->nremote, model_id)) != NULL) {
		found = 1;
		if (node != NULL && len > 0)
			snprintf(node, len, "%s", r->node);
	}
	pthread_mutex_unlock(&p->rmu);
	return found;
}

/* The jobs part of a poll (see peers.h): `job` events for the rows other
 * nodes changed since the last poll. On a shared store only the rows
 * written since the last read are read (store_jobs_changed); else all of
 * them (store_jobs_each). */
static int
poll_jobs(peers *p, fault *f)
{
	struct jobscan k;
	int rc, shared = store_shared(p->c.st);

	memset(&k, 0, sizeof k);
	k.p = p;
	f->code = FAULT_NONE;
	if (shared)
		rc = store_jobs_changed(p->c.st, &p->jobs_cursor, scan_job, &k,
		    f);
	else
		rc = store_jobs_each(p->c.st, NULL, scan_job, &k, f);
	if (rc != 0) {
		if (rc > 0 || f->code == FAULT_NONE)
			fault_set(f, FAULT_NOMEM, "out of memory");
		rc = -1;
		goto out;
	}
	if (shared) {
		if (merge_marks(p, k.marks, k.n) < 0) {
			rc = fault_set(f, FAULT_NOMEM, "out of memory");
			goto out;
		}
	} else {
		if (k.n > 1)
			qsort(k.marks, k.n, sizeof *k.marks, mark_cmp);
		free(p->jobs);
		p->jobs = k.marks;
		p->njobs = k.n;
		k.marks = NULL;
	}
	p->jobs_known = 1;
	if (remote_update(p) < 0) {
		rc = fault_set(f, FAULT_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < k.nchanged; i++)
		if (!told_here(p, &k.changed[i]))
			events_job(p->c.ev, &k.changed[i]);
out:
	for (size_t i = 0; i < k.nchanged; i++)
		free((char *)k.changed[i].error);
	free(k.changed);
	free(k.marks);
	return rc;
}

int
peers_poll(peers *p, fault *f)
{
	struct poll k = { NULL, 0, 0 };
	model_entry **have;
	size_t n, nmiss = 0;
	char *seen = NULL;
	char (*miss)[STORE_ID_MAX] = NULL;
	uint64_t *trained = NULL, *rows = NULL;
	int rc = -1;

	/* the registry first: whatever it lists was in the store before the
	 * query below, unless deleted since */
	if ((have = registry_list(p->c.reg, &n)) == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory");
	/* and what this node trained of each so far (publish_steps) */
	if ((trained = calloc(n ? n : 1, sizeof *trained)) == NULL ||
	    (rows = calloc(n ? n : 1, sizeof *rows)) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		goto out;
	}
	for (size_t j = 0; j < n; j++) {
		registry_view v;

		registry_view_of(have[j], &v);
		trained[j] = v.trained_steps;
		/* and a mark of its pushes through this node, before the
		 * query: a push meanwhile makes the count read stale */
		rows[j] = registry_rows_mark(have[j]);
	}
	if (store_models_stamps(p->c.st, collect_stamp, &k, f) != 0) {
		if (f->code == FAULT_NONE)
			fault_set(f, FAULT_NOMEM, "out of memory");
		goto out;
	}
	seen = calloc(n ? n : 1, 1);
	miss = calloc(k.n ? k.n : 1, sizeof *miss);
	if (seen == NULL || miss == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < k.n; i++) {
		const store_model_stamp *s = &k.st[i];
		size_t j;
		registry_view v;

		for (j = 0; j < n && strcmp(have[j]->id, s->id) != 0; j++)
			;
		if (j == n) {
			model_entry *e = registry_get(p->c.reg, s->id);

			if (e == NULL && was_missing(p, s->id))
				e = peers_fetch(p, s->id);
			else if (e == NULL)
				memcpy(miss[nmiss++], s->id, STORE_ID_MAX);
			registry_put(e);
			continue;
		}
		seen[j] = 1;
		registry_view_of(have[j], &v);
		if (v.deleted || registry_job_counts(have[j], NULL, NULL) > 0)
			continue;
		if (v.step == s->step) {
			/* rows another node pushed; not while a push here
			 * ran since the mark (the count read may be older
			 * than it: the next poll sees both) */
			if (v.samples != s->samples && rows[j] != 0 &&
			    registry_rows_mark(have[j]) == rows[j])
				registry_add_samples(have[j],
				    s->samples - v.samples);
			continue;
		}
		{
			struct reload r = { have[j], 0, 0, v.step,
			    v.updated_ms };

			if (store_model_get(p->c.st, s->id, reload_row, &r,
			    f) < 0)
				log_warn("model %s: checkpoint not reloaded: "
				    "%s", s->id, f->msg);
			else if (r.done && r.step > v.step)
				publish_steps(p, have[j], v.step, r.step,
				    trained[j]);
		}
	}
	for (size_t j = 0; j < n; j++)
		if (!seen[j])
			drop(p, have[j]);
	free(p->missing);
	p->missing = miss;
	p->nmissing = nmiss;
	miss = NULL;
	rc = poll_jobs(p, f);
out:
	for (size_t j = 0; j < n; j++)
		registry_put(have[j]);
	free(have);
	free(trained);
	free(rows);
	free(seen);
	free(miss);
	free(k.st);
	return rc;
}

/* Notified model ids, each once (hear, the wait's callback). */
struct heard {
	char (*ids)[STORE_ID_MAX];
	size_t n, cap;
};

static int
hear(void *arg, const char *id)
{
	struct heard *h = arg;
	char x[STORE_ID_MAX];

	if (strlen(id) >= STORE_ID_MAX)
		return 0; /* not one of ours */
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->ids[i], id) == 0)
			return 0;
	memset(x, 0, sizeof x);
	memcpy(x, id, strlen(id));
	return push(&h->ids, &h->n, &h->cap, sizeof x, x);
}

/* The models another node announced new weights of, read again at once
 * (as a poll reloads a moved step, with its `step` event), then the jobs
 * written since the last read (the announcing commit may have started or
 * ended one). A model this node does not have is left to the full poll
 * (or the API's miss path). */
static void
refresh(peers *p, const struct heard *h)
{
	fault f;

	for (size_t i = 0; i < h->n; i++) {
		model_entry *e = registry_get(p->c.reg, h->ids[i]);
		registry_view v;

		if (e == NULL)
			continue;
		registry_view_of(e, &v);
		if (!v.deleted && registry_job_counts(e, NULL, NULL) == 0) {
			struct reload r = { e, 0, 0, v.step, v.updated_ms };

			if (store_model_get(p->c.st, e->id, reload_row, &r,
			    &f) < 0)
				log_warn("model %s: checkpoint not reloaded: "
				    "%s", e->id, f.msg);
			else if (r.done && r.step > v.step)
				publish_steps(p, e, v.step, r.step,
				    v.trained_steps);
		}
		registry_put(e);
	}
	if (poll_jobs(p, &f) < 0)
		log_warn("peer sync: jobs not read: %s", f.msg);
}

/* Waits on the thread's condition until stopped or ms went by: 1 when
 * stopped. */
static int
nap(peers *p, double ms)
{
	struct timespec at;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &at);
	if (ms < 0)
		ms = 0;
	at.tv_sec += (time_t)(ms / 1000);
	at.tv_nsec += (long)(fmod(ms, 1000) * 1e6);
	if (at.tv_nsec >= 1000000000L) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mu);
	while (!p->stop && pthread_cond_timedwait(&p->wake, &p->mu,
	    &at) != ETIMEDOUT)
		;
	stop = p->stop;
	pthread_mutex_unlock(&p->mu);
	return stop;
}

/* On a shared store: waits for notifications until the next full poll is
 * due (at, on wallclock_mono) and refreshes the models heard of. 1 when
 * the full poll is due now (time, or a listener opened: notifications
 * may have been lost), 0 when not yet. */
static int
listen_until(peers *p, double at, int *failing)
{
	struct heard h = { NULL, 0, 0 };
	double left = (at - wallclock_mono()) * 1000;
	fault f;
	int rc;

	if (left <= 0)
		return 1;
	rc = store_models_wait(p->c.st, (int64_t)left + 1, p->cancel[0], hear,
	    &h, &f);
	if (rc == 1)
		refresh(p, &h);
	free(h.ids);
	if (rc < 0) {
		if (!*failing)
			log_warn("peer sync: not notified of new weights "
			    "(polling every %g s until it works again): %s",
			    p->c.interval, f.msg);
		*failing = 1;
		nap(p, left < RETRY_MS ? left : RETRY_MS);
		return 0;
	}
	if (*failing)
		log_info("peer sync: notified of new weights again");
	*failing = 0;
	return rc == 2;
}

static void *
run(void *arg)
{
	peers *p = arg;
	int shared = store_shared(p->c.st), failing = 0;
	double next = wallclock_mono() + p->c.interval;
	fault f;

	for (;;) {
		int due;

		pthread_mutex_lock(&p->mu);
		due = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (due)
			return NULL;
		if (shared)
			due = listen_until(p, next, &failing);
		else if (nap(p, (next - wallclock_mono()) * 1000))
			return NULL;
		else
			due = 1;
		if (!due && wallclock_mono() < next)
			continue;
		pthread_mutex_lock(&p->mu);
		due = !p->stop;
		pthread_mutex_unlock(&p->mu);
		if (!due)
			return NULL;
		if (peers_poll(p, &f) != 0)
			log_warn("peer sync: %s", f.msg);
		next = wallclock_mono() + p->c.interval;
	}
}

/* The pipe that ends a wait for notifications (cancel), non-blocking and
 * closed on exec; both ends -1 when it cannot be made (then peers_stop
 * waits for the wait's timeout). */
static void
cancel_open(peers *p)
{
	p->cancel[0] = p->cancel[1] = -1;
	if (pipe(p->cancel) != 0) {
		log_warn("peer sync: no pipe (%s): stopping may take up to "
		    "--peer-sync", strerror(errno));
		p->cancel[0] = p->cancel[1] = -1;
		return;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(p->cancel[i], F_SETFD, FD_CLOEXEC);
		fcntl(p->cancel[i], F_SETFL, O_NONBLOCK);
	}
}

/* Frees what p holds but its thread's mutex and condition. */
static void
release(peers *p)
{
	for (int i = 0; i < 2; i++)
		if (p->cancel[i] >= 0)
			close(p->cancel[i]);
	pthread_mutex_destroy(&p->rmu);
	free(p->remote);
	free(p->missing);
	free(p->jobs);
	free(p);
}

peers *
peers_start(const peers_config *c, fault *f)
{
	peers *p = calloc(1, sizeof *p);
	pthread_condattr_t ca;

	if (p == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	p->c = *c;
	snprintf(p->node, sizeof p->node, "%s", c->node_id ? c->node_id :
	    "");
	p->c.node_id = p->node;
	pthread_mutex_init(&p->rmu, NULL);
	p->cancel[0] = p->cancel[1] = -1;
	if (store_shared(c->st))
		cancel_open(p);
	/* the jobs as they are now: the first poll publishes what changed
	 * since the start, not since its own read */
	{
		fault jf;

		if (poll_jobs(p, &jf) < 0)
			log_warn("peer sync: jobs not read at start: %s",
			    jf.msg);
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->mu);
		release(p);
		fault_set(f, FAULT_INTERNAL, "cannot start the peer sync "
		    "thread");
		return NULL;
	}
	return p;
}

void
peers_stop(peers *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->mu);
	if (p->cancel[1] >= 0 && write(p->cancel[1], "x", 1) < 0)
		log_warn("peer sync: not woken (%s): stopping may take up to "
		    "--peer-sync", strerror(errno));
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	release(p);
}

const char *
peers_node(const peers *p)
{
	return p == NULL ? "" : p->node;
}
