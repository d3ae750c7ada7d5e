/*
 * hist_tiers: the arithmetic of the loss history's layout, with no SQL in
 * it (store_history.c does the SQL; tests/check_tiers.c checks this).
 *
 * A model's history is kept at several levels. Level 0 holds the raw loss
 * of every step of the recent window, packed HIST_RAW_CHUNK points to a row
 * (a float32 loss and a 32-bit time offset each). Levels 1..HIST_TIERS-1
 * hold buckets for the model's whole life: a bucket of level k gathers the
 * steps ((b-1)W, bW] of its width W = hist_width(k) (1024 at level 1, 16
 * times more at each level up) that are present, with their exact count,
 * sum, min, max and last loss; up to HIST_BUCKET_CHUNK buckets pack to a
 * row (a row fits one 4 KB SQLite page; rows of 64, from before schema 6,
 * stay valid: a row's entry count is its blob's length).
 * Buckets at two levels are aligned, so a coarse bucket is exactly the
 * merge of the fine ones it covers.
 *
 * The validation series has the same levels over its points (one every
 * few steps, or every step with eval_every 1): a raw point also holds its
 * accuracy and its step (points need not be consecutive), and a bucket
 * also the count, sum and last value of the accuracies present
 * (HIST_VAL_RAW_REC and HIST_VAL_BUCKET_REC bytes).
 */
#ifndef MLPD_HIST_TIERS_H
#define MLPD_HIST_TIERS_H

#include <stddef.h>
#include <stdint.h>

#define HIST_TIERS 6          /* level 0 (raw) and five bucket levels */
#define HIST_BASE 1024        /* width of a level-1 bucket, in steps */
#define HIST_FACTOR 16        /* each level's width over the one below */
#define HIST_RAW_CHUNK 1024   /* raw points per row (aligned blocks) */
#define HIST_BUCKET_CHUNK 80  /* buckets per row, at most (3840 bytes) */
#define HIST_VAL_BUCKET_CHUNK 60 /* validation buckets per row (3840) */
#define HIST_RAW_REC 8        /* bytes of a packed raw point */
#define HIST_BUCKET_REC 48    /* bytes of a packed bucket */
#define HIST_VAL_RAW_REC 16   /* bytes of a packed validation point */
#define HIST_VAL_BUCKET_REC 64 /* bytes of a packed validation bucket */

/* Consecutive present steps first..last aggregated (a raw point is a
 * bucket of one step). Non-finite losses count in count and nan only. */
typedef struct hist_bucket {
	uint64_t first, last; /* first and last step present */
	uint64_t count;       /* steps present */
	uint64_t nan;         /* of which the loss is not finite */
	double sum;           /* of the finite losses */
	double min, max;      /* of the finite losses; NAN when none */
	double lastv;         /* the loss at step last */
	int64_t time_ms;      /* the time of step last */
	/* validation only (0, 0, NAN for the loss): */
	double acc_sum;       /* of the accuracies present (not NAN) */
	uint64_t acc_n;       /* how many are present */
	double acc_last;      /* the accuracy at step last; NAN: none */
} hist_bucket;

/* Steps per entry of level (1 at level 0). */
uint64_t hist_width(int level);

/* The index of the entry of level that holds step (>= 1). */
uint64_t hist_index(int level, uint64_t step);

/* A bucket of the single step. */
void hist_point(hist_bucket *b, uint64_t step, double loss, int64_t t);

/* Gives the single-step bucket b (hist_point) the accuracy acc (NAN:
 * none). */
void hist_point_acc(hist_bucket *b, double acc);

/* The mean of the accuracies present; NAN when there are none. */
double hist_acc_mean(const hist_bucket *b);

/* Adds the later bucket more (more->first > into->last) into into. */
void hist_merge(hist_bucket *into, const hist_bucket *more);

/* The mean of the finite losses; NAN when there are none. */
double hist_mean(const hist_bucket *b);

/* Packs and unpacks a bucket (HIST_BUCKET_REC bytes, little-endian). */
void hist_bucket_pack(const hist_bucket *b, unsigned char *out);
void hist_bucket_unpack(const unsigned char *in, hist_bucket *b);

/* Packs and unpacks a raw point: its loss as float32 and its time as an
 * offset from the row's t0. */
void hist_raw_pack(double loss, uint32_t dt, unsigned char *out);
void hist_raw_unpack(const unsigned char *in, double *loss, uint32_t *dt);

/* The validation series' packings: a bucket (HIST_VAL_BUCKET_REC bytes:
 * the loss bucket's, then the accuracy fields) and a point (its step as
 * an offset from the row's first, loss, accuracy, time offset). */
void hist_val_bucket_pack(const hist_bucket *b, unsigned char *out);
void hist_val_bucket_unpack(const unsigned char *in, hist_bucket *b);
void hist_val_raw_pack(uint32_t dstep, double loss, double acc, uint32_t dt,
		       unsigned char *out);
void hist_val_raw_unpack(const unsigned char *in, uint32_t *dstep,
			 double *loss, double *acc, uint32_t *dt);

/* The finest bucket level (>= 1) with at most per * n entries over span
 * steps; the coarsest level when none has so few. */
int hist_level_for(uint64_t span, uint64_t n, uint64_t per);

/* The width (a multiple of unit) of at most n aligned groups that cover
 * the steps from..to: group g holds the steps ((g-1)G, gG]. */
uint64_t hist_group_width(uint64_t from, uint64_t to, uint64_t n,
			  uint64_t unit);

/* The coarsest level >= 1 whose width divides k; 0 when none does. */
int hist_level_dividing(uint64_t k);

/* The coarsest level >= 1 whose width is at most k / HIST_FACTOR (so
 * that a window of k steps holds at least HIST_FACTOR of its buckets); 1
 * when none is. */
int hist_level_within(uint64_t k);

/* ---- rows: how the entries of a level are packed, whatever the store
 * (the same bytes in SQLite's and PostgreSQL's loss_chunk) ---- */

/* Bytes of the largest row (a validation raw row). */
#define HIST_ROW_BYTES (HIST_RAW_CHUNK * HIST_VAL_RAW_REC)

/* One row of a level of a series (0: the loss, 1: validation): n entries
 * packed in data. */
typedef struct hist_row {
	int series;            /* its entries' packing */
	int level;
	uint64_t first, last;  /* first and last step the row covers */
	int64_t t0;            /* level 0: the time the offsets count from */
	size_t n;
	unsigned char *data;   /* caller's buffer (HIST_ROW_BYTES) */
} hist_row;

/* Bytes of one entry of series at level, and entries per row at most. */
size_t hist_row_rec(int series, int level);
size_t hist_row_cap(int series, int level);

/* Entry i of r as a bucket (a raw point is a bucket of one step). */
void hist_row_entry(const hist_row *r, size_t i, hist_bucket *b);

/* Packs the bucket b as entry i of the bucket row r (level >= 1). */
void hist_row_pack(hist_row *r, size_t i, const hist_bucket *b);

#endif
