/*
 * api_training: single steps, train jobs, and the jobs themselves.
 *
 * Job reads on a shared store (PostgreSQL, several nodes): a node's
 * trainer knows the jobs it runs, the store every node's. A job this
 * node has queued or running is answered from the trainer, inline (it is
 * fresher than its last commit); any other is read from the store on a
 * request worker (http_defer), so a job another node runs shows that
 * node's last committed progress and its `node`, and a job this node
 * ran shows what the store says now (another node may have taken it
 * over). A list merges the two the same way. On SQLite every read is the
 * trainer's, inline, as before: the store holds nothing it does not know.
 * A cancel works on any node. The trainer cancels a job this node runs;
 * on a shared store, a job it does not run (the store says queued or
 * running) is cancelled in the store when nobody alive has claimed it
 * (store_job_cancel_unclaimed), else its owner is asked to cancel it
 * (store_job_cancel_request; its claimer acts within about a second) and
 * the answer waits up to CANCEL_WAIT_MS for it to end: 200 with the job
 * cancelled, as a local cancel answers, or 202 with the job as stored
 * while its owner is still stopping it.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#endif
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "ids.h"
#include "log.h"
#include "wallclock.h"

/* How long a cancel sent to another node's job waits for it to end, and
 * how often it looks (milliseconds). */
#define CANCEL_WAIT_MS 3000
#define CANCEL_LOOK_MS 50

void
api_training_step(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	json_t *doc = NULL;
	float *x = NULL, *y = NULL;
	size_t n;
	double lr;
	uint64_t step;
	float loss;
	trainer_valset val = { NULL, NULL, 0 };
	store_val_point vp;
	json_t *reply;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if ((doc = api_body(rq, rs, 0)) == NULL)
		goto out;
	if (codec_step(doc, &m->spec, &c->limits, &x, &y, &n, &lr, &val.x,
	    &val.y, &val.n, &e) < 0) {
		api_reply_error(rs, &e);
		goto out;
	}
	if (trainer_step(c->tr, m, x, y, n, (float)lr, &val, &step, &loss, &vp,
	    &f) < 0) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		goto out;
	}
	reply = json_pack("{s:I,s:o}", "step", (json_int_t)step, "loss",
	    codec_real(loss));
	if (val.n > 0)
		json_object_set_new(reply, "validation", json_pack("{s:o,s:o}",
		    "loss", codec_real(vp.loss), "accuracy",
		    codec_real(vp.accuracy)));
	api_reply_json(rs, 200, reply);
out:
	free(x);
	free(y);
	free(val.x);
	free(val.y);
	json_decref(doc);
	registry_put(m);
}

void
api_training_train(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	json_t *doc = NULL;
	train_opts o;
	trainer_job_view v;
	trainer_valset val = { NULL, NULL, 0 };
	char *options = NULL;
	apierr e;
	fault f;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	if ((doc = api_body(rq, rs, 1)) == NULL)
		goto out;
	if (codec_train_opts(doc, &o, &e) < 0 ||
	    codec_check_rows(&m->spec, (size_t)o.batch_size, &c->limits,
	    "batch_size", &e) < 0 ||
	    codec_validation(doc, &m->spec, &c->limits, &val.x, &val.y,
	    &val.n, &e) < 0) {
		api_reply_error(rs, &e);
		goto out;
	}
	/* a validation set can be large: drop the JSON tree first */
	json_decref(doc);
	doc = NULL;
	/* the job's row shows its options as JSON: rendered here, the
	 * engine stores the text */
	if ((options = codec_train_opts_text(&o)) == NULL) {
		fault_set(&f, FAULT_NOMEM, "out of memory");
		goto fail;
	}
	if (trainer_submit(c->tr, m, &o, options, &val, &v, &f) < 0)
		goto fail;
	snprintf(rs->location, sizeof rs->location, "/v1/jobs/%s", v.row.id);
	api_reply_json(rs, 202, codec_job_json(&v.row));
	goto out;
fail:
	apierr_from_fault(&e, &f);
	api_reply_error(rs, &e);
out:
	free(options);
	/* NULL unless the job did not take them */
	free(val.x);
	free(val.y);
	json_decref(doc);
	registry_put(m);
}

/* Whether a job is still to end. */
static int
active(const store_job *j)
{
	return j->status == STORE_JOB_QUEUED || j->status == STORE_JOB_RUNNING;
}

/* A stored row as the API shows it (options not shown). */
static void
view_of_row(trainer_job_view *v, const store_job *j)
{
	v->row = *j;
	v->row.options = NULL;
	v->row.error = NULL;
	if (j->error != NULL) {
		snprintf(v->error, sizeof v->error, "%s", j->error);
		v->row.error = v->error;
	}
}

/* store_job_get callback: the row into a trainer_job_view. */
static int
found_row(void *arg, const store_job *j)
{
	view_of_row(arg, j);
	return 0;
}

/* The stored row of job id: 1 with *out filled, 0 none, -1 with f. */
static int
stored_job(api_ctx *c, const char *id, trainer_job_view *out, fault *f)
{
	return store_job_get(c->st, id, found_row, out, f);
}

/* A model's stored rows, merged with its trainer's views. */
struct joblist {
	trainer_job_view *v;
	size_t n, cap;
};

static int
list_row(void *arg, const store_job *j)
{
	struct joblist *k = arg;

	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 16;
		trainer_job_view *p = cap > SIZE_MAX / sizeof *p ? NULL :
		    realloc(k->v, cap * sizeof *p);

		if (p == NULL)
			return -1;
		k->v = p;
		k->cap = cap;
	}
	view_of_row(&k->v[k->n++], j);
	return 0;
}

/* Sends the jobs v[0..n) (oldest first) as GET .../jobs does. */
static void
reply_jobs(http_response *rs, const trainer_job_view *v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; v && i < n; i++)
		json_array_append_new(arr, codec_job_json(&v[i].row));
	api_reply_json(rs, 200, json_pack("{s:o}", "jobs", arr));
}

/* GET .../jobs on a shared store, on a request worker: the stored rows,
 * each replaced by the trainer's view while this node has it active,
 * and the trainer's jobs the store does not list (yet) merged in by
 * creation time. */
static void
jobs_stored(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	struct joblist k = { NULL, 0, 0 };
	trainer_job_view *t, *all = NULL;
	size_t nt = 0, na = 0, i = 0, j = 0;
	apierr e;
	fault f;

	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	t = trainer_jobs_of(c->tr, m->id, &nt);
	if (store_jobs_each(c->st, m->id, list_row, &k, &f) != 0) {
		if (f.code == FAULT_NONE)
			fault_set(&f, FAULT_NOMEM, "out of memory");
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		goto out;
	}
	if ((all = calloc(k.n + nt + 1, sizeof *all)) == NULL) {
		fault_set(&f, FAULT_NOMEM, "out of memory");
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		goto out;
	}
	for (size_t a = 0; a < nt; a++)
		for (size_t b = 0; b < k.n; b++)
			if (strcmp(t[a].row.id, k.v[b].row.id) == 0) {
				if (active(&t[a].row))
					k.v[b] = t[a];
				t[a].row.id[0] = '\0'; /* merged */
				break;
			}
	while (i < k.n || j < nt) {
		if (j < nt && t[j].row.id[0] == '\0') {
			j++;
			continue;
		}
		if (j < nt && (i == k.n ||
		    t[j].row.created_ms < k.v[i].row.created_ms))
			all[na] = t[j++];
		else
			all[na] = k.v[i++];
		all[na].row.error = all[na].row.error ? all[na].error : NULL;
		na++;
	}
	reply_jobs(rs, all, na);
out:
	free(all);
	free(k.v);
	free(t);
	registry_put(m);
}

void
api_training_jobs(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;
	trainer_job_view *v;
	size_t n;

	if (store_shared(c->st)) {
		http_defer(rs, jobs_stored);
		return;
	}
	if ((m = api_model(c, rq, rs)) == NULL)
		return;
	v = trainer_jobs_of(c->tr, m->id, &n);
	reply_jobs(rs, v, n);
	free(v);
	registry_put(m);
}

static void
job_not_found(const char *id, http_response *rs)
{
	apierr e;

	apierr_set(&e, 404, "job_not_found", "no job with id '%.60s'", id);
	api_reply_error(rs, &e);
}

/* GET /v1/jobs/{id} on a shared store for a job this node does not have
 * active, on a request worker: the stored row, else the trainer's view
 * (a job of this run the store lost with its model), else 404. */
static void
job_get_stored(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	trainer_job_view v;
	apierr e;
	fault f;
	int r = stored_job(c, rq->params[0], &v, &f);

	if (r < 0) {
		apierr_from_fault(&e, &f);
		api_reply_error(rs, &e);
		return;
	}
	if (r == 0 && trainer_job_get(c->tr, rq->params[0], &v) < 0) {
		job_not_found(rq->params[0], rs);
		return;
	}
	api_reply_json(rs, 200, codec_job_json(&v.row));
}

void
api_training_job_get(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	trainer_job_view v;
	int here;

	if (!ids_valid(rq->params[0])) {
		job_not_found(rq->params[0], rs);
		return;
	}
	here = trainer_job_get(c->tr, rq->params[0], &v) == 0;
	if (store_shared(c->st) && !(here && active(&v.row))) {
		http_defer(rs, job_get_stored);
		return;
	}
	if (!here) {
		job_not_found(rq->params[0], rs);
		return;
	}
	api_reply_json(rs, 200, codec_job_json(&v.row));
}

/* Waits (CANCEL_WAIT_MS at most) for a job another node was asked to
 * cancel to end: 1 ended (v its row now), 0 not yet (v as last read),
 * -1 with f. */
static int
cancel_wait(api_ctx *c, const char *id, trainer_job_view *v, fault *f)
{
	struct timespec ts = { 0, CANCEL_LOOK_MS * 1000000L };

	for (int waited = 0; waited < CANCEL_WAIT_MS;
	    waited += CANCEL_LOOK_MS) {
		int r;

		nanosleep(&ts, NULL);
		if ((r = stored_job(c, id, v, f)) < 0)
			return -1;
		if (r == 0 || !active(&v->row))
			return 1;
	}
	return 0;
}

/* After this node's trainer could not cancel job id (tf: why), on a
 * shared store, for a job the store shows queued or running (another
 * node's, or nobody's yet): cancelled in the store when nobody alive
 * claimed it, else its owner is asked (see the top of the file). 409
 * job_finished when the store shows it ended and the trainer did not
 * know it; else tf's answer. */
static void
cancel_elsewhere(api_ctx *c, const char *id, const fault *tf,
		 http_response *rs)
{
	trainer_job_view v;
	apierr e;
	fault f;
	int r = 0;

	if (store_shared(c->st) && (tf->code == FAULT_NO_JOB ||
	    tf->code == FAULT_FINISHED))
		r = stored_job(c, id, &v, &f);
	if (r == 1 && active(&v.row)) {
		r = store_job_cancel_unclaimed(c->st, id, wallclock_ms(),
		    found_row, &v, &f);
		if (r == 1) {
			events_job(c->ev, &v.row);
			log_info("job %s: cancelled before any node took it",
			    id);
			api_reply_json(rs, 200, codec_job_json(&v.row));
			return;
		}
		if (r == 0 && (r = store_job_cancel_request(c->st, id,
		    found_row, &v, &f)) == 1) {
			log_info("job %s: node %s asked to cancel it", id,
			    v.row.node[0] ? v.row.node : "(next to claim it)");
			if ((r = cancel_wait(c, id, &v, &f)) >= 0) {
				api_reply_json(rs, r == 1 ? 200 : 202,
				    codec_job_json(&v.row));
				return;
			}
		} else if (r == 0) {
			/* it ended meanwhile */
			r = stored_job(c, id, &v, &f);
		}
	}
	if (r < 0) {
		apierr_from_fault(&e, &f);
	} else if (r == 1 && !active(&v.row) && tf->code == FAULT_NO_JOB) {
		apierr_set(&e, 409, "job_finished", "job '%s' already ended "
		    "(%s)", id, store_job_status_name(v.row.status));
	} else {
		apierr_from_fault(&e, tf);
	}
	api_reply_error(rs, &e);
}

void
api_training_job_cancel(void *ctx, const http_request *rq,
			http_response *rs)
{
	api_ctx *c = ctx;
	trainer_job_view v;
	fault f;

	if (!ids_valid(rq->params[0])) {
		job_not_found(rq->params[0], rs);
		return;
	}
	if (trainer_cancel(c->tr, rq->params[0], &v, &f) < 0) {
		cancel_elsewhere(c, rq->params[0], &f, rs);
		return;
	}
	api_reply_json(rs, 200, codec_job_json(&v.row));
}
