/*
 * lease: this node's leases on the models it writes (store.h, "leases"):
 * one writer per model across the nodes that share a database.
 *
 * DESIGN. The trainer takes a model's lease before a train job's first
 * step and before a synchronous /step or weight replacement (lease_acquire
 * on a worker thread), and drops it when that work ends (lease_put). A
 * node holds one lease per model however many holds it hands out: a job
 * and the steps queued behind it share the lease and its epoch, and the
 * last put releases it in the store for another node to take at once.
 * One thread of this module (the renewer) renews every lease held every
 * ttl/3. When a renew says the lease was lost (another node took it, or
 * its epoch moved on), or a fenced write failed with FAULT_FENCED
 * (lease_mark_lost), the hold is marked lost and one line is logged
 * naming the model, the old epoch and the holder; the trainer reads
 * lease_lost between steps and stops that work at once, writing nothing
 * more. A lost lease is never released (it is another node's now).
 *
 * Locks: leases.mu guards the list of leases, their counts and their
 * busy marks, and is never held across a store call: a take, a renew or
 * a release marks its lease busy under the lock, calls the store without
 * it, and clears the mark (waking leases.idle) under it again. Whoever
 * else needs that model's lease waits while it is busy, so a take and a
 * renew of the same model never cross, while a take of another model
 * never waits for a renew (which, with the database away, may last a
 * connect timeout); the renewer lists the leases to renew under the lock
 * and renews them without it. leases.mu is taken by workers and the
 * renewer, never while trainer.mu is held (registry.h has the order:
 * trainer.mu and lease.mu are never held together, and the store's locks
 * come after lease.mu). A hold's lost flag is atomic: the trainer reads
 * it every step without a lock.
 */
#ifndef MLPD_LEASE_H
#define MLPD_LEASE_H

#include <stdint.h>

#include "fault.h"
#include "store.h"

typedef struct leases leases;
typedef struct lease_hold lease_hold;

/* Default and range of --lease-ttl, in seconds. */
#define LEASE_TTL_DEFAULT 10
#define LEASE_TTL_MIN 1
#define LEASE_TTL_MAX 3600

/* Starts the renewer for node_id (1..STORE_NODE_MAX - 1 bytes) with
 * leases of ttl_ms (>= 3) on st (borrowed; it must outlive the leases). */
leases *leases_create(store *st, const char *node_id, int64_t ttl_ms,
		      fault *f);

/* Stops the renewer and releases every lease still held (SIGTERM: the
 * trainer has checkpointed and put its holds by then, so this only
 * catches stragglers). NULL is a no-op. */
void leases_destroy(leases *l);

/* The node id (borrowed; "" for NULL). */
const char *leases_node(const leases *l);

/* Takes this node's lease on model_id (or shares the one it holds) into
 * *out. With l NULL, *out is NULL: unfenced work (epoch 0). FAULT_BUSY
 * "model 'm' is being trained on node 'X'" when another node holds a live
 * lease on it. No trainer lock held. */
int lease_acquire(leases *l, const char *model_id, lease_hold **out,
		  fault *f);

/* The hold's epoch, for the store's fenced writes; 0 for NULL. */
uint64_t lease_epoch(const lease_hold *h);

/* 1 once the lease behind h was lost (never for NULL). Lock-free. */
int lease_lost(const lease_hold *h);

/* A fenced write of h's work failed (why: its FAULT_FENCED message):
 * marks the lease lost and logs it once. NULL h is a no-op. */
void lease_mark_lost(leases *l, lease_hold *h, const char *why);

/* Drops a hold; the last one releases the lease in the store (unless it
 * was lost). NULL h is a no-op. No trainer lock held. */
void lease_put(leases *l, lease_hold *h);

/* Leases this node holds now (for /metrics and tests). */
size_t leases_held(leases *l);

#endif
