/*
 * pbwire: the protocol buffers wire format, read and written by hand.
 *
 * Just what core/onnx.c needs to speak ONNX without a protobuf library:
 * a bounds-checked reader that walks the fields of one message (varints
 * of at most 10 bytes that fit 64 bits, tags with a field number that
 * fits 29 bits, lengths that stay inside the message, no groups), and a
 * writer that encodes back to front, so that every nested message's
 * length is known when its prefix is written (one pass, no copies of the
 * weights; the same trick as upb's encoder).
 *
 * Why by hand rather than protobuf-c (Debian's libprotobuf-c-dev):
 * protobuf-c needs onnx.proto compiled into generated sources (Debian
 * ships no C bindings of it), a second copy of every tensor's bytes in
 * its unpacked structs, and its unpacker has no limits on counts or
 * sizes, which this daemon must enforce while decoding a hostile body.
 * The eight messages mlpd reads or writes need about 300 lines.
 */
#ifndef MLPD_PBWIRE_H
#define MLPD_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"

/* Wire types (groups, types 3 and 4, are refused). */
enum {
	PB_VARINT = 0,
	PB_I64 = 1,
	PB_LEN = 2,
	PB_I32 = 5
};

/* A cursor over the bytes of one message: [p, end). Borrowed bytes. */
typedef struct pb_reader {
	const uint8_t *p;
	const uint8_t *end;
} pb_reader;

/* A reader over len bytes at buf. */
void pb_reader_init(pb_reader *r, const void *buf, size_t len);

/* The next field's number and wire type: 1, or 0 at the end of the
 * message, or -1 with f set (FAULT_CORRUPT) on a malformed tag. */
int pb_next(pb_reader *r, uint32_t *field, int *wt, fault *f);

/* The value of a field of the wire type just read by pb_next; each
 * returns 0, or -1 with f set (FAULT_CORRUPT) when it is truncated or
 * overflows. pb_len gives a reader over a length-delimited field. */
int pb_varint(pb_reader *r, uint64_t *v, fault *f);
int pb_fixed32(pb_reader *r, uint32_t *v, fault *f);
int pb_fixed64(pb_reader *r, uint64_t *v, fault *f);
int pb_len(pb_reader *r, pb_reader *sub, fault *f);

/* Skips the value of a field of wire type wt. */
int pb_skip(pb_reader *r, int wt, fault *f);

/* 0 when wt (of the field just read) is want_wt, else -1 with f set
 * (FAULT_CORRUPT) naming the field as what. */
int pb_want(int wt, int want_wt, const char *what, fault *f);

/* Called by pb_each for each field of a message: reads (or skips) the
 * field's value from r; 0, or -1 with f set. */
typedef int (*pb_field_fn)(pb_reader *r, uint32_t field, int wt, void *ctx,
			   fault *f);

/* Calls fn on every field of the message in r, in order; 0, or -1 with f
 * set (by pb_next or fn). */
int pb_each(pb_reader *r, pb_field_fn fn, void *ctx, fault *f);

/* The value of a length-delimited field (wire type wt, which must be
 * PB_LEN) read as a nested message with pb_each; what names the field. */
int pb_message(pb_reader *r, int wt, const char *what, pb_field_fn fn,
	       void *ctx, fault *f);

/* A back-to-front encoder: the bytes written so far are the last `used`
 * bytes of buf. Write a message's fields in reverse order. An allocation
 * failure sets `failed` and makes every later call a no-op, so callers
 * check once, at pb_writer_finish. */
typedef struct pb_writer {
	uint8_t *buf;
	size_t cap;
	size_t used;
	int failed;
} pb_writer;

/* An empty writer with room for hint bytes. */
void pb_writer_init(pb_writer *w, size_t hint);

/* Frees the writer's buffer (after a failure, or instead of finishing). */
void pb_writer_free(pb_writer *w);

/* n bytes in front of what is written, for the caller to fill; NULL after
 * a failure. */
uint8_t *pb_put_raw(pb_writer *w, size_t n);

void pb_put_varint(pb_writer *w, uint32_t field, uint64_t v);
void pb_put_fixed32(pb_writer *w, uint32_t field, uint32_t v);
void pb_put_bytes(pb_writer *w, uint32_t field, const void *p, size_t n);
void pb_put_string(pb_writer *w, uint32_t field, const char *s);

/* Nested messages: mark = pb_mark(w), write the message's fields (in
 * reverse), then pb_close(w, field, mark) prefixes them with their length
 * and the tag. */
size_t pb_mark(const pb_writer *w);
void pb_close(pb_writer *w, uint32_t field, size_t mark);

/* Hands the encoded bytes to the caller (*out malloc'd, caller frees);
 * -1 with f set (FAULT_NOMEM) when an allocation failed on the way. */
int pb_writer_finish(pb_writer *w, void **out, size_t *len, fault *f);

#endif
