/*
 * events: the live event hub (see events.h for the DESIGN).
 *
 * The ring is an array of capacity slots indexed by id % capacity; the
 * events in it are the ids [next_id - count, next_id). An event is
 * reference counted (the ring's reference, plus one per subscriber that
 * is half-way through sending it), so dropping it from the ring never
 * pulls a frame from under a reader. Every field here is guarded by
 * ev->mu, including the reference counts.
 */
#include "events.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "wallclock.h"

#define HEARTBEAT_TEXT ": heartbeat\n\n"
#define OPEN_TEXT ": ok\n\n"
#define EVENTS_ID_STATE "events_reserved" /* its daemon_state name */

/* One formatted event. */
typedef struct ev_event {
	uint64_t id;
	char model[STORE_ID_MAX]; /* the model it concerns, "" for none */
	int ends;                 /* the model was deleted: filtered streams
	                             end after this event */
	int refs;                 /* the ring's and partial senders' */
	size_t len;
	char text[];              /* the whole SSE frame */
} ev_event;

struct events_sub {
	events *ev;
	char model[STORE_ID_MAX]; /* filter; "" for every event */
	uint64_t cursor;          /* the next id this subscriber may send */
	uint64_t asked;           /* the Last-Event-ID of a pending reset */
	int reset_due;            /* send `event: reset` next */
	int lost;                 /* the ring dropped an event for this one
	                             before it was sent */
	int opened;               /* something was sent (or ": ok") */
	int hb_due;               /* send a heartbeat comment */
	int parked;               /* park was called, wake was not yet */
	int done;                 /* the stream ends once out is sent */
	int ended;                /* the reader returned -1 */
	const char *out;          /* the frame being sent, or NULL */
	size_t outlen, outoff;
	ev_event *outref;         /* out's event (a reference), or NULL */
	char small[192];          /* out for a reset frame */
	events_hook park, wake;
	void *arg;
	struct events_sub *prev, *next;
};

struct events {
	pthread_mutex_t mu;
	pthread_cond_t tick;      /* wakes the heartbeat thread to stop */
	pthread_cond_t drained;   /* a stream ended or went away */
	ev_event **ring;
	size_t cap;               /* slots */
	size_t count;             /* events in the ring */
	size_t bytes;             /* their frame bytes */
	uint64_t next_id;         /* id of the next event */
	uint64_t first_id;        /* id of the run's first event */
	store *st;                /* keeps the reservation (events_persist);
	                             NULL: none */
	uint64_t reserved;        /* with st: the ids below this are covered
	                             by the reservation stored */
	int renewing;             /* a publisher is storing a larger one */
	pthread_cond_t renewed;   /* it did (or failed) */
	events_sub *subs;         /* every subscriber */
	size_t nsubs;
	double heartbeat;         /* seconds */
	events_render render;     /* an item's data text; set at creation */
	pthread_t thread;
	int thread_started;
	int stopping;             /* the heartbeat thread must exit */
	int closed;               /* shut down: streams end */
};

static void
event_unref(ev_event *e)
{
	if (e != NULL && --e->refs == 0)
		free(e);
}

/* Wakes s if it is parked (caller holds ev->mu). */
static void
do_wake(events_sub *s)
{
	if (s->parked) {
		s->parked = 0;
		s->wake(s->arg);
	}
}

/* Adds ns to a CLOCK_MONOTONIC time. */
static void
add_ns(struct timespec *ts, int64_t ns)
{
	ns += ts->tv_nsec;
	ts->tv_sec += ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
}

/* On the heartbeat thread, with ev->mu held: stores the end of the next
 * block of ids as the reservation, with the mutex released for the write
 * (the hub does no I/O under it, and publishers none at all), then lets
 * publishers past the old end. A failed write is only logged: events go
 * on, but after a restart ids may repeat some of this run's. */
static void
do_renew(events *ev)
{
	uint64_t upto = ev->reserved + EVENTS_ID_BLOCK;
	fault f;
	int rc;

	pthread_mutex_unlock(&ev->mu);
	rc = store_state_set(ev->st, EVENTS_ID_STATE, (int64_t)upto, &f);
	if (rc < 0)
		log_warn("events: cannot store the event id reservation: %s; "
		    "after a restart ids may repeat", f.msg);
	pthread_mutex_lock(&ev->mu);
	ev->reserved = upto;
	ev->renewing = 0;
	pthread_cond_broadcast(&ev->renewed);
}

/* The heartbeat thread: every period, marks every subscriber and wakes
 * the parked ones; between, renews the id reservation when asked. */
static void *
heartbeat_main(void *arg)
{
	events *ev = arg;
	int64_t period = (int64_t)(ev->heartbeat * 1e9);
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	add_ns(&next, period);
	pthread_mutex_lock(&ev->mu);
	while (!ev->stopping) {
		int rc = pthread_cond_timedwait(&ev->tick, &ev->mu, &next);

		if (ev->stopping)
			break;
		if (ev->renewing) {
			do_renew(ev);
			continue;
		}
		if (rc != ETIMEDOUT)
			continue;
		for (events_sub *s = ev->subs; s; s = s->next) {
			s->hb_due = 1;
			do_wake(s);
		}
		clock_gettime(CLOCK_MONOTONIC, &next);
		add_ns(&next, period);
	}
	pthread_mutex_unlock(&ev->mu);
	return NULL;
}

events *
events_create(size_t capacity, double heartbeat_seconds,
	      events_render render, fault *f)
{
	events *ev;
	pthread_condattr_t ca;

	if (capacity == 0 || !(heartbeat_seconds > 0) ||
	    heartbeat_seconds > 86400 || render == NULL) {
		fault_set(f, FAULT_INVALID, "events: the capacity must be "
		    "positive, the heartbeat within (0, 86400] seconds and "
		    "a renderer given");
		return NULL;
	}
	ev = calloc(1, sizeof *ev);
	if (ev == NULL || (ev->ring = calloc(capacity, sizeof *ev->ring)) ==
	    NULL) {
		free(ev);
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	ev->cap = capacity;
	ev->heartbeat = heartbeat_seconds;
	ev->render = render;
	ev->next_id = (uint64_t)wallclock_ms();
	ev->first_id = ev->next_id;
	pthread_mutex_init(&ev->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->tick, &ca);
	pthread_cond_init(&ev->drained, &ca);
	pthread_cond_init(&ev->renewed, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&ev->thread, NULL, heartbeat_main, ev) != 0) {
		fault_set(f, FAULT_INTERNAL, "cannot start the events "
		    "heartbeat thread");
		events_destroy(ev);
		return NULL;
	}
	ev->thread_started = 1;
	return ev;
}

/* True when some subscriber's reader has not ended yet. */
static int
do_any_open(const events *ev)
{
	for (const events_sub *s = ev->subs; s; s = s->next)
		if (!s->ended)
			return 1;
	return 0;
}

void
events_shutdown(events *ev, double wait_seconds)
{
	struct timespec deadline;

	if (ev == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	add_ns(&deadline, (int64_t)(wait_seconds * 1e9));
	pthread_mutex_lock(&ev->mu);
	ev->closed = 1;
	for (events_sub *s = ev->subs; s; s = s->next)
		do_wake(s);
	while (do_any_open(ev) && pthread_cond_timedwait(&ev->drained,
	    &ev->mu, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&ev->mu);
}

void
events_destroy(events *ev)
{
	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->stopping = 1;
	ev->closed = 1;
	pthread_cond_broadcast(&ev->tick);
	pthread_mutex_unlock(&ev->mu);
	if (ev->thread_started)
		pthread_join(ev->thread, NULL);
	if (ev->nsubs != 0)
		log_error("events: %zu subscribers left at destroy",
		    ev->nsubs);
	for (size_t i = 0; i < ev->cap; i++)
		event_unref(ev->ring[i]);
	free(ev->ring);
	pthread_cond_destroy(&ev->tick);
	pthread_cond_destroy(&ev->drained);
	pthread_cond_destroy(&ev->renewed);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}

/* The id of the oldest event kept (next_id when the ring is empty). */
static uint64_t
do_oldest(const events *ev)
{
	return ev->next_id - ev->count;
}

/* Does s want e? */
static int
wants(const events_sub *s, const ev_event *e)
{
	return s->model[0] == '\0' || strcmp(s->model, e->model) == 0;
}

/* Drops the oldest event from the ring, noting who never got it. */
static void
do_drop_oldest(events *ev)
{
	size_t slot = (size_t)(do_oldest(ev) % ev->cap);
	ev_event *e = ev->ring[slot];

	for (events_sub *s = ev->subs; s; s = s->next)
		if (s->cursor <= e->id && wants(s, e))
			s->lost = 1;
	ev->ring[slot] = NULL;
	ev->count--;
	ev->bytes -= e->len;
	event_unref(e);
}

/* Bytes of "data: " lines for data (one per line of it). */
static size_t
data_lines_len(const char *data, size_t len)
{
	size_t n = 6 + len + 1;

	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n')
			n += 6;
	return n;
}

/* Writes the "data: " lines of data at p; returns the end. */
static char *
put_data_lines(char *p, const char *data, size_t len)
{
	memcpy(p, "data: ", 6);
	p += 6;
	for (size_t i = 0; i < len; i++) {
		*p++ = data[i];
		if (data[i] == '\n') {
			memcpy(p, "data: ", 6);
			p += 6;
		}
	}
	*p++ = '\n';
	return p;
}

int
events_persist(events *ev, store *st, fault *f)
{
	int64_t stored;
	uint64_t first;
	int r = store_state_get(st, EVENTS_ID_STATE, &stored, f);

	if (r < 0)
		return -1;
	pthread_mutex_lock(&ev->mu);
	if (ev->next_id != ev->first_id || ev->st != NULL) {
		pthread_mutex_unlock(&ev->mu);
		return fault_set(f, FAULT_INVALID, "events: ids are persisted "
		    "once, before the first event");
	}
	/* past every id an earlier run may have handed out, and one more,
	 * so that first - 1 (a caught-up client's id) is not one of them */
	first = ev->next_id;
	if (r == 1 && stored > 0 && (uint64_t)stored > first)
		first = (uint64_t)stored;
	first++;
	pthread_mutex_unlock(&ev->mu);
	if (store_state_set(st, EVENTS_ID_STATE,
	    (int64_t)(first + EVENTS_ID_BLOCK), f) < 0)
		return -1;
	pthread_mutex_lock(&ev->mu);
	ev->next_id = ev->first_id = first;
	ev->reserved = first + EVENTS_ID_BLOCK;
	ev->st = st;
	pthread_mutex_unlock(&ev->mu);
	return 0;
}


/* events_publish, with ends for the event that deletes a model. */
static uint64_t
publish(events *ev, const char *type, const char *model_id,
	const char *data, size_t len, int ends)
{
	ev_event *e;
	char head[96];
	int hl;
	size_t need;
	uint64_t id;
	char *p;

	if (ev == NULL)
		return 0;
	if (model_id == NULL)
		model_id = "";
	pthread_mutex_lock(&ev->mu);
	/* the reservation is used up (only while a renewal is slow) */
	while (ev->renewing && ev->next_id >= ev->reserved)
		pthread_cond_wait(&ev->renewed, &ev->mu);
	id = ev->next_id;
	hl = snprintf(head, sizeof head, "id: %" PRIu64 "\nevent: %s\n", id,
	    type);
	if (hl < 0 || (size_t)hl >= sizeof head || len > SIZE_MAX / 8) {
		pthread_mutex_unlock(&ev->mu);
		return 0;
	}
	need = (size_t)hl + data_lines_len(data, len) + 1;
	e = malloc(sizeof *e + need + 1);
	if (e == NULL) {
		pthread_mutex_unlock(&ev->mu);
		log_warn("events: out of memory; %s event dropped", type);
		return 0;
	}
	e->id = id;
	snprintf(e->model, sizeof e->model, "%s", model_id);
	e->ends = ends;
	e->refs = 1;
	memcpy(e->text, head, (size_t)hl);
	p = put_data_lines(e->text + hl, data, len);
	*p++ = '\n';
	*p = '\0';
	e->len = (size_t)(p - e->text);
	while (ev->count > 0 && (ev->count == ev->cap ||
	    ev->bytes + e->len > EVENTS_MAX_BYTES))
		do_drop_oldest(ev);
	ev->ring[id % ev->cap] = e;
	ev->count++;
	ev->bytes += e->len;
	ev->next_id++;
	for (events_sub *s = ev->subs; s; s = s->next)
		if (wants(s, e))
			do_wake(s);
	/* half the reservation used: the heartbeat thread stores more */
	if (ev->st != NULL && !ev->renewing &&
	    ev->next_id + EVENTS_ID_BLOCK / 2 > ev->reserved) {
		ev->renewing = 1;
		pthread_cond_signal(&ev->tick);
	}
	pthread_mutex_unlock(&ev->mu);
	return id;
}

uint64_t
events_publish(events *ev, const char *type, const char *model_id,
	       const char *data, size_t len)
{
	return publish(ev, type, model_id, data, len, 0);
}

/* The SSE event type of each kind. */
static const char *const kind_type[] = {
	[EVENTS_STEP] = "step",
	[EVENTS_JOB] = "job",
	[EVENTS_MODEL] = "model",
	[EVENTS_MODEL_DELETED] = "model",
};

/* Renders it (outside the mutex) and publishes it. */
static uint64_t
publish_item(events *ev, const events_item *it)
{
	const char *type = kind_type[it->kind];
	size_t len = 0;
	char *text;
	uint64_t id;

	if (ev == NULL)
		return 0;
	text = ev->render(it, &len);
	if (text == NULL) {
		log_warn("events: a %s event could not be rendered", type);
		return 0;
	}
	id = publish(ev, type, it->model_id, text, len,
	    it->kind == EVENTS_MODEL_DELETED);
	free(text);
	return id;
}

uint64_t
events_step(events *ev, const char *model_id, const store_loss_point *pts,
	    size_t n)
{
	events_item it = { .kind = EVENTS_STEP, .model_id = model_id,
		.pts = pts, .npts = n };

	if (n == 0)
		return 0;
	return publish_item(ev, &it);
}

uint64_t
events_job(events *ev, const store_job *row)
{
	events_item it = { .kind = EVENTS_JOB, .model_id = row->model_id,
		.job = row };

	return publish_item(ev, &it);
}

uint64_t
events_model(events *ev, const registry_view *model)
{
	events_item it = { .kind = EVENTS_MODEL, .model_id = model->id,
		.model = model };

	return publish_item(ev, &it);
}

uint64_t
events_model_deleted(events *ev, const char *model_id)
{
	events_item it = { .kind = EVENTS_MODEL_DELETED,
		.model_id = model_id };

	return publish_item(ev, &it);
}

events_sub *
events_subscribe(events *ev, const char *model_id, int resume,
		 uint64_t last_id, events_hook park, events_hook wake,
		 void *arg, fault *f)
{
	events_sub *s = calloc(1, sizeof *s);

	if (s == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	s->ev = ev;
	snprintf(s->model, sizeof s->model, "%s", model_id ? model_id : "");
	s->park = park;
	s->wake = wake;
	s->arg = arg;
	pthread_mutex_lock(&ev->mu);
	if (ev->closed) {
		pthread_mutex_unlock(&ev->mu);
		free(s);
		fault_set(f, FAULT_INTERNAL, "mlpd is shutting down");
		return NULL;
	}
	s->cursor = ev->next_id;
	if (resume) {
		/* nothing after last_id was lost: replay from there */
		if (last_id < ev->next_id && last_id + 1 >= do_oldest(ev) &&
		    last_id + 1 >= ev->first_id)
			s->cursor = last_id + 1;
		else {
			s->reset_due = 1;
			s->asked = last_id;
		}
	}
	s->next = ev->subs;
	if (ev->subs)
		ev->subs->prev = s;
	ev->subs = s;
	ev->nsubs++;
	pthread_mutex_unlock(&ev->mu);
	return s;
}

/* Points s->out at the next frame due, if any; returns 0 when none. */
static int
do_next_frame(events *ev, events_sub *s)
{
	if (s->reset_due) {
		int n = snprintf(s->small, sizeof s->small, "id: %" PRIu64
		    "\nevent: reset\ndata: {\"last_event_id\":%" PRIu64
		    ",\"oldest_id\":%" PRIu64 "}\n\n", ev->next_id - 1,
		    s->asked, do_oldest(ev));

		s->reset_due = 0;
		s->lost = 0;
		s->cursor = ev->next_id;
		s->out = s->small;
		s->outlen = (size_t)n;
		s->outoff = 0;
		return 1;
	}
	if (s->cursor < do_oldest(ev)) {
		/* the ring moved past this one: a reset only when an event
		 * it wanted was dropped (not for other models' events) */
		if (s->lost) {
			s->reset_due = 1;
			s->asked = s->cursor - 1;
			s->lost = 0;
			return do_next_frame(ev, s);
		}
		s->cursor = do_oldest(ev);
	}
	while (s->cursor < ev->next_id) {
		ev_event *e = ev->ring[s->cursor % ev->cap];

		s->cursor++;
		if (!wants(s, e))
			continue;
		e->refs++;
		s->outref = e;
		s->out = e->text;
		s->outlen = e->len;
		s->outoff = 0;
		return 1;
	}
	if (s->hb_due || !s->opened) {
		/* ": ok" first even when a heartbeat came due before the
		 * first read: it stands for that heartbeat too */
		s->out = s->opened ? HEARTBEAT_TEXT : OPEN_TEXT;
		s->outlen = strlen(s->out);
		s->outoff = 0;
		s->hb_due = 0;
		return 1;
	}
	return 0;
}

ssize_t
events_read(events_sub *s, char *buf, size_t max)
{
	events *ev = s->ev;
	size_t n = 0;

	pthread_mutex_lock(&ev->mu);
	while (n < max && !s->done) {
		size_t k;

		if (s->out == NULL && !do_next_frame(ev, s))
			break;
		s->opened = 1;
		k = s->outlen - s->outoff;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, s->out + s->outoff, k);
		n += k;
		s->outoff += k;
		if (s->outoff < s->outlen)
			break;
		if (s->outref != NULL) {
			if (s->outref->ends && s->model[0])
				s->done = 1;
			event_unref(s->outref);
			s->outref = NULL;
		}
		s->out = NULL;
	}
	if (n > 0) {
		pthread_mutex_unlock(&ev->mu);
		return (ssize_t)n;
	}
	if (s->done || ev->closed) {
		s->ended = 1;
		pthread_cond_broadcast(&ev->drained);
		pthread_mutex_unlock(&ev->mu);
		return -1;
	}
	if (!s->parked) {
		s->parked = 1;
		s->park(s->arg);
	}
	pthread_mutex_unlock(&ev->mu);
	return 0;
}

void
events_unsubscribe(events_sub *s)
{
	events *ev;

	if (s == NULL)
		return;
	ev = s->ev;
	pthread_mutex_lock(&ev->mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		ev->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ev->nsubs--;
	event_unref(s->outref);
	pthread_cond_broadcast(&ev->drained);
	pthread_mutex_unlock(&ev->mu);
	free(s);
}

size_t
events_subscribers(events *ev)
{
	size_t n;

	pthread_mutex_lock(&ev->mu);
	n = ev->nsubs;
	pthread_mutex_unlock(&ev->mu);
	return n;
}

uint64_t
events_last_id(events *ev)
{
	uint64_t id;

	pthread_mutex_lock(&ev->mu);
	id = ev->next_id - 1;
	pthread_mutex_unlock(&ev->mu);
	return id;
}
