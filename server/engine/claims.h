/*
 * claims: on a shared store (PostgreSQL), this node's part in running the
 * cluster's jobs: it says it is alive, and it takes the jobs no live node
 * runs (a dead node's, those another node handed back at SIGTERM, and new
 * jobs their node could not start at once) and gives them to the
 * trainer, which resumes each from its last checkpoint under the same id
 * (trainer_adopt). Started only when store_shared().
 *
 * DESIGN. One thread per node. Its first act is a joining beat
 * (store_node_beat, join = 1), which makes claimable whatever an earlier
 * run of the same node id left owned; nothing is claimed before that
 * beat succeeded. Then it beats every ttl/3 (the node is alive while its
 * beat has not expired, by the database's clock) and, whenever the
 * trainer has a free worker and nothing queued (trainer_has_room), claims
 * jobs one at a time (store_job_claim: FOR UPDATE SKIP LOCKED, so two
 * nodes never take the same one) and hands each to the trainer. Between
 * rounds it waits for a wake-up (store_jobs_wait: another node's insert,
 * hand-back or leave) for at most the poll interval and the time to the
 * next beat; when waiting fails (the database away) it sleeps that long
 * instead, so polling is the fallback. Its own node wakes it too,
 * through a pipe whose read end the wait also watches: the trainer's room
 * hook (trainer_on_room) writes to it when a worker frees after the
 * claimer found none free, so an offered job starts as soon as this
 * node's trainer can take it, not at the next look; claims_stop writes
 * to it so the thread ends at once. Every round it also looks for
 * cancel requests other nodes left on the jobs it owns
 * (store_jobs_cancel_asked) and has the trainer cancel each without
 * waiting (trainer_cancel_soon): the job ends cancelled after its
 * checkpoint, as a local DELETE ends it, within about a second. A claimed row is copied out of the
 * store's callback and adopted after the claim's transaction, so nothing
 * else runs inside it. A claimed job the trainer cannot take (its model
 * gone, the trainer closing) is handed back at once.
 *
 * Shutdown (daemon.c): claims_stop removes the room hook and ends the
 * thread (no more claims, no more beats: a join, woken out of its wait); the trainer then checkpoints
 * and hands back its jobs (trainer_close); claims_destroy finally says
 * the node left (store_node_leave), which wakes the other nodes, so they
 * claim what it handed back at once rather than after --lease-ttl.
 *
 * Locks: claims.mu guards only the stop flag and its condition, and is
 * never held while calling out. The room hook runs under trainer.mu and
 * only writes a byte to the non-blocking pipe. The thread calls the store with no lock
 * held and the trainer and registry only through their calls (registry.h
 * has the order).
 */
#ifndef MLPD_CLAIMS_H
#define MLPD_CLAIMS_H

#include <stdint.h>

#include "fault.h"
#include "registry.h"
#include "store.h"
#include "trainer.h"

typedef struct claims claims;

typedef struct claims_config {
	store *st;            /* borrowed; shared (store_shared) */
	trainer *tr;          /* borrowed; outlives the claimer's thread */
	const char *node_id;  /* this node (--node-id), copied */
	int64_t ttl_ms;       /* a beat lasts this long (--lease-ttl) */
	double interval;      /* seconds between looks when no wake-up
	                         comes (--peer-sync) */
	/* the model a claimed job trains, with a new reference (the caller
	 * puts it), or NULL when there is none */
	model_entry *(*model)(void *arg, const char *id);
	void *model_arg;
} claims_config;

/* Starts the claimer's thread (the first beat is its own first act). */
claims *claims_start(const claims_config *c, fault *f);

/* Stops and joins the thread: no more beats, no more claims. A second
 * call is a no-op. NULL is a no-op. */
void claims_stop(claims *c);

/* claims_stop, then store_node_leave (what this node still owns becomes
 * claimable at once; the others are woken), then frees. NULL is a no-op. */
void claims_destroy(claims *c);

/* Jobs this node claimed since it started (for tests). */
uint64_t claims_count(claims *c);

#endif
