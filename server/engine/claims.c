/*
 * claims: the claimer thread of a node on a shared store (see claims.h
 * for the DESIGN): beats, wake-ups, and claimed jobs handed to the
 * trainer.
 */
#include "claims.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "wallclock.h"

/* The longest one wait lasts, whatever the interval: claims_stop joins
 * within about this. */
#define CLAIMS_WAIT_MAX_MS 1000
/* The shortest, so a failing store is not hammered. */
#define CLAIMS_WAIT_MIN_MS 20

struct claims {
	claims_config c;
	char node[STORE_NODE_MAX];
	pthread_t thread;
	int running;            /* the thread was started and not joined */
	pthread_mutex_t mu;     /* guards stop */
	pthread_cond_t wake_cond; /* stop was set */
	int stop;
	int wake[2];            /* this node's own wake-up: a byte in
	                           wake[1] ends the thread's wait (a trainer
	                           worker freed, or claims_stop); -1 when
	                           the pipe could not be made */
	int left;               /* store_node_leave was called */
	atomic_uint_fast64_t claimed;
};

/* A claimed row, copied out of the store's callback. */
typedef struct claimed {
	int got;
	store_job row;          /* row.options points at options, row.error
	                           at error */
	char *options;
	char error[FAULT_MSG_MAX];
} claimed;

static int
stopping(claims *c)
{
	int s;

	pthread_mutex_lock(&c->mu);
	s = c->stop;
	pthread_mutex_unlock(&c->mu);
	return s;
}

/* Store callback: copies the claimed row. */
static int
copy_row(void *arg, const store_job *j)
{
	claimed *out = arg;

	out->row = *j;
	out->options = strdup(j->options ? j->options : "{}");
	out->row.options = out->options;
	out->row.error = NULL;
	if (j->error != NULL) {
		snprintf(out->error, sizeof out->error, "%s", j->error);
		out->row.error = out->error;
	}
	out->got = out->options != NULL;
	return out->got ? 0 : -1;
}

/* Gives a claimed job back to the cluster (this node cannot run it). */
static void
give_back(claims *c, const char *job_id)
{
	fault f;

	if (store_job_handback(c->c.st, job_id, c->node, &f) < 0)
		log_warn("job %s: not handed back: %s", job_id, f.msg);
}

/* The trainer takes the claimed job, or it goes back. */
static void
adopt(claims *c, const store_job *row)
{
	model_entry *m = c->c.model(c->c.model_arg, row->model_id);
	fault f;

	fault_clear(&f);
	if (m == NULL) {
		log_warn("job %s: claimed, but its model %s is not here; "
		    "handed back", row->id, row->model_id);
		give_back(c, row->id);
		return;
	}
	if (trainer_adopt(c->c.tr, m, row, &f) < 0) {
		log_warn("job %s: claimed, but not taken: %s; handed back",
		    row->id, f.msg);
		give_back(c, row->id);
	} else {
		atomic_fetch_add(&c->claimed, 1);
	}
	registry_put(m);
}

/* Claims jobs while the trainer has room for them. */
static void
claim_round(claims *c)
{
	while (!stopping(c) && trainer_has_room(c->c.tr)) {
		claimed cl;
		fault f;
		int rc;

		memset(&cl, 0, sizeof cl);
		fault_clear(&f);
		rc = store_job_claim(c->c.st, c->node, copy_row, &cl, &f);
		if (cl.got)
			adopt(c, &cl.row);
		free(cl.options);
		if (rc < 0)
			log_warn("node %s: claiming jobs failed: %s", c->node,
			    f.msg);
		if (rc != 1)
			return;
	}
}

/* store_jobs_cancel_asked callback: another node asked to cancel job_id,
 * which this node owns; the trainer stops it as a local DELETE does. */
static void
cancel_asked(void *arg, const char *job_id)
{
	claims *c = arg;
	fault f;
	int rc;

	fault_clear(&f);
	rc = trainer_cancel_soon(c->c.tr, job_id, &f);
	if (rc == 1)
		log_info("job %s: cancelled at another node's request",
		    job_id);
	else if (rc < 0)
		log_debug("job %s: cancel request not acted on: %s", job_id,
		    f.msg);
}

/* Acts on the cancel requests for the jobs this node owns. */
static void
cancel_round(claims *c)
{
	fault f;

	fault_clear(&f);
	if (store_jobs_cancel_asked(c->c.st, c->node, cancel_asked, c, &f) <
	    0)
		log_warn("node %s: looking for cancel requests failed: %s",
		    c->node, f.msg);
}

/* Wakes the thread's wait (the trainer's room hook, and claims_stop);
 * never blocks: a full pipe is already a wake-up. */
static void
wake_up(void *arg)
{
	claims *c = arg;

	if (c->wake[1] >= 0 && write(c->wake[1], "x", 1) < 0 &&
	    errno != EAGAIN)
		log_debug("node %s: claimer not woken: %s", c->node,
		    strerror(errno));
}

/* Empties the wake-up pipe (after a wait it may have ended). */
static void
wake_drain(claims *c)
{
	char buf[64];

	while (c->wake[0] >= 0 && read(c->wake[0], buf, sizeof buf) > 0)
		;
}

/* Makes the wake-up pipe, non-blocking and closed on exec; both ends -1
 * when it cannot be made (the thread then looks at every wait's end). */
static void
wake_open(claims *c)
{
	c->wake[0] = c->wake[1] = -1;
	if (pipe(c->wake) != 0) {
		log_warn("node %s: no pipe for the claimer (%s): a freed "
		    "trainer waits for its next look", c->node,
		    strerror(errno));
		c->wake[0] = c->wake[1] = -1;
		return;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(c->wake[i], F_SETFD, FD_CLOEXEC);
		fcntl(c->wake[i], F_SETFL, O_NONBLOCK);
	}
}

/* Sleeps ms unless stopped or woken meanwhile (the fallback when waiting
 * on the store fails). */
static void
nap(claims *c, int64_t ms)
{
	struct timespec ts;

	if (c->wake[0] >= 0) {
		struct pollfd pfd = { c->wake[0], POLLIN, 0 };

		(void)poll(&pfd, 1, (int)ms);
		return;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mu);
	while (!c->stop && pthread_cond_timedwait(&c->wake_cond, &c->mu, &ts) !=
	    ETIMEDOUT)
		;
	pthread_mutex_unlock(&c->mu);
}

static void *
claimer(void *arg)
{
	claims *c = arg;
	int64_t beat_every = c->c.ttl_ms / 3 > 0 ? c->c.ttl_ms / 3 : 1;
	int64_t poll = (int64_t)(c->c.interval * 1000.0);
	double next_beat = 0.0;
	int joined = 0, beat_failing = 0, wait_failing = 0;

	while (!stopping(c)) {
		double now = wallclock_mono();
		int64_t ms;
		fault f;

		fault_clear(&f);
		if (now >= next_beat) {
			if (store_node_beat(c->c.st, c->node, c->c.ttl_ms,
			    !joined, &f) == 0) {
				if (!joined)
					log_info("node %s: joined the cluster's "
					    "job claims", c->node);
				joined = 1;
				beat_failing = 0;
				next_beat = now + (double)beat_every / 1000.0;
			} else {
				if (!beat_failing)
					log_warn("node %s: beat failed: %s",
					    c->node, f.msg);
				beat_failing = 1;
				next_beat = now + (double)CLAIMS_WAIT_MIN_MS /
				    1000.0;
			}
		}
		if (joined && !beat_failing) {
			claim_round(c);
			cancel_round(c);
		}
		ms = (int64_t)((next_beat - wallclock_mono()) * 1000.0);
		if (ms > poll)
			ms = poll;
		if (ms > CLAIMS_WAIT_MAX_MS)
			ms = CLAIMS_WAIT_MAX_MS;
		if (ms < CLAIMS_WAIT_MIN_MS)
			ms = CLAIMS_WAIT_MIN_MS;
		if (stopping(c))
			break;
		if (store_jobs_wait(c->c.st, ms, c->wake[0], &f) < 0) {
			if (!wait_failing)
				log_warn("node %s: job wake-ups failed (%s); "
				    "polling", c->node, f.msg);
			wait_failing = 1;
			nap(c, ms);
		} else {
			wait_failing = 0;
		}
		wake_drain(c);
	}
	return NULL;
}

claims *
claims_start(const claims_config *cfg, fault *f)
{
	claims *c = calloc(1, sizeof *c);

	if (c == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	c->c = *cfg;
	snprintf(c->node, sizeof c->node, "%s", cfg->node_id);
	c->c.node_id = c->node;
	atomic_init(&c->claimed, 0);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->wake_cond, NULL);
	wake_open(c);
	/* a freed worker wakes the thread (claims_stop removes the hook);
	 * set first, so that no "no room" of the thread's goes unheard */
	trainer_on_room(c->c.tr, wake_up, c);
	if (pthread_create(&c->thread, NULL, claimer, c) != 0) {
		trainer_on_room(c->c.tr, NULL, NULL);
		fault_set(f, FAULT_INTERNAL, "cannot start the job claimer");
		c->left = 1; /* it never joined */
		claims_destroy(c);
		return NULL;
	}
	c->running = 1;
	return c;
}

void
claims_stop(claims *c)
{
	if (c == NULL || !c->running)
		return;
	trainer_on_room(c->c.tr, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_broadcast(&c->wake_cond);
	pthread_mutex_unlock(&c->mu);
	wake_up(c); /* out of its wait at once */
	pthread_join(c->thread, NULL);
	c->running = 0;
}

void
claims_destroy(claims *c)
{
	fault f;

	if (c == NULL)
		return;
	claims_stop(c);
	if (!c->left && store_node_leave(c->c.st, c->node, &f) < 0)
		log_warn("node %s: leave not recorded (its jobs wait for its "
		    "beat to expire): %s", c->node, f.msg);
	pthread_cond_destroy(&c->wake_cond);
	pthread_mutex_destroy(&c->mu);
	for (int i = 0; i < 2; i++)
		if (c->wake[i] >= 0)
			close(c->wake[i]);
	free(c);
}

uint64_t
claims_count(claims *c)
{
	return c ? (uint64_t)atomic_load(&c->claimed) : 0;
}
