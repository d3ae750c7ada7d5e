/*
 * dataset: the rows a train job steps through, read from the store in
 * bounded memory (--job-memory), in the order of its epochs.
 *
 * Two ways, chosen when the job starts (DESIGN in dataset.c):
 *   - in memory, when the model's rows fit in the cap: the job trains on
 *     exactly what it did when it loaded them all (the same rows held out
 *     by validation_split, the same shuffle from the model's generator,
 *     the same steps), but its first step does not wait for the load;
 *   - streamed, when they do not: blocks of rows in a seeded order, rows
 *     shuffled within a window of blocks that fits the cap; every row once
 *     per epoch; validation rows held out by a hash of the seed and the
 *     row's number and measured block by block.
 * A dataset belongs to the worker running its job (no lock); between
 * slices it travels with the job. In memory it runs its own helper
 * threads (a loader of the rows, a gatherer of the next shuffled step:
 * DESIGN in dataset.c), ended by dataset_release and dataset_destroy.
 */
#ifndef MLPD_DATASET_H
#define MLPD_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "eval.h"
#include "fault.h"
#include "mlp.h"
#include "rng.h"
#include "store.h"

typedef struct dataset dataset;

typedef struct dataset_opts {
	const mlp_spec *spec;  /* the model's (borrowed for the call): widths,
	                          the seed, and the finiteness check */
	uint64_t order_key;    /* streamed: mixed with the seed into every
	                          epoch's order (the job's first step, so a
	                          resumed job sees the order it left) */
	double split;          /* validation_split; 0: none */
	size_t batch_size;     /* rows per step (fewer when the set is smaller) */
	int shuffle;           /* reshuffle every epoch */
	size_t cap;            /* bytes of rows the job may hold */
	size_t read_bytes;     /* bytes of rows read ahead at once (in
	                          memory: a loader's chunk); 0: 4 MiB */
} dataset_opts;

/* Lists the model's rows and plans the epochs; reads no row yet.
 * FAULT_INVALID without rows or when the split leaves none to train on.
 * *out: dataset_destroy frees it; st must outlive it. */
int dataset_open(store *st, const char *model_id, const dataset_opts *o,
		 dataset **out, fault *f);

/* Rows trained on, rows held out for validation, rows per step, steps
 * per epoch, and 1 when streamed (the rows do not fit the cap). */
size_t dataset_rows(const dataset *d);
size_t dataset_val_rows(const dataset *d);
size_t dataset_batch_rows(const dataset *d);
size_t dataset_per_epoch(const dataset *d);
int dataset_streamed(const dataset *d);

/* Bytes of rows and buffers d holds now. */
size_t dataset_bytes(const dataset *d);

/* The minibatch of the job's step s (0-based, steps done so far): *x and
 * *y point at *rows rows inside d, valid until the next call. In memory,
 * r (the model's generator) reshuffles at each epoch's first step as the
 * whole-load trainer did; streamed, r is not used. Reads what it needs
 * from the store, and (but on the first call after opening or a release)
 * a few MiB more of the rest. Each s once, in order
 * (a resumed job may start at any s). */
int dataset_batch(dataset *d, rng *r, int64_t s, const float **x,
		  const float **y, size_t *rows, fault *f);

/* Measures live on the validation rows (FAULT_INVALID when there are
 * none): the loss over all of them and the accuracy when every target is
 * one-hot (else NAN). */
int dataset_measure(dataset *d, mlp *live, eval_result *r, fault *f);

/* Frees the rows d holds (a job that yields while others wait); the
 * order is kept, and the next call reads what it needs again. */
void dataset_release(dataset *d);

/* NULL is a no-op. */
void dataset_destroy(dataset *d);

#endif
