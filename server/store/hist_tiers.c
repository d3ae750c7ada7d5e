/*
 * hist_tiers: widths, bucket arithmetic and packing of the loss history's
 * levels (see hist_tiers.h); pure functions, no state.
 */
#include "hist_tiers.h"
#include "le.h"

#include <math.h>
#include <string.h>

uint64_t
hist_width(int level)
{
	uint64_t w = 1;

	if (level <= 0)
		return 1;
	w = HIST_BASE;
	for (int i = 1; i < level; i++)
		w *= HIST_FACTOR;
	return w;
}

uint64_t
hist_index(int level, uint64_t step)
{
	return (step - 1) / hist_width(level);
}

void
hist_point(hist_bucket *b, uint64_t step, double loss, int64_t t)
{
	b->first = b->last = step;
	b->count = 1;
	b->lastv = loss;
	b->time_ms = t;
	if (isfinite(loss)) {
		b->nan = 0;
		b->sum = b->min = b->max = loss;
	} else {
		b->nan = 1;
		b->sum = 0;
		b->min = b->max = NAN;
	}
	b->acc_sum = 0;
	b->acc_n = 0;
	b->acc_last = NAN;
}

void
hist_point_acc(hist_bucket *b, double acc)
{
	b->acc_last = acc;
	b->acc_n = isnan(acc) ? 0 : 1;
	b->acc_sum = isnan(acc) ? 0 : acc;
}

double
hist_acc_mean(const hist_bucket *b)
{
	return b->acc_n ? b->acc_sum / (double)b->acc_n : NAN;
}

void
hist_merge(hist_bucket *into, const hist_bucket *more)
{
	if (into->count == 0) {
		*into = *more;
		return;
	}
	if (more->count == 0)
		return;
	into->last = more->last;
	into->count += more->count;
	into->nan += more->nan;
	into->sum += more->sum;
	/* as fmin/fmax (a NAN side, "none", is no bound), without their
	 * calls: this runs five times per step recorded */
	if (isnan(into->min) || more->min < into->min)
		into->min = more->min;
	if (isnan(into->max) || more->max > into->max)
		into->max = more->max;
	into->lastv = more->lastv;
	into->time_ms = more->time_ms;
	into->acc_sum += more->acc_sum;
	into->acc_n += more->acc_n;
	into->acc_last = more->acc_last;
}

double
hist_mean(const hist_bucket *b)
{
	uint64_t fin = b->count - b->nan;

	return fin ? b->sum / (double)fin : NAN;
}

/* first, last - first, count, nan, sum, time, min, max, lastv: min, max
 * and the last loss are float32 (the losses are float32 to begin with),
 * the sum a double; 48 bytes. */
void
hist_bucket_pack(const hist_bucket *b, unsigned char *out)
{
	le_put64(out, b->first);
	le_put32(out + 8, (uint32_t)(b->last - b->first));
	le_put32(out + 12, (uint32_t)b->count);
	le_put32(out + 16, (uint32_t)b->nan);
	le_putf32(out + 20, (float)b->lastv);
	le_putf64(out + 24, b->sum);
	le_put64(out + 32, (uint64_t)b->time_ms);
	le_putf32(out + 40, (float)b->min);
	le_putf32(out + 44, (float)b->max);
}

void
hist_bucket_unpack(const unsigned char *in, hist_bucket *b)
{
	b->first = le_get64(in);
	b->last = b->first + le_get32(in + 8);
	b->count = le_get32(in + 12);
	b->nan = le_get32(in + 16);
	b->lastv = le_getf32(in + 20);
	b->sum = le_getf64(in + 24);
	b->time_ms = (int64_t)le_get64(in + 32);
	b->min = le_getf32(in + 40);
	b->max = le_getf32(in + 44);
	b->acc_sum = 0;
	b->acc_n = 0;
	b->acc_last = NAN;
}

void
hist_raw_pack(double loss, uint32_t dt, unsigned char *out)
{
	le_putf32(out, (float)loss);
	le_put32(out + 4, dt);
}

void
hist_raw_unpack(const unsigned char *in, double *loss, uint32_t *dt)
{
	*loss = le_getf32(in);
	*dt = le_get32(in + 4);
}

void
hist_val_bucket_pack(const hist_bucket *b, unsigned char *out)
{
	hist_bucket_pack(b, out);
	le_putf64(out + 48, b->acc_sum);
	le_put32(out + 56, (uint32_t)b->acc_n);
	le_putf32(out + 60, (float)b->acc_last);
}

void
hist_val_bucket_unpack(const unsigned char *in, hist_bucket *b)
{
	hist_bucket_unpack(in, b);
	b->acc_sum = le_getf64(in + 48);
	b->acc_n = le_get32(in + 56);
	b->acc_last = le_getf32(in + 60);
}

void
hist_val_raw_pack(uint32_t dstep, double loss, double acc, uint32_t dt,
		  unsigned char *out)
{
	le_put32(out, dstep);
	le_putf32(out + 4, (float)loss);
	le_putf32(out + 8, (float)acc);
	le_put32(out + 12, dt);
}

void
hist_val_raw_unpack(const unsigned char *in, uint32_t *dstep, double *loss,
		    double *acc, uint32_t *dt)
{
	*dstep = le_get32(in);
	*loss = le_getf32(in + 4);
	*acc = le_getf32(in + 8);
	*dt = le_get32(in + 12);
}

int
hist_level_for(uint64_t span, uint64_t n, uint64_t per)
{
	uint64_t most = n > UINT64_MAX / per ? UINT64_MAX : n * per;

	for (int k = 1; k < HIST_TIERS; k++) {
		if (span / hist_width(k) + 2 <= most)
			return k;
	}
	return HIST_TIERS - 1;
}

uint64_t
hist_group_width(uint64_t from, uint64_t to, uint64_t n, uint64_t unit)
{
	uint64_t span = to - from + 1, g;

	if (n < 1)
		n = 1;
	g = span / n + 1;
	g = (g + unit - 1) / unit * unit;
	/* aligned groups may need one more than span / g: widen until n */
	while ((to - 1) / g - (from - 1) / g + 1 > n)
		g += unit;
	return g;
}

int
hist_level_dividing(uint64_t k)
{
	for (int l = HIST_TIERS - 1; l >= 1; l--) {
		if (k % hist_width(l) == 0)
			return l;
	}
	return 0;
}

int
hist_level_within(uint64_t k)
{
	for (int l = HIST_TIERS - 1; l > 1; l--) {
		if (hist_width(l) <= k / HIST_FACTOR)
			return l;
	}
	return 1;
}

/* ---- rows ---- */

/* Series 1 is the validation series (store_series; this file does not
 * include store.h). */
#define SERIES_VAL 1

size_t
hist_row_rec(int series, int level)
{
	if (series == SERIES_VAL)
		return level == 0 ? HIST_VAL_RAW_REC : HIST_VAL_BUCKET_REC;
	return level == 0 ? HIST_RAW_REC : HIST_BUCKET_REC;
}

size_t
hist_row_cap(int series, int level)
{
	if (level == 0)
		return HIST_RAW_CHUNK;
	return series == SERIES_VAL ? HIST_VAL_BUCKET_CHUNK :
	    HIST_BUCKET_CHUNK;
}

void
hist_row_entry(const hist_row *r, size_t i, hist_bucket *b)
{
	const unsigned char *p = r->data + i * hist_row_rec(r->series,
	    r->level);
	double loss, acc;
	uint32_t dt, ds;

	if (r->series == SERIES_VAL) {
		if (r->level > 0) {
			hist_val_bucket_unpack(p, b);
			return;
		}
		hist_val_raw_unpack(p, &ds, &loss, &acc, &dt);
		hist_point(b, r->first + ds, loss, r->t0 + dt);
		hist_point_acc(b, acc);
	} else if (r->level == 0) {
		hist_raw_unpack(p, &loss, &dt);
		hist_point(b, r->first + i, loss, r->t0 + dt);
	} else {
		hist_bucket_unpack(p, b);
	}
}

void
hist_row_pack(hist_row *r, size_t i, const hist_bucket *b)
{
	if (r->series == SERIES_VAL)
		hist_val_bucket_pack(b, r->data + i * HIST_VAL_BUCKET_REC);
	else
		hist_bucket_pack(b, r->data + i * HIST_BUCKET_REC);
}
