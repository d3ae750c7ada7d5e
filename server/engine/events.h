/*
 * events: the live event hub behind GET /v1/events and
 * GET /v1/models/{id}/events (server-sent events).
 *
 * DESIGN. Publishers (trainer workers after each progress commit and
 * each job state change, request threads for model changes) hand the hub
 * plain structs (events_item: loss points, a job row, a model view, a
 * deletion); the engine never speaks JSON. The hub's renderer, a callback
 * the daemon installs at creation (the API layer's codec_event), turns an
 * item into the frame's data text, outside the hub's mutex. The hub then
 * appends the event to one bounded ring under one mutex; each event gets
 * the next id of a global, increasing sequence and is formatted once, as
 * the whole SSE frame ("id: N\nevent: T\ndata: {...}\n\n"). The ring keeps the last
 * `capacity` events (and at most EVENTS_MAX_BYTES of frames); older ones
 * are dropped.
 *
 * Ids strictly increase across restarts, even when the clock steps back
 * or a run published faster than one event per millisecond: with
 * events_persist the store keeps a reservation (daemon_state
 * "events_reserved", schema/mlpd-3.sql), a number above every id handed
 * out. A run starts one past the larger of that number and the wall clock
 * in milliseconds, and reserves EVENTS_ID_BLOCK ids at once. When half of
 * them are used, the publisher asks the heartbeat thread, which stores the
 * next block's end with the hub's mutex released (publishers do no I/O; one
 * that would pass the reservation while that write is under way waits for
 * it). A restart thus skips the unused rest of a block. Without events_persist (a hub on its own, in tests) the
 * first id is the wall clock in milliseconds.
 *
 * A subscriber is a cursor into the ring (the next id it may send), an
 * optional model filter, and two hooks: park and wake. Its reader,
 * events_read, runs on an HTTP thread whenever the connection can take
 * bytes; it copies what is due and, when nothing is, calls park (the HTTP
 * side suspends the connection) and returns 0. Publishing, the heartbeat
 * and shutdown call wake (the HTTP side resumes it) on parked subscribers
 * the event concerns. Park and wake are both called under the hub's mutex
 * and a flag records which happened last, so every park is matched by
 * exactly one wake and no wake-up is lost between "nothing to send" and
 * "parked". An idle subscriber thus holds no thread and uses no CPU: only
 * its cursor and its connection.
 *
 * One heartbeat thread (for the whole hub, not per subscriber) wakes every
 * subscriber each heartbeat period to send ": heartbeat"; that write is
 * also how a client that went away is noticed (a suspended connection
 * does not see the peer close), after which the HTTP side calls
 * events_unsubscribe.
 *
 * A subscriber resuming after id L gets every event after L that is still
 * in the ring, in order, exactly once. When events after L were dropped
 * (L is older than the ring, or from another run: every id below this
 * run's first id - 1 is), or when the subscriber
 * falls so far behind that the ring drops an event it wanted before it
 * was sent, it gets `event: reset` (whose id is the newest id at that
 * moment) and goes on with new events only: the client should re-read
 * state over REST. A filtered subscriber is not reset for other models'
 * events that it skipped.
 *
 * Lock order: the hub's mutex comes last (the daemon's order is written
 * once, in registry.h): callers may hold their own locks (the trainer's)
 * when they publish, and the only calls made under it are park and wake.
 * The renderer runs on the publisher's thread before the mutex is taken.
 * The heartbeat thread writes the reservation to the store with the
 * hub's mutex released, holding no other lock.
 */
#ifndef MLPD_EVENTS_H
#define MLPD_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fault.h"
#include "registry.h"
#include "store.h"

#define EVENTS_CAPACITY 4096            /* events kept for resuming */
#define EVENTS_MAX_BYTES (16u << 20)    /* bytes of frames kept, at most */
#define EVENTS_STEPS_MAX 512            /* "steps" list only up to this */
#define EVENTS_ID_BLOCK (1u << 20)     /* ids reserved in the store at once */

typedef struct events events;
typedef struct events_sub events_sub;

/* What an event is about; each has its SSE event type. */
typedef enum events_kind {
	EVENTS_STEP,          /* "step": loss points just committed */
	EVENTS_JOB,           /* "job": a job changed state */
	EVENTS_MODEL,         /* "model": a model was created or changed */
	EVENTS_MODEL_DELETED, /* "model": a model was deleted */
} events_kind;

/* An event as the engine publishes it: plain data, borrowed for the
 * duration of the call that publishes it. */
typedef struct events_item {
	events_kind kind;
	const char *model_id;         /* the model it concerns */
	const store_loss_point *pts;  /* EVENTS_STEP: the points committed, */
	size_t npts;                  /* in order; npts > 0 */
	const store_job *job;         /* EVENTS_JOB: the job's row */
	const registry_view *model;   /* EVENTS_MODEL: the model */
} events_item;

/* Turns it into the data text of its frame: malloc'd (the hub frees
 * it), its length in *len; NULL when it cannot (the event is dropped
 * with a warning). Called on the publisher's thread, with no hub lock
 * held; it must not call into the hub. For EVENTS_STEP the text carries
 * the points themselves only when npts <= EVENTS_STEPS_MAX. */
typedef char *(*events_render)(const events_item *it, size_t *len);

/* Suspends or resumes a subscriber's connection (arg is the subscriber's
 * hook argument). Called under the hub's mutex: they must not call back
 * into the hub. */
typedef void (*events_hook)(void *arg);

/* A hub keeping capacity events (>= 1) with a heartbeat every
 * heartbeat_seconds (0 < s <= 86400), whose events_step, events_job,
 * events_model and events_model_deleted render their data with render
 * (not NULL); starts the heartbeat thread. NULL with f set on failure. */
events *events_create(size_t capacity, double heartbeat_seconds,
		      events_render render, fault *f);

/* Makes ev's ids start past every id an earlier run on st handed out,
 * and keeps reserving them in st (see the DESIGN). Call once, after
 * events_create and before the first event; st must outlive ev. 0, or -1
 * with f set when st cannot be read or written. */
int events_persist(events *ev, store *st, fault *f);

/* Ends every stream: parked subscribers are woken, readers send what is
 * due and then end; later subscribes fail. Waits until every reader has
 * ended or wait_seconds have passed (a client that does not read may
 * never let its reader run); either way no subscriber is parked
 * afterwards. NULL is a no-op. */
void events_shutdown(events *ev, double wait_seconds);

/* Stops the heartbeat thread and frees the hub. Every subscriber must be
 * gone (the HTTP server stopped) first. NULL is a no-op. */
void events_destroy(events *ev);

/* Appends an event of type (e.g. "step") concerning model_id (NULL or ""
 * for none) whose data is len bytes of text (copied; newlines become
 * several data lines), and wakes the subscribers it concerns. Returns
 * the event's id, 0 when it could not be stored (out of memory). ev NULL
 * is a no-op. */
uint64_t events_publish(events *ev, const char *type, const char *model_id,
			const char *data, size_t len);

/* A "step" event for the n (> 0) loss points just committed for
 * model_id (the API shows the last step, loss and time, and every point
 * when n <= EVENTS_STEPS_MAX). n == 0 publishes nothing. */
uint64_t events_step(events *ev, const char *model_id,
		     const store_loss_point *pts, size_t n);

/* A "job" event: the job's row (the API shows it as GET /v1/jobs/{id}
 * does). */
uint64_t events_job(events *ev, const store_job *row);

/* A "model" event: the model was created or changed (the API shows it as
 * GET /v1/models/{id} does). */
uint64_t events_model(events *ev, const registry_view *model);

/* A "model" event saying model_id was deleted; streams filtered on that
 * model end after sending it. */
uint64_t events_model_deleted(events *ev, const char *model_id);

/* A new subscriber, for model_id's events only (NULL: every event). With
 * resume, it starts after id last_id (see the DESIGN); without, with the
 * next event. park/wake/arg: see events_hook. NULL with f set when the
 * hub is shut down or out of memory. The caller owns the subscriber and
 * ends it with events_unsubscribe. */
events_sub *events_subscribe(events *ev, const char *model_id, int resume,
			     uint64_t last_id, events_hook park,
			     events_hook wake, void *arg, fault *f);

/* Fills buf (max > 0 bytes) with what is due for s. Returns the bytes
 * written; 0 when nothing is due (s is then parked: park was called and
 * wake will be); -1 when the stream is over (shutdown, or the filtered
 * model was deleted). */
ssize_t events_read(events_sub *s, char *buf, size_t max);

/* Removes and frees s; NULL is a no-op. It is never woken after this. */
void events_unsubscribe(events_sub *s);

/* Current subscribers (for tests and metrics). */
size_t events_subscribers(events *ev);

/* The id of the newest event (the one before the first id of the run
 * when none was published yet). */
uint64_t events_last_id(events *ev);

#endif
