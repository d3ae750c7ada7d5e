/*
 * peers: what other nodes change in a shared store (PostgreSQL), brought
 * into this node's registry: models created elsewhere are loaded, the
 * checkpoints other nodes commit reach this node's predictions, and models
 * deleted elsewhere leave. Started only when store_shared(): a SQLite
 * store is this daemon's alone and needs none of it.
 *
 * DESIGN. One thread polls every `interval` seconds with one
 * store_models_stamps query (ids, steps, times: no weights) and compares
 * with the registry (the full poll). Between two, on a shared store, it
 * waits for the notifications other nodes' weight commits send
 * (store_models_wait, with the time left to the next full poll as its
 * timeout) and reloads each model heard of at once, as the full poll
 * would (the same rules, its `step` event included; a row at the step and
 * time the registry shows already, this node's own commit, is skipped),
 * then reads the jobs written since the last read; so a prediction here
 * follows another node's checkpoint within a fraction of a second, and
 * the full poll is the fallback. A wait that opened its listener (the
 * first, or the first after PostgreSQL came back) may have missed
 * notifications: a full poll follows at once. A failed wait is retried
 * every RETRY_MS, the full polls going on. peers_stop ends a wait through
 * a pipe (the wait's cancel fd).
 * The full poll:
 * - a model in the store but not in the registry is loaded when two polls
 *   in a row saw it missing, so that a model this node is creating (store
 *   row first, registry entry next) or deleting (registry entry out first,
 *   store row next) is not loaded twice or brought back;
 * - a model whose stored step moved away from the registry's, and that has
 *   no train job queued or running here, gets its checkpoint read
 *   (store_model_get) into a new snapshot; its live weights stay (see
 *   registry_replace_snapshot), and the snapshot is replaced only while
 *   the registry still shows the step and time read before the store
 *   (this node's trainer may publish newer work of its own between the
 *   read and the reload: going back to the older row made the next
 *   reload publish that work again); at the same step, a stored row
 *   count that differs (rows pushed through another node) is taken
 *   over;
 * - a model in the registry (listed before the query, so created before
 *   it) that the store no longer has leaves the registry as a local delete
 *   would leave it (its jobs forgotten, version nets dropped, a
 *   model.deleted event), the store untouched.
 * Events (the hub's streams carry other nodes' work too):
 * - a model reloaded because another node's commit moved its stored step
 *   from s0 to s1 gets one `step` event on this node with the stored raw
 *   loss points s0+1..s1 (store_loss_query), or, when that gap is longer
 *   than EVENTS_STEPS_MAX, with the point of s1 only; work of this node
 *   is never published twice: a model with a job queued or running here
 *   is not reloaded at all, and one whose training count here
 *   (registry_view.trained_steps, moved by every local commit) changed
 *   between the stamps query and the points read, or that a worker here
 *   runs a task of when the points were read (trainer_model_busy: a
 *   /step's commit is in the store, and notified, before its trainer
 *   counts it; asked before the count), is left to the local publisher;
 * - every poll reads the job rows (on a shared store only those written
 *   since the last read, store_jobs_changed, keeping a mark of every job
 *   read so far; else every job, store_jobs_each) and publishes a `job`
 *   event for a row that is new since the last poll or whose status or
 *   node changed,
 *   unless it is this node's: its node is this node (node_id), or this
 *   node's trainer has it queued or running, or shows it with the same
 *   status and node (the trainer published it). peers_start reads the
 *   rows once (nothing published) for the first poll to compare with.
 *   From the marks it keeps the models whose job runs on another node
 *   (peers_training_elsewhere: GET /v1/models shows them `training`
 *   there) and touches a model when that changes, so its ETag does.
 * peers_fetch is the API's miss path: one store_model_get on the request's
 * thread, the model added unless another thread added it first
 * (registry_add_new).
 *
 * Locks: the thread's mutex guards only the stop flag and its condition;
 * it is never held while calling out, and nothing is called under it.
 * The list of models trained elsewhere has a mutex of its own, a leaf
 * (held only to swap or search the list). The
 * poller takes the registry's, trainer's and hub's locks only through
 * their calls, one at a time, with nothing of its own held, and calls the
 * store with none of them held (the order of registry.h holds).
 */
#ifndef MLPD_PEERS_H
#define MLPD_PEERS_H

#include "events.h"
#include "fault.h"
#include "registry.h"
#include "store.h"
#include "trainer.h"
#include "versions.h"

typedef struct peers peers;

typedef struct peers_config {
	store *st;
	registry *reg;
	trainer *tr;
	versions *vs;
	events *ev;
	double interval;  /* seconds between polls (--peer-sync) */
	/* told of every model added (+1) or dropped (-1) here, for the
	 * --max-models and --max-params counts; may be NULL */
	void (*held)(void *arg, const mlp_spec *spec, int delta);
	void *held_arg;
	/* this node's id (--node-id): its jobs' changes are published by
	 * its trainer, not by the poller; NULL or "": none */
	const char *node_id;
} peers_config;

/* Starts the polling thread. */
peers *peers_start(const peers_config *c, fault *f);

/* Stops and joins the thread; NULL is a no-op. */
void peers_stop(peers *p);

/* One poll, now (the thread's work; for tests). 0, or -1 with f filled
 * when the store could not be read. */
int peers_poll(peers *p, fault *f);

/* The miss path: model id read from the store and added to the registry,
 * referenced; NULL when the store has none (or p is NULL). */
model_entry *peers_fetch(peers *p, const char *id);

/* 1 when another node runs a job of model_id (as the last read of the
 * jobs saw it), its node id copied into node (len bytes; may be NULL);
 * else 0, and 0 when p is NULL. Any thread. */
int peers_training_elsewhere(peers *p, const char *model_id, char *node,
			     size_t len);

/* This node's id as configured ("" when none or p is NULL); borrowed. */
const char *peers_node(const peers *p);

#endif
