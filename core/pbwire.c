/*
 * pbwire: the protocol buffers wire format (see pbwire.h for why it is
 * written by hand). Every read checks its bounds first; a malformed
 * message only ever yields a FAULT_CORRUPT message naming what was wrong.
 */
#include "pbwire.h"

#include <stdlib.h>
#include <string.h>

#include "le.h"

#define PB_MAX_FIELD ((1u << 29) - 1)

void
pb_reader_init(pb_reader *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = r->p + len;
}

int
pb_varint(pb_reader *r, uint64_t *v, fault *f)
{
	uint64_t x = 0;

	for (int i = 0; i < 10; i++) {
		uint8_t b;

		if (r->p >= r->end)
			return fault_set(f, FAULT_CORRUPT, "a varint is cut "
			    "off by the end of its message");
		b = *r->p++;
		/* the tenth byte holds bit 63 only */
		if (i == 9 && b > 1)
			return fault_set(f, FAULT_CORRUPT, "a varint "
			    "overflows 64 bits");
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return fault_set(f, FAULT_CORRUPT, "a varint is longer than 10 bytes");
}

int
pb_next(pb_reader *r, uint32_t *field, int *wt, fault *f)
{
	uint64_t tag;

	if (r->p == r->end)
		return 0;
	if (pb_varint(r, &tag, f) < 0)
		return -1;
	if (tag >> 3 == 0 || tag >> 3 > PB_MAX_FIELD)
		return fault_set(f, FAULT_CORRUPT, "a field number is out "
		    "of range (%llu)", (unsigned long long)(tag >> 3));
	*field = (uint32_t)(tag >> 3);
	*wt = (int)(tag & 7);
	if (*wt != PB_VARINT && *wt != PB_I64 && *wt != PB_LEN &&
	    *wt != PB_I32)
		return fault_set(f, FAULT_CORRUPT, "field %u has wire type "
		    "%d, which protobuf 3 does not have", *field, *wt);
	return 1;
}

/* Takes n bytes from r into *at; -1 when fewer are left. */
static int
take(pb_reader *r, size_t n, const uint8_t **at, fault *f)
{
	if ((size_t)(r->end - r->p) < n)
		return fault_set(f, FAULT_CORRUPT, "a field of %zu bytes is "
		    "cut off by the end of its message (%zu bytes left)", n,
		    (size_t)(r->end - r->p));
	*at = r->p;
	r->p += n;
	return 0;
}

int
pb_fixed32(pb_reader *r, uint32_t *v, fault *f)
{
	const uint8_t *b = NULL;

	if (take(r, 4, &b, f) < 0)
		return -1;
	*v = le_get32(b);
	return 0;
}

int
pb_fixed64(pb_reader *r, uint64_t *v, fault *f)
{
	const uint8_t *b = NULL;

	if (take(r, 8, &b, f) < 0)
		return -1;
	*v = le_get64(b);
	return 0;
}

int
pb_len(pb_reader *r, pb_reader *sub, fault *f)
{
	uint64_t n;
	const uint8_t *b = NULL;

	if (pb_varint(r, &n, f) < 0)
		return -1;
	if (n > (uint64_t)(r->end - r->p))
		return fault_set(f, FAULT_CORRUPT, "a field of %llu bytes "
		    "is cut off by the end of its message (%zu bytes left)",
		    (unsigned long long)n, (size_t)(r->end - r->p));
	if (take(r, (size_t)n, &b, f) < 0)
		return -1;
	pb_reader_init(sub, b, (size_t)n);
	return 0;
}

int
pb_skip(pb_reader *r, int wt, fault *f)
{
	uint64_t v;
	uint32_t v32;
	pb_reader sub;

	switch (wt) {
	case PB_VARINT:
		return pb_varint(r, &v, f);
	case PB_I64:
		return pb_fixed64(r, &v, f);
	case PB_I32:
		return pb_fixed32(r, &v32, f);
	case PB_LEN:
		return pb_len(r, &sub, f);
	default:
		return fault_set(f, FAULT_CORRUPT, "wire type %d cannot be "
		    "skipped", wt);
	}
}

int
pb_want(int wt, int want_wt, const char *what, fault *f)
{
	if (wt != want_wt)
		return fault_set(f, FAULT_CORRUPT, "%s has wire type %d, not "
		    "%d", what, wt, want_wt);
	return 0;
}

int
pb_each(pb_reader *r, pb_field_fn fn, void *ctx, fault *f)
{
	uint32_t field = 0;
	int wt = 0, rc;

	while ((rc = pb_next(r, &field, &wt, f)) > 0)
		if (fn(r, field, wt, ctx, f) < 0)
			return -1;
	return rc;
}

int
pb_message(pb_reader *r, int wt, const char *what, pb_field_fn fn, void *ctx,
	   fault *f)
{
	pb_reader sub;

	if (pb_want(wt, PB_LEN, what, f) < 0 || pb_len(r, &sub, f) < 0)
		return -1;
	return pb_each(&sub, fn, ctx, f);
}

void
pb_writer_init(pb_writer *w, size_t hint)
{
	w->cap = hint < 256 ? 256 : hint;
	w->used = 0;
	w->buf = malloc(w->cap);
	w->failed = w->buf == NULL;
}

void
pb_writer_free(pb_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->cap = w->used = 0;
}

uint8_t *
pb_put_raw(pb_writer *w, size_t n)
{
	if (w->failed)
		return NULL;
	if (w->cap - w->used < n) {
		size_t cap = w->cap;
		uint8_t *nb;

		while (cap - w->used < n) {
			if (cap > SIZE_MAX / 2) {
				w->failed = 1;
				return NULL;
			}
			cap *= 2;
		}
		if ((nb = malloc(cap)) == NULL) {
			w->failed = 1;
			return NULL;
		}
		memcpy(nb + cap - w->used, w->buf + w->cap - w->used, w->used);
		free(w->buf);
		w->buf = nb;
		w->cap = cap;
	}
	w->used += n;
	return w->buf + w->cap - w->used;
}

/* Writes v as a bare varint in front. */
static void
put_varint_raw(pb_writer *w, uint64_t v)
{
	uint8_t tmp[10], *p;
	size_t n = 0;

	do {
		tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	if ((p = pb_put_raw(w, n)) != NULL)
		memcpy(p, tmp, n);
}

static void
put_tag(pb_writer *w, uint32_t field, int wt)
{
	put_varint_raw(w, (uint64_t)field << 3 | (uint64_t)wt);
}

void
pb_put_varint(pb_writer *w, uint32_t field, uint64_t v)
{
	put_varint_raw(w, v);
	put_tag(w, field, PB_VARINT);
}

void
pb_put_fixed32(pb_writer *w, uint32_t field, uint32_t v)
{
	uint8_t *p = pb_put_raw(w, 4);

	if (p != NULL)
		le_put32(p, v);
	put_tag(w, field, PB_I32);
}

void
pb_put_bytes(pb_writer *w, uint32_t field, const void *src, size_t n)
{
	uint8_t *p = pb_put_raw(w, n);

	if (p != NULL && n > 0)
		memcpy(p, src, n);
	put_varint_raw(w, n);
	put_tag(w, field, PB_LEN);
}

void
pb_put_string(pb_writer *w, uint32_t field, const char *s)
{
	pb_put_bytes(w, field, s, strlen(s));
}

size_t
pb_mark(const pb_writer *w)
{
	return w->used;
}

void
pb_close(pb_writer *w, uint32_t field, size_t mark)
{
	put_varint_raw(w, w->used - mark);
	put_tag(w, field, PB_LEN);
}

int
pb_writer_finish(pb_writer *w, void **out, size_t *len, fault *f)
{
	if (w->failed) {
		pb_writer_free(w);
		return fault_set(f, FAULT_NOMEM, "out of memory encoding "
		    "a protobuf message");
	}
	memmove(w->buf, w->buf + w->cap - w->used, w->used);
	*out = w->buf;
	*len = w->used;
	w->buf = NULL;
	w->cap = w->used = 0;
	return 0;
}
