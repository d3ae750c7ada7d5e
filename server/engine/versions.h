/*
 * versions: the engine's side of model versions and aliases: every
 * alias in memory, and a small cache of loaded version nets, so that a
 * prediction pinned to a version or an alias reads SQLite only the first
 * time a version is used (then never again while it stays cached).
 *
 * DESIGN. Three kinds of threads meet here. HTTP threads resolve
 * predictions (versions_resolve): under the module's mutex `mu` they look
 * the alias up, take a reference to the cached net and leave; on a miss
 * they read the version from the store with no lock held, load it, and
 * insert it under `mu` unless a delete happened meanwhile (the generation
 * counter `gen` says so; the request is still answered from what it
 * read, the version it named when it started). A miss reads SQLite, so
 * api_predict asks versions_loaded first and runs a miss on a request
 * worker instead. Request workers change
 * aliases and delete versions: each holds `wmu` across its store
 * transaction and the memory update that follows, so writers of one
 * daemon apply their changes to memory in the order they committed them;
 * the memory update itself is one critical section under `mu`, so a
 * prediction sees an alias before or after a move, never between, and
 * answers from the version it resolved. `mu` is never held across I/O
 * or a forward pass (the net is reference counted and immutable). Lock
 * order: wmu, then the store's locks, then mu; none of the registry's or
 * the trainer's locks is taken under either, nor are these taken under
 * theirs (they are leaves after the locks of registry.h).
 *
 * Errors: 0/-1 with a fault; lookups answer 1 found, 0 unknown (the fault
 * says what was unknown), -1 failure.
 */
#ifndef MLPD_VERSIONS_H
#define MLPD_VERSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "mlp.h"
#include "store.h"

#define VERSIONS_MAX_ALIASES 64 /* aliases per model */

typedef struct versions versions;

/* Loads every alias from st (borrowed; must outlive the result); keeps
 * at most max_nets (>= 1) loaded nets. NULL with f set on failure. */
versions *versions_create(store *st, size_t max_nets, fault *f);

/* Frees everything; NULL is a no-op. */
void versions_destroy(versions *v);

/* The net of a version of model_id: of alias when it is not NULL, else
 * of number version. 1 with *snap (a new reference; the caller
 * mlp_snapshot_unref()s it) and *out_version set; 0 when there is no such
 * alias or version (f says which); -1 on failure. spec: the model's;
 * the stored blob must match it. */
int versions_resolve(versions *v, const char *model_id, const mlp_spec *spec,
		     const char *alias, uint64_t version, mlp_snapshot **snap,
		     uint64_t *out_version, fault *f);

/* Whether the net that versions_resolve would answer with is loaded now
 * (alias when not NULL, else version): 1, or 0 when it would read the
 * store (or there is no such alias). A caller on a thread that must not
 * wait hands a 0 to a worker. */
int versions_loaded(versions *v, const char *model_id, const char *alias,
		    uint64_t version);

/* The version alias names: 1 with *version, 0 when there is none. */
int versions_alias_get(versions *v, const char *model_id, const char *alias,
		       uint64_t *version);

/* Points alias at version, durably then in memory: 1 done, 0 no such
 * version (nothing changed), -1 (FAULT_LIMIT past VERSIONS_MAX_ALIASES). */
int versions_alias_set(versions *v, const char *model_id, const char *alias,
		       uint64_t version, int64_t now_ms, fault *f);

/* Removes alias: 1 done, 0 when there was none. */
int versions_alias_delete(versions *v, const char *model_id,
			  const char *alias, fault *f);

/* Deletes a version (see store_version_delete) and drops it from the
 * cache, with its aliases when drop_aliases. */
int versions_delete(versions *v, const char *model_id, uint64_t version,
		    int drop_aliases, store_vdel *what, fault *f);

/* Forgets everything of a model that was deleted from the store. */
void versions_forget_model(versions *v, const char *model_id);

/* A malloc'd copy of the aliases of model_id, by name (*n may be 0, and
 * then the result may be NULL). NULL with *n 0 also when out of memory. */
store_alias *versions_aliases_of(versions *v, const char *model_id,
				 size_t *n);

/* Nets loaded now (for tests). */
size_t versions_cached(versions *v);

#endif
