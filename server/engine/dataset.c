/*
 * dataset: a train job's rows, read from the store as the job goes, in
 * bounded memory (dataset.h says what it offers).
 *
 * DESIGN. The stored rows are numbered 0..total-1 in batch order
 * (store_rows.c). A job sees them through a window: the slots of the rows
 * it may use now, each naming a stored row (pos), of which a prefix has
 * been read (filled). A step takes its rows through the order of the
 * window: a slot already read is copied, one not yet read is fetched at
 * once with the other missing rows of the step (incremental blob reads,
 * about one page a row), and before every step but the first a further
 * chunk of slots (FILL_BYTES) is read. So a job's first step waits for its own rows only,
 * never for the whole set (60,000 rows of 784 inputs take about a second
 * to read), and the rows come out exactly as a whole load gave them.
 *
 * In memory (the rows fit the cap): the window is every training row, in
 * stored order; validation_split holds out the rows core/eval.h's
 * eval_hold_out holds out (the last of a shuffle seeded with the model's
 * seed), read when first measured; the order is idx, reshuffled by the
 * model's generator at each epoch's first step. Everything the steps see
 * is what the whole-load trainer gave them, so results do not change.
 *
 * Streamed (they do not): rows fall in blocks of `blk` consecutive rows; a
 * row is held out for validation when a hash of the seed and its number
 * falls under the split (about that share of the rows, the same ones for
 * every job on the same rows and seed). Each epoch shuffles the block
 * order, then takes `win` blocks at a time as a window whose training rows
 * it shuffles (tf.data's and WebDataset's shuffle buffer), each shuffle
 * from a generator seeded by the seed, the job's order key, the epoch
 * and the window: the order of any step follows from those alone, so a
 * job that yields (and drops its rows) or resumes after a restart picks
 * up the very order it left. Every training row comes once an epoch.
 * Validation reads every block once per measurement and measures its
 * held-out rows, weighting each block's loss by its rows.
 *
 * LOADER (in memory; DESIGN where threads meet). Reading every row takes
 * about a second, most of a 20,000-step job's overhead when the trainer
 * did it between steps, so a job in memory starts a loader thread on its
 * first step (and on the first after a release) that reads the slots in
 * chunks of FILL_BYTES. Each chunk has a claim state, an atomic FREE ->
 * READING -> READY: whoever moves it FREE -> READING (compare-and-swap)
 * reads it into x and y, and publishes it with a release store of READY;
 * no one else writes those rows, and the trainer reads a slot from x only
 * after an acquire load saw its chunk READY. The loader claims chunks in
 * order; an in-order job (no shuffle) also claims the free chunks its
 * step needs and reads them itself, so two threads read at once; a slot
 * in a chunk not READY is read by the trainer on its own, as a missing
 * row (store_rows_read is thread-safe). Rows are the same whoever reads
 * them, so results do not change. The loader ends when no chunk is FREE,
 * on a fault (it sets its chunk FREE again and `lfail`: the trainer then
 * claims a chunk before each step, as it did without a loader, and meets
 * the fault itself), or when dataset_release sets `stop` (then joined
 * before the rows are freed). The trainer joins it once every chunk is
 * READY. Streamed windows are read on the trainer thread (fill_more).
 *
 * GATHERER (in memory, shuffled, every chunk READY). Gathering a step's 64
 * rows from all over the rows costs the trainer tens of microseconds of
 * cache misses a step, so a gatherer thread gathers the next step's rows
 * into a second step buffer (gb) while the trainer trains on this one.
 * Its state (gstate, goff, gn, gquit) is under gmu: the trainer asks
 * (IDLE -> ASKED, and a signal on gcv) only for a step of the same epoch,
 * whose order is settled; the gatherer takes it (ASKED -> WORKING),
 * writes gb and sets DONE. At its next call the trainer first settles the
 * ask: DONE for this step, it swaps gb with its own buffer; ASKED (the
 * gatherer was not scheduled yet), it takes the ask back and gathers
 * itself; WORKING (the gatherer was preempted, on a busy machine), it
 * gathers itself into its own buffer and asks nothing until that stale
 * step is DONE, but at an epoch's first step it waits for it, before it
 * reshuffles the order. So the gatherer reads only the order and the
 * READY rows, never while the trainer reshuffles, and writes only gb,
 * which the trainer reads after the DONE it saw under gmu.
 * dataset_release stops and joins it.
 *
 * Memory: in memory, the rows and 12 bytes of order per row; streamed, a
 * window of at most 7/8 cap / (row + 12 bytes) slots less one block, plus
 * one block for validation, and 8 bytes per block (blocks are made large
 * enough for those to take at most an eighth of the cap); either way plus
 * the step's own rows. Streaming is chosen when the rows do not fit.
 */
#include "dataset.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hugemem.h"

/* Bytes of slots a read-ahead reads (a loader's chunk; streamed: after
 * each step), unless dataset_opts says otherwise. */
#define FILL_BYTES ((size_t)4 << 20)
/* Blocks in a streamed window (a 33rd is the validation block). */
#define WINDOW_BLOCKS 32
/* Chunk claim states (LOADER in the DESIGN). */
enum { CHUNK_FREE, CHUNK_READING, CHUNK_READY };
/* The gatherer's states (GATHERER in the DESIGN). */
enum { G_IDLE, G_ASKED, G_WORKING, G_DONE };
/* Rows ahead whose cache lines a gather asks for while it copies one. */
#define PREFETCH_ROWS 4

struct dataset {
	store_rows *rows;
	mlp_spec spec;
	size_t nin, nout, rowb; /* widths, and bytes of a row */
	size_t fillb;           /* bytes of rows a read-ahead reads */
	uint64_t seed, key;     /* the model's seed, the job's order key */
	double split;
	int shuffle, streamed;
	uint64_t total;         /* stored rows */
	size_t n, vn;           /* training and validation rows */
	size_t bs, per_epoch;
	/* the window (in memory: every training row) */
	size_t slots;           /* slots the buffers hold at most */
	uint64_t *pos;          /* per slot: its stored row */
	uint32_t *order;        /* slot order (in memory: idx over all) */
	size_t wn, filled;      /* slots of the window, slots read */
	float *x, *y;           /* `slots` rows, the first `filled` read */
	/* in memory: the validation rows, eval_hold_out's order */
	uint64_t *vpos;
	float *vx, *vy, *vout;  /* read on the first measure */
	int onehot;
	/* streamed */
	size_t blk, nblk, win;  /* rows a block, blocks, blocks a window */
	uint32_t *btrain;       /* per block: its training rows */
	uint32_t *border;       /* the block order of epoch `epoch` */
	int64_t epoch;          /* -1: none yet */
	int have_win;           /* wi, wstart, pos and order are the window */
	size_t wi, wstart;      /* its index in the epoch, its first row's
	                           place in the epoch */
	uint64_t *epos;         /* validation: a block's held-out rows */
	float *ex, *ey, *escratch;
	/* the step's rows */
	float *xb, *yb;         /* bs rows */
	float *xs, *ys;         /* missing rows, as read */
	uint64_t *mpos;         /* their stored rows */
	size_t *mslot;          /* their place in xb */
	size_t nmiss;
	int warm;               /* a step was served since the last release */
	/* in memory: the loader (DESIGN) */
	size_t chunk, nchunk;   /* rows a chunk, chunks */
	atomic_uchar *cstate;   /* per chunk: CHUNK_* */
	size_t ready;           /* trainer: chunks 0..ready-1 seen READY */
	pthread_t loader;
	int loading;            /* loader started and not joined */
	atomic_int stop;        /* the loader ends after its chunk */
	atomic_int lfail;       /* the loader met a fault and ended */
	/* in memory, shuffled: the gatherer (DESIGN) */
	float *gb;              /* its step buffer: bs rows, x then y */
	pthread_t gather;
	int gathering;          /* started and not joined; -1: could not */
	pthread_mutex_t gmu;
	pthread_cond_t gcv;
	int gstate, gquit;      /* G_*, and "end" (under gmu) */
	size_t goff, gn;        /* the step asked: its place in the order,
	                           its rows (under gmu) */
};

/* splitmix64's finalizer: a well mixed 64-bit hash of z. */
static uint64_t
mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Streamed: stored row p is held out for validation. */
static int
held(const dataset *d, uint64_t p)
{
	uint64_t h = mix64(mix64(d->seed ^ 0x5851f42d4c957f2dULL) ^ p);

	return d->split > 0 && (double)(h >> 11) * 0x1.0p-53 < d->split;
}

/* Streamed: the seed of epoch e's block order (w == 0) or of its window
 * w - 1's row order. */
static uint64_t
order_seed(const dataset *d, int64_t e, size_t w)
{
	return mix64(mix64(mix64(d->seed) ^ d->key) ^ (uint64_t)e) ^
	    mix64((uint64_t)w);
}

static void *
alloc(size_t n, size_t elem, fault *f)
{
	void *p = NULL;

	if (n > SIZE_MAX / elem || (p = malloc(n ? n * elem : 1)) == NULL)
		fault_set(f, FAULT_NOMEM, "out of memory for the training "
		    "rows");
	return p;
}

/* In memory: eval_hold_out's split, without the rows: pos gets the
 * training rows in stored order, vpos the held-out ones in its order. */
static int
plan_memory(dataset *d, fault *f)
{
	size_t total = (size_t)d->total, k = 0, t = 0;
	uint32_t *perm = NULL;
	unsigned char *out = NULL;
	rng r;
	int rc = -1;

	if (d->split > 0) {
		if (total > UINT32_MAX)
			return fault_set(f, FAULT_INVALID, "a validation split "
			    "needs at most %u rows", (unsigned)UINT32_MAX);
		k = (size_t)eval_held_out((int64_t)total, d->split);
		if (k >= total)
			return fault_set(f, FAULT_INVALID, "validation_split "
			    "holds out all %zu rows; none is left to train on",
			    total);
	}
	d->n = d->slots = d->wn = total - k;
	d->vn = k;
	if ((d->pos = alloc(d->n, sizeof *d->pos, f)) == NULL ||
	    (d->order = alloc(d->n, sizeof *d->order, f)) == NULL ||
	    (d->vpos = alloc(k, sizeof *d->vpos, f)) == NULL)
		return -1;
	if (k > 0 && ((perm = alloc(total, sizeof *perm, f)) == NULL ||
	    (out = calloc(total, 1)) == NULL)) {
		fault_set(f, FAULT_NOMEM, "out of memory for the validation "
		    "rows");
		goto done;
	}
	if (k > 0) {
		for (size_t i = 0; i < total; i++)
			perm[i] = (uint32_t)i;
		rng_seed(&r, d->seed);
		rng_shuffle(&r, perm, total);
		for (size_t v = 0; v < k; v++) {
			d->vpos[v] = perm[total - k + v];
			out[perm[total - k + v]] = 1;
		}
	}
	for (size_t i = 0; i < total; i++)
		if (out == NULL || !out[i])
			d->pos[t++] = i;
	for (size_t i = 0; i < d->n; i++)
		d->order[i] = (uint32_t)i;
	d->chunk = d->fillb / d->rowb ? d->fillb / d->rowb : 1;
	d->nchunk = (d->n + d->chunk - 1) / d->chunk;
	if ((d->cstate = alloc(d->nchunk, sizeof *d->cstate, f)) == NULL)
		goto done;
	rc = 0;
done:
	free(perm);
	free(out);
	return rc;
}

/* Streamed: sizes the blocks and the window for the cap, and counts each
 * block's training rows. */
static int
plan_stream(dataset *d, size_t cap, fault *f)
{
	/* an eighth of the cap for the 8 bytes a block takes, the rest for
	 * the window and the validation block */
	size_t fit = (cap - cap / 8) / (d->rowb + 12);
	uint64_t least = d->total / (cap / 64 ? cap / 64 : 1) + 1;

	if (fit > UINT32_MAX)
		fit = UINT32_MAX;

	d->blk = fit / (WINDOW_BLOCKS + 1) ? fit / (WINDOW_BLOCKS + 1) : 1;
	if (d->blk < least)
		d->blk = (size_t)least;
	d->win = fit / d->blk > 1 ? fit / d->blk - 1 : 1;
	d->nblk = (size_t)((d->total + d->blk - 1) / d->blk);
	d->slots = d->win * d->blk;
	d->epoch = -1;
	if ((d->btrain = alloc(d->nblk, sizeof *d->btrain, f)) == NULL ||
	    (d->border = alloc(d->nblk, sizeof *d->border, f)) == NULL)
		return -1;
	d->n = 0;
	for (size_t b = 0; b < d->nblk; b++) {
		uint64_t p = (uint64_t)b * d->blk, end = p + d->blk;
		uint32_t c = 0;

		for (end = end < d->total ? end : d->total; p < end; p++)
			c += !held(d, p);
		d->btrain[b] = c;
		d->n += c;
	}
	d->vn = (size_t)d->total - d->n;
	if (d->n == 0)
		return fault_set(f, FAULT_INVALID, "validation_split holds out "
		    "all %llu rows; none is left to train on",
		    (unsigned long long)d->total);
	return 0;
}

int
dataset_open(store *st, const char *model_id, const dataset_opts *o,
	     dataset **out, fault *f)
{
	dataset *d = calloc(1, sizeof *d);
	uint32_t nin = o->spec->sizes[0];
	uint32_t nout = o->spec->sizes[o->spec->n_layers];
	int rc;

	*out = NULL;
	if (d == NULL)
		return fault_set(f, FAULT_NOMEM, "out of memory");
	pthread_mutex_init(&d->gmu, NULL);
	pthread_cond_init(&d->gcv, NULL);
	d->spec = *o->spec;
	d->nin = nin;
	d->nout = nout;
	d->rowb = ((size_t)nin + nout) * sizeof(float);
	d->seed = o->spec->seed;
	d->key = o->order_key;
	d->split = o->split;
	d->shuffle = o->shuffle;
	d->fillb = o->read_bytes ? o->read_bytes : FILL_BYTES;
	if (store_rows_open(st, model_id, nin, nout, &d->rows, f) < 0)
		goto fail;
	d->total = store_rows_count(d->rows);
	if (d->total == 0) {
		fault_set(f, FAULT_INVALID, "the model has no training data");
		goto fail;
	}
	/* slots are numbered in 32 bits */
	d->streamed = d->total > UINT32_MAX ||
	    d->total * (d->rowb + 12) > o->cap;
	rc = d->streamed ? plan_stream(d, o->cap, f) : plan_memory(d, f);
	if (rc < 0)
		goto fail;
	d->bs = o->batch_size < d->n ? o->batch_size : d->n;
	d->per_epoch = (d->n + d->bs - 1) / d->bs;
	if ((d->xb = alloc(d->bs, d->rowb, f)) == NULL ||
	    (d->xs = alloc(d->bs, d->rowb, f)) == NULL ||
	    (d->mpos = alloc(d->bs, sizeof *d->mpos, f)) == NULL ||
	    (d->mslot = alloc(d->bs, sizeof *d->mslot, f)) == NULL)
		goto fail;
	/* the targets after the inputs, in the same blocks */
	d->yb = d->xb + d->bs * d->nin;
	d->ys = d->xs + d->bs * d->nin;
	*out = d;
	return 0;
fail:
	dataset_destroy(d);
	return -1;
}

size_t
dataset_rows(const dataset *d)
{
	return d->n;
}

size_t
dataset_val_rows(const dataset *d)
{
	return d->vn;
}

size_t
dataset_batch_rows(const dataset *d)
{
	return d->bs;
}

size_t
dataset_per_epoch(const dataset *d)
{
	return d->per_epoch;
}

int
dataset_streamed(const dataset *d)
{
	return d->streamed;
}

size_t
dataset_bytes(const dataset *d)
{
	size_t b = d->bs * (2 * d->rowb + 16);

	if (d->x != NULL)
		b += d->slots * d->rowb;
	if (d->pos != NULL)
		b += d->slots * 12;
	if (d->vx != NULL)
		b += d->vn * d->rowb;
	if (d->ex != NULL)
		b += d->blk * (d->rowb + 8);
	if (d->gb != NULL)
		b += d->bs * d->rowb;
	return b + d->vn * (d->streamed ? 0 : 8) + d->nblk * 8 + d->nchunk;
}

/* Reads rows pos[0..n) into x and y, and checks them (rows were checked
 * at ingest; this also covers a damaged file). */
static int
read_rows(dataset *d, const uint64_t *pos, size_t n, float *x, float *y,
	  fault *f)
{
	if (n == 0)
		return 0;
	if (store_rows_read(d->rows, pos, n, x, y, f) < 0)
		return -1;
	return mlp_check_data(&d->spec, x, y, n, f);
}

/* Reads the step's missing rows and puts them in place. */
static int
flush_missing(dataset *d, fault *f)
{
	if (read_rows(d, d->mpos, d->nmiss, d->xs, d->ys, f) < 0)
		return -1;
	for (size_t j = 0; j < d->nmiss; j++) {
		memcpy(d->xb + d->mslot[j] * d->nin, d->xs + j * d->nin,
		    d->nin * sizeof(float));
		memcpy(d->yb + d->mslot[j] * d->nout, d->ys + j * d->nout,
		    d->nout * sizeof(float));
	}
	d->nmiss = 0;
	return 0;
}

/* The window's slot `slot` has been read into x and y. */
static int
slot_ready(const dataset *d, size_t slot)
{
	if (d->streamed)
		return slot < d->filled;
	return slot / d->chunk < d->ready || atomic_load_explicit(
	    &d->cstate[slot / d->chunk], memory_order_acquire) == CHUNK_READY;
}

/* In memory: slots a..a+n-1 (n > 0) have been read. */
static int
range_ready(const dataset *d, size_t a, size_t n)
{
	for (size_t k = a / d->chunk; k <= (a + n - 1) / d->chunk; k++)
		if (!slot_ready(d, k * d->chunk))
			return 0;
	return 1;
}

/* Row i of the step is the window's slot `slot`: copied when read, else
 * fetched with the step's other missing rows. */
static void
take(dataset *d, size_t i, size_t slot)
{
	if (slot_ready(d, slot)) {
		memcpy(d->xb + i * d->nin, d->x + slot * d->nin,
		    d->nin * sizeof(float));
		memcpy(d->yb + i * d->nout, d->y + slot * d->nout,
		    d->nout * sizeof(float));
		return;
	}
	d->mpos[d->nmiss] = d->pos[slot];
	d->mslot[d->nmiss++] = i;
}

/* Asks for the cache lines of slot `slot`'s row (read) ahead of its copy:
 * a shuffled step's rows lie all over the window, each a miss. */
static void
prefetch_row(const dataset *d, size_t slot)
{
	const char *x = (const char *)(d->x + slot * d->nin);
	const char *y = (const char *)(d->y + slot * d->nout);

	for (size_t b = 0; b < d->nin * sizeof(float); b += 64)
		__builtin_prefetch(x + b);
	for (size_t b = 0; b < d->nout * sizeof(float); b += 64)
		__builtin_prefetch(y + b);
}

/* Allocates the window's rows (the first time, or after a release). */
static int
alloc_rows(dataset *d, fault *f)
{
	if (d->x == NULL) {
		if ((d->x = alloc(d->slots, d->nin * sizeof(float), f)) ==
		    NULL || (d->y = alloc(d->slots, d->nout * sizeof(float),
		    f)) == NULL)
			return -1;
		/* fewer page faults while they fill, and fewer TLB misses
		 * when a shuffled step gathers rows from all over them */
		hugemem_advise(d->x, d->slots * d->nin * sizeof(float));
		hugemem_advise(d->y, d->slots * d->nout * sizeof(float));
	}
	return 0;
}

/* Streamed: reads the next chunk of the window's slots. */
static int
fill_more(dataset *d, fault *f)
{
	size_t c = d->fillb / d->rowb ? d->fillb / d->rowb : 1;

	if (d->filled >= d->wn)
		return 0;
	if (alloc_rows(d, f) < 0)
		return -1;
	if (c > d->wn - d->filled)
		c = d->wn - d->filled;
	if (read_rows(d, d->pos + d->filled, c, d->x + d->filled * d->nin,
	    d->y + d->filled * d->nout, f) < 0)
		return -1;
	d->filled += c;
	return 0;
}

/* In memory: claims chunk k (FREE -> READING); 1 when this caller won. */
static int
claim(dataset *d, size_t k)
{
	unsigned char free_ = CHUNK_FREE;

	return atomic_compare_exchange_strong(&d->cstate[k], &free_,
	    CHUNK_READING);
}

/* In memory: reads chunk k, claimed by the caller, and publishes it (or
 * gives it back on a fault). Any thread. */
static int
read_chunk(dataset *d, size_t k, fault *f)
{
	size_t a = k * d->chunk;
	size_t c = d->n - a < d->chunk ? d->n - a : d->chunk;

	if (read_rows(d, d->pos + a, c, d->x + a * d->nin,
	    d->y + a * d->nout, f) < 0) {
		atomic_store(&d->cstate[k], CHUNK_FREE);
		return -1;
	}
	atomic_store_explicit(&d->cstate[k], CHUNK_READY,
	    memory_order_release);
	return 0;
}

/* In memory: the loader thread (DESIGN). */
static void *
loader_main(void *arg)
{
	dataset *d = arg;
	fault f;

	fault_clear(&f);
	for (size_t k = 0; k < d->nchunk && !atomic_load(&d->stop); k++) {
		if (claim(d, k) && read_chunk(d, k, &f) < 0) {
			atomic_store(&d->lfail, 1);
			break;
		}
	}
	return NULL;
}

/* In memory: ends the loader (stop set first when it should not finish). */
static void
loader_join(dataset *d)
{
	if (d->loading) {
		pthread_join(d->loader, NULL);
		d->loading = 0;
	}
}

/* In memory, on the first step after opening or a release: the rows'
 * buffers, every chunk FREE, and the loader started (without one, the
 * trainer claims a chunk a step). */
static int
load_start(dataset *d, fault *f)
{
	if (alloc_rows(d, f) < 0)
		return -1;
	for (size_t k = 0; k < d->nchunk; k++)
		atomic_init(&d->cstate[k], CHUNK_FREE);
	d->ready = 0;
	atomic_store(&d->stop, 0);
	atomic_store(&d->lfail, 0);
	d->loading = pthread_create(&d->loader, NULL, loader_main, d) == 0;
	return 0;
}

/* In memory, before a step: counts the chunks READY from the start
 * (joining the loader once all are); reads the next free chunk itself
 * when no loader runs; in order, claims and reads the free chunks of rows
 * off..off+n-1. */
static int
load_step(dataset *d, size_t off, size_t n, fault *f)
{
	while (d->ready < d->nchunk && atomic_load_explicit(
	    &d->cstate[d->ready], memory_order_acquire) == CHUNK_READY)
		d->ready++;
	if (d->ready == d->nchunk) {
		loader_join(d);
		return 0;
	}
	if (d->warm && (!d->loading || atomic_load(&d->lfail))) {
		for (size_t k = d->ready; k < d->nchunk; k++)
			if (claim(d, k))
				return read_chunk(d, k, f);
		return 0;
	}
	if (!d->shuffle && n > 0)
		for (size_t k = off / d->chunk; k <= (off + n - 1) / d->chunk;
		    k++)
			if (claim(d, k) && read_chunk(d, k, f) < 0)
				return -1;
	return 0;
}

/* Streamed: the training rows of window w of the current epoch. */
static size_t
window_rows(const dataset *d, size_t w)
{
	size_t rows = 0;

	for (size_t i = w * d->win; i < (w + 1) * d->win && i < d->nblk; i++)
		rows += d->btrain[d->border[i]];
	return rows;
}

/* Streamed: makes window w of the current epoch (first row at start of
 * the epoch) the window: its slots, in its blocks' order, and its order. */
static int
set_window(dataset *d, size_t w, size_t start, fault *f)
{
	size_t k = 0;
	rng r;

	if (d->pos == NULL &&
	    ((d->pos = alloc(d->slots, sizeof *d->pos, f)) == NULL ||
	    (d->order = alloc(d->slots, sizeof *d->order, f)) == NULL))
		return -1;
	for (size_t i = w * d->win; i < (w + 1) * d->win && i < d->nblk; i++) {
		uint64_t p = (uint64_t)d->border[i] * d->blk;
		uint64_t end = p + d->blk < d->total ? p + d->blk : d->total;

		for (; p < end; p++)
			if (!held(d, p))
				d->pos[k++] = p;
	}
	for (size_t i = 0; i < k; i++)
		d->order[i] = (uint32_t)i;
	if (d->shuffle) {
		rng_seed(&r, order_seed(d, d->epoch, w + 1));
		rng_shuffle(&r, d->order, k);
	}
	d->wn = k;
	d->filled = 0;
	d->wi = w;
	d->wstart = start;
	d->have_win = 1;
	return 0;
}

/* Streamed: row o of epoch e is in the current window. */
static int
in_window(const dataset *d, int64_t e, size_t o)
{
	return d->have_win && d->epoch == e && o >= d->wstart &&
	    o < d->wstart + d->wn;
}

/* Streamed: the window that holds row o of epoch e, made current. */
static int
locate(dataset *d, int64_t e, size_t o, fault *f)
{
	size_t start = 0, rows;
	rng r;

	if (d->epoch != e) {
		for (size_t b = 0; b < d->nblk; b++)
			d->border[b] = (uint32_t)b;
		if (d->shuffle) {
			rng_seed(&r, order_seed(d, e, 0));
			rng_shuffle(&r, d->border, d->nblk);
		}
		d->epoch = e;
		d->have_win = 0;
	}
	for (size_t w = 0; w * d->win < d->nblk; w++, start += rows) {
		rows = window_rows(d, w);
		if (o < start + rows)
			return set_window(d, w, start, f);
	}
	return fault_set(f, FAULT_INVALID, "row %zu is past the epoch", o);
}

/* In memory, every chunk READY: copies the rows of places off..off+n-1
 * of the order into xb (then yb), asking for rows ahead. Any thread. */
static void
gather_rows(const dataset *d, float *xb, float *yb, size_t off, size_t n)
{
	for (size_t i = 0; i < PREFETCH_ROWS && i < n; i++)
		prefetch_row(d, d->order[off + i]);
	for (size_t i = 0; i < n; i++) {
		size_t slot = d->order[off + i];

		if (i + PREFETCH_ROWS < n)
			prefetch_row(d, d->order[off + i + PREFETCH_ROWS]);
		memcpy(xb + i * d->nin, d->x + slot * d->nin,
		    d->nin * sizeof(float));
		memcpy(yb + i * d->nout, d->y + slot * d->nout,
		    d->nout * sizeof(float));
	}
}

/* The gatherer thread (DESIGN). */
static void *
gather_main(void *arg)
{
	dataset *d = arg;

	pthread_mutex_lock(&d->gmu);
	for (;;) {
		size_t off, n;

		while (d->gstate != G_ASKED && !d->gquit)
			pthread_cond_wait(&d->gcv, &d->gmu);
		if (d->gquit)
			break;
		d->gstate = G_WORKING;
		off = d->goff;
		n = d->gn;
		pthread_mutex_unlock(&d->gmu);
		gather_rows(d, d->gb, d->gb + d->bs * d->nin, off, n);
		pthread_mutex_lock(&d->gmu);
		d->gstate = G_DONE;
		pthread_cond_broadcast(&d->gcv);
	}
	pthread_mutex_unlock(&d->gmu);
	return NULL;
}

/* Settles the gatherer's ask before a step at place off (DESIGN): 1 when
 * it gathered that step (its buffer is now xb), else 0; IDLE after, or
 * WORKING on a stale step when off is not an epoch's first. */
static int
gather_settle(dataset *d, size_t off)
{
	int done = 0;

	if (d->gathering <= 0)
		return 0;
	pthread_mutex_lock(&d->gmu);
	while (off == 0 && d->gstate == G_WORKING)
		pthread_cond_wait(&d->gcv, &d->gmu);
	if (d->gstate == G_WORKING) {
		pthread_mutex_unlock(&d->gmu);
		return 0;
	}
	if (d->gstate == G_DONE && d->goff == off) {
		float *t = d->xb;

		d->xb = d->gb;
		d->gb = t;
		d->yb = d->xb + d->bs * d->nin;
		done = 1;
	}
	d->gstate = G_IDLE;
	pthread_mutex_unlock(&d->gmu);
	return done;
}

/* Asks the gatherer for the step at place off of this epoch's order (n
 * rows), starting it on the first ask. */
static void
gather_ask(dataset *d, size_t off, size_t n)
{
	if (d->gathering == 0) {
		if (d->gb == NULL &&
		    (d->gb = malloc(d->bs * d->rowb)) == NULL) {
			d->gathering = -1;
			return;
		}
		d->gquit = 0;
		d->gstate = G_IDLE;
		d->gathering = pthread_create(&d->gather, NULL, gather_main,
		    d) == 0 ? 1 : -1;
	}
	if (d->gathering < 0)
		return;
	pthread_mutex_lock(&d->gmu);
	if (d->gstate != G_WORKING) {
		d->goff = off;
		d->gn = n;
		d->gstate = G_ASKED;
		pthread_cond_signal(&d->gcv);
	}
	pthread_mutex_unlock(&d->gmu);
}

/* Ends the gatherer (after its step, if it took one). */
static void
gather_join(dataset *d)
{
	if (d->gathering <= 0)
		return;
	pthread_mutex_lock(&d->gmu);
	d->gquit = 1;
	pthread_cond_broadcast(&d->gcv);
	pthread_mutex_unlock(&d->gmu);
	pthread_join(d->gather, NULL);
	d->gathering = 0;
	d->gstate = G_IDLE;
}

int
dataset_batch(dataset *d, rng *r, int64_t s, const float **x,
	      const float **y, size_t *rows, fault *f)
{
	int64_t e = s / (int64_t)d->per_epoch;
	size_t off = (size_t)(s % (int64_t)d->per_epoch) * d->bs;
	size_t n = d->n - off < d->bs ? d->n - off : d->bs;
	/* settled before the order may change */
	int ahead = gather_settle(d, off);

	if (!d->streamed && off == 0 && d->shuffle)
		rng_shuffle(r, d->order, d->n);
	if (!d->streamed) {
		/* the loader reads ahead from the first step on (DESIGN) */
		if (!d->warm && load_start(d, f) < 0)
			return -1;
		if (load_step(d, off, n, f) < 0)
			return -1;
	} else if (d->warm && fill_more(d, f) < 0) {
		/* read ahead before the step (its rows may be among them),
		 * but not before the first one after opening or a release:
		 * that one reads only its own rows, so a job starts at once */
		return -1;
	}
	d->warm = 1;
	if (!d->streamed && !d->shuffle && range_ready(d, off, n)) {
		/* in order and read: the rows are the step's, in place */
		*x = d->x + off * d->nin;
		*y = d->y + off * d->nout;
		*rows = n;
		return 0;
	}
	if (!d->streamed && d->shuffle && d->ready == d->nchunk) {
		/* every row read: the gatherer gathers the next step of the
		 * epoch while this one trains */
		if (!ahead)
			gather_rows(d, d->xb, d->yb, off, n);
		if (off + n < d->n)
			gather_ask(d, off + n, d->n - off - n < d->bs ?
			    d->n - off - n : d->bs);
		*x = d->xb;
		*y = d->yb;
		*rows = n;
		return 0;
	}
	d->nmiss = 0;
	for (size_t i = 0; !d->streamed && i < PREFETCH_ROWS && i < n; i++)
		if (slot_ready(d, d->order[off + i]))
			prefetch_row(d, d->order[off + i]);
	for (size_t i = 0; i < n; i++) {
		size_t o = off + i;

		if (!d->streamed) {
			if (i + PREFETCH_ROWS < n &&
			    slot_ready(d, d->order[o + PREFETCH_ROWS]))
				prefetch_row(d, d->order[o + PREFETCH_ROWS]);
			take(d, i, d->order[o]);
			continue;
		}
		/* the rows missing from a window are read before it goes */
		if (!in_window(d, e, o) && (flush_missing(d, f) < 0 ||
		    locate(d, e, o, f) < 0))
			return -1;
		take(d, i, d->order[o - d->wstart]);
	}
	if (flush_missing(d, f) < 0)
		return -1;
	*x = d->xb;
	*y = d->yb;
	*rows = n;
	return 0;
}

/* In memory: the held-out rows, read on the first measurement. */
static int
measure_memory(dataset *d, mlp *live, eval_result *r, fault *f)
{
	if (d->vx == NULL) {
		if ((d->vx = alloc(d->vn, d->nin * sizeof(float), f)) == NULL ||
		    (d->vy = alloc(d->vn, d->nout * sizeof(float), f)) == NULL)
			return -1;
		if (read_rows(d, d->vpos, d->vn, d->vx, d->vy, f) < 0) {
			free(d->vx);
			d->vx = NULL;
			return -1;
		}
		d->onehot = eval_is_onehot(d->vy, d->vn, d->nout);
		free(d->vout);
		d->vout = NULL;
		if (d->onehot && (d->vout = alloc(eval_scratch_floats(d->vn,
		    d->nout), sizeof(float), f)) == NULL)
			return -1;
	}
	return eval_measure(live, d->vx, d->vy, d->vn, d->onehot, d->vout, r,
	    f);
}

/* Streamed: every block's held-out rows, measured block by block. */
static int
measure_stream(dataset *d, mlp *live, eval_result *r, fault *f)
{
	double loss = 0, hits = 0;
	size_t rows = 0;
	int onehot = 1;

	if (d->ex == NULL &&
	    ((d->epos = alloc(d->blk, sizeof *d->epos, f)) == NULL ||
	    (d->ex = alloc(d->blk, d->nin * sizeof(float), f)) == NULL ||
	    (d->ey = alloc(d->blk, d->nout * sizeof(float), f)) == NULL ||
	    (d->escratch = alloc(eval_scratch_floats(d->blk, d->nout),
	    sizeof(float), f)) == NULL))
		return -1;
	for (size_t b = 0; b < d->nblk; b++) {
		uint64_t p = (uint64_t)b * d->blk;
		uint64_t end = p + d->blk < d->total ? p + d->blk : d->total;
		size_t h = 0;
		eval_result br;
		int oh;

		for (; p < end; p++)
			if (held(d, p))
				d->epos[h++] = p;
		if (h == 0)
			continue;
		if (read_rows(d, d->epos, h, d->ex, d->ey, f) < 0)
			return -1;
		oh = eval_is_onehot(d->ey, h, d->nout);
		if (eval_measure(live, d->ex, d->ey, h, oh, d->escratch, &br,
		    f) < 0)
			return -1;
		loss += br.loss * (double)h;
		if (oh)
			hits += br.accuracy * (double)h;
		onehot = onehot && oh;
		rows += h;
	}
	r->loss = loss / (double)rows;
	r->accuracy = onehot ? hits / (double)rows : NAN;
	return 0;
}

int
dataset_measure(dataset *d, mlp *live, eval_result *r, fault *f)
{
	if (d->vn == 0)
		return fault_set(f, FAULT_INVALID, "no validation rows");
	return d->streamed ? measure_stream(d, live, r, f) :
	    measure_memory(d, live, r, f);
}

void
dataset_release(dataset *d)
{
	atomic_store(&d->stop, 1);
	loader_join(d);
	gather_join(d);
	free(d->x);
	free(d->y);
	free(d->vx);
	free(d->vy);
	free(d->vout);
	free(d->epos);
	free(d->ex);
	free(d->ey);
	free(d->escratch);
	d->x = d->y = d->vx = d->vy = d->vout = d->ex = d->ey = NULL;
	d->escratch = NULL;
	d->epos = NULL;
	d->filled = 0;
	d->warm = 0;
	if (d->streamed) {
		/* the window comes back from the order's seeds */
		free(d->pos);
		free(d->order);
		d->pos = NULL;
		d->order = NULL;
		d->have_win = 0;
		d->wn = 0;
	}
}

void
dataset_destroy(dataset *d)
{
	if (d == NULL)
		return;
	dataset_release(d);
	free(d->pos);
	free(d->order);
	free(d->vpos);
	free(d->btrain);
	free(d->border);
	free(d->xb);
	free(d->xs);
	free(d->mpos);
	free(d->mslot);
	free(d->cstate);
	free(d->gb);
	pthread_mutex_destroy(&d->gmu);
	pthread_cond_destroy(&d->gcv);
	store_rows_destroy(d->rows);
	free(d);
}
