/*
 * npy: .npy and .npz decoding with validation, and .npy encoding (see
 * npy.h).
 *
 * An .npy is a magic, a version, a header length, a Python dict literal
 * ({'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }) padded
 * with spaces to a newline, then the raw values. The dict is read by a
 * small parser of exactly that literal (no eval of anything). An .npz is
 * read through its zip central directory (zip64 extra fields included,
 * as np.savez writes them for large members); the local header only
 * tells where a member's data starts.
 */
#include "npy.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hugemem.h"
#include "le.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c reads and writes little-endian floats in place"
#endif

#define MAGIC "\x93NUMPY"
#define MAGIC_LEN 6

/* A parsed .npy: where its values are and what they are. */
typedef struct npy_arr {
	const unsigned char *data; /* the values, unaligned */
	size_t count;              /* values: the shape's product */
	size_t item;               /* 4 ('<f4') or 8 ('<f8') */
	int ndim;                  /* 1 or 2 */
	size_t dims[2];
} npy_arr;

static int
bad(apierr *e, const char *what, const char *msg)
{
	return apierr_set(e, 400, "malformed_npy", "%s is not a valid .npy: "
	    "%s", what, msg);
}

static int
unsupported(apierr *e, const char *what, const char *msg)
{
	return apierr_set(e, 422, "unsupported_npy", "%s: %s; mlpd takes "
	    "little-endian float32 or float64 ('<f4', '<f8') in C order, "
	    "with 1 or 2 dimensions", what, msg);
}

/* The header dict's reader: h[0..n) and where it is. */
typedef struct hdr {
	const char *p, *end;
} hdr;

static void
hdr_ws(hdr *h)
{
	while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' ||
	    *h->p == '\n'))
		h->p++;
}

/* A quoted Python string (no escapes: none of the keys or dtypes need
 * them) into out (NUL-terminated, at most outn - 1 bytes). */
static int
hdr_str(hdr *h, char *out, size_t outn)
{
	char q;
	size_t n = 0;

	if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
		return -1;
	q = *h->p++;
	while (h->p < h->end && *h->p != q) {
		if (*h->p == '\\' || n + 1 >= outn)
			return -1;
		out[n++] = *h->p++;
	}
	if (h->p >= h->end)
		return -1;
	h->p++;
	out[n] = '\0';
	return 0;
}

/* Parses the header dict into a (descr checked, shape read). */
static int
parse_dict(hdr *h, npy_arr *a, const char *what, apierr *e)
{
	char key[32], descr[32];
	int have_descr = 0, have_fo = 0, have_shape = 0, fortran = 0;

	hdr_ws(h);
	if (h->p >= h->end || *h->p++ != '{')
		return bad(e, what, "the header is not a dict");
	for (;;) {
		hdr_ws(h);
		if (h->p < h->end && *h->p == '}') {
			h->p++;
			break;
		}
		if (hdr_str(h, key, sizeof key) < 0)
			return bad(e, what, "a header key is not a string");
		hdr_ws(h);
		if (h->p >= h->end || *h->p++ != ':')
			return bad(e, what, "':' expected in the header");
		hdr_ws(h);
		if (strcmp(key, "descr") == 0 && !have_descr) {
			have_descr = 1;
			if (h->p < h->end && *h->p == '[')
				return unsupported(e, what, "structured dtypes "
				    "are not supported");
			if (hdr_str(h, descr, sizeof descr) < 0)
				return bad(e, what, "descr is not a dtype "
				    "string");
		} else if (strcmp(key, "fortran_order") == 0 && !have_fo) {
			have_fo = 1;
			if ((size_t)(h->end - h->p) >= 4 &&
			    memcmp(h->p, "True", 4) == 0)
				fortran = 1, h->p += 4;
			else if ((size_t)(h->end - h->p) >= 5 &&
			    memcmp(h->p, "False", 5) == 0)
				h->p += 5;
			else
				return bad(e, what, "fortran_order is not True "
				    "or False");
		} else if (strcmp(key, "shape") == 0 && !have_shape) {
			int nd = 0;

			have_shape = 1;
			if (h->p >= h->end || *h->p++ != '(')
				return bad(e, what, "shape is not a tuple");
			for (;;) {
				uint64_t v = 0;
				int digits = 0;

				hdr_ws(h);
				if (h->p < h->end && *h->p == ')') {
					h->p++;
					break;
				}
				while (h->p < h->end && *h->p >= '0' &&
				    *h->p <= '9') {
					if (v > (UINT64_C(1) << 40))
						return apierr_set(e, 422,
						    "invalid_value", "%s: its "
						    "shape is too large", what);
					v = v * 10 + (uint64_t)(*h->p++ - '0');
					digits++;
				}
				if (digits == 0)
					return bad(e, what, "shape holds "
					    "something other than sizes");
				if (nd < 2)
					a->dims[nd] = (size_t)v;
				nd++;
				hdr_ws(h);
				if (h->p < h->end && *h->p == ',')
					h->p++;
				else if (h->p >= h->end || *h->p != ')')
					return bad(e, what, "',' or ')' "
					    "expected in the shape");
			}
			if (nd < 1 || nd > 2)
				return unsupported(e, what, nd < 1 ? "a 0-d "
				    "array is not a list of rows" : "more "
				    "than 2 dimensions");
			a->ndim = nd;
		} else {
			return bad(e, what, "the header has an unknown or "
			    "repeated key");
		}
		hdr_ws(h);
		if (h->p < h->end && *h->p == ',')
			h->p++;
		else if (h->p >= h->end || *h->p != '}')
			return bad(e, what, "',' or '}' expected in the header");
	}
	hdr_ws(h);
	if (h->p != h->end)
		return bad(e, what, "the header has text after its dict");
	if (!have_descr || !have_fo || !have_shape)
		return bad(e, what, "the header needs descr, fortran_order "
		    "and shape");
	if (strcmp(descr, "<f4") == 0)
		a->item = 4;
	else if (strcmp(descr, "<f8") == 0)
		a->item = 8;
	else if (descr[0] == '>' || (descr[0] == '!'))
		return unsupported(e, what, "big-endian data");
	else if (strchr(descr, 'O') != NULL)
		return unsupported(e, what, "object arrays are not supported");
	else
		return apierr_set(e, 422, "unsupported_npy", "%s: dtype "
		    "'%.20s' is not supported; mlpd takes little-endian "
		    "float32 or float64 ('<f4', '<f8')", what, descr);
	if (fortran && a->ndim == 2 && a->dims[0] > 1 && a->dims[1] > 1)
		return unsupported(e, what, "Fortran order");
	return 0;
}

/* Reads the .npy in buf[0..len): header checked, data length exact. */
static int
parse_npy(const unsigned char *buf, size_t len, const char *what,
	  npy_arr *a, apierr *e)
{
	size_t hlen, off, bytes;
	hdr h;

	memset(a, 0, sizeof *a);
	if (len < MAGIC_LEN + 4 || memcmp(buf, MAGIC, MAGIC_LEN) != 0)
		return bad(e, what, "it does not start with \\x93NUMPY");
	if (buf[6] < 1 || buf[6] > 3 || buf[7] != 0)
		return bad(e, what, "its format version is not 1.0, 2.0 or "
		    "3.0");
	if (buf[6] == 1) {
		hlen = le_get16(buf + 8);
		off = 10;
	} else {
		if (len < 12)
			return bad(e, what, "it is cut short in its header");
		hlen = le_get32(buf + 8);
		off = 12;
	}
	if (hlen > len - off)
		return bad(e, what, "it is cut short in its header");
	h.p = (const char *)buf + off;
	h.end = h.p + hlen;
	if (parse_dict(&h, a, what, e) < 0)
		return -1;
	off += hlen;
	a->count = a->dims[0];
	if (a->ndim == 2) {
		if (a->dims[1] != 0 && a->dims[0] > SIZE_MAX / 8 / a->dims[1])
			return apierr_set(e, 422, "invalid_value", "%s: its "
			    "shape is too large", what);
		a->count = a->dims[0] * a->dims[1];
	}
	if (a->count > SIZE_MAX / 8)
		return apierr_set(e, 422, "invalid_value", "%s: its shape is "
		    "too large", what);
	bytes = a->count * a->item;
	if (bytes != len - off)
		return apierr_set(e, 400, "malformed_npy", "%s is not a valid "
		    ".npy: its shape needs %zu bytes of data, it holds %zu",
		    what, bytes, len - off);
	a->data = buf + off;
	return 0;
}

/* Value k of a as a double. */
static double
value_at(const npy_arr *a, size_t k)
{
	if (a->item == 4) {
		float f;

		memcpy(&f, a->data + k * 4, 4);
		return f;
	} else {
		double d;

		memcpy(&d, a->data + k * 8, 8);
		return d;
	}
}

/* Columns [c0, c0 + w) of a's rows (of rw values each) into dst, checked
 * finite within float32; field names them in messages, its columns
 * counted from c0. */
static int
copy_cols(const npy_arr *a, size_t rows, size_t rw, size_t c0, size_t w,
	  float *dst, const char *field, apierr *e)
{
	for (size_t i = 0; i < rows; i++) {
		for (size_t j = 0; j < w; j++) {
			double d = value_at(a, i * rw + c0 + j);

			/* below 2^128 (1 - 2^-25) a double still rounds to
			 * a finite float */
			if (!(fabs(d) < 0x1.ffffffp127))
				return apierr_set(e, 422, "non_finite",
				    "%s[%zu][%zu] is not a finite float32",
				    field, i, j);
			dst[i * w + j] = (float)d;
		}
	}
	return 0;
}

/* Rows and row width of a as a matrix for a model layer of width w:
 * 2-D (rows, w), or 1-D (rows,) when w is 1. */
static int
shape_of(const npy_arr *a, size_t w, const char *field, size_t *rows,
	 apierr *e)
{
	size_t cols = a->ndim == 2 ? a->dims[1] : 1;

	if (a->ndim == 1 && w != 1)
		return apierr_set(e, 422, "invalid_value", "%s is 1-D of %zu "
		    "values; send shape (rows, %zu)", field, a->dims[0], w);
	if (cols != w)
		return apierr_set(e, 422, "invalid_value", "%s has rows of %zu "
		    "values; expected %zu", field, cols, w);
	*rows = a->dims[0];
	return 0;
}

/* The row count checks every decoder makes: 1..MLP_MAX_BATCH, and the
 * daemon's caps. */
static int
check_rows(const mlp_spec *s, size_t rows, const codec_limits *lim,
	   const char *field, apierr *e)
{
	if (rows == 0)
		return apierr_set(e, 422, "invalid_value", "%s is empty",
		    field);
	if (codec_check_rows(s, rows, lim, field, e) < 0)
		return -1;
	if (rows > MLP_MAX_BATCH)
		return apierr_set(e, 422, "invalid_value", "%s has %zu rows; "
		    "at most %u are allowed in one request", field, rows,
		    MLP_MAX_BATCH);
	return 0;
}

/* Columns [c0, c0 + w) of a's rows into a malloc'd block at *out. */
static int
take_cols(const npy_arr *a, size_t rows, size_t rw, size_t c0, size_t w,
	  const char *field, float **out, apierr *e)
{
	float *m = hugemem_alloc(rows * w * sizeof(float));

	if (m == NULL)
		return apierr_set(e, 503, "out_of_memory", "out of memory");
	if (copy_cols(a, rows, rw, c0, w, m, field, e) < 0) {
		free(m);
		return -1;
	}
	*out = m;
	return 0;
}

/* ------------------------------------------------------------------
 * .npz: a zip of .npy members
 * ---------------------------------------------------------------- */

/* A member of the archive as its central directory describes it. */
typedef struct zmember {
	char name[32];
	unsigned method;      /* 0 stored, 8 deflate */
	uint32_t crc;
	uint64_t csize, usize; /* compressed and uncompressed sizes */
	const unsigned char *data; /* its compressed bytes in the body */
	unsigned char *owned;      /* its inflated bytes, malloc'd */
} zmember;

static int
zbad(apierr *e, const char *msg)
{
	return apierr_set(e, 400, "malformed_npy", "the body is not a valid "
	    ".npz (a zip of .npy files): %s", msg);
}

/* The zip64 extra field of a central directory entry: the sizes and the
 * offset that were 0xffffffff in the entry, in that order. */
static int
zip64_extra(const unsigned char *x, size_t n, zmember *m, uint64_t *off,
	    apierr *e)
{
	while (n >= 4) {
		size_t id = le_get16(x), sz = le_get16(x + 2);

		if (sz > n - 4)
			return zbad(e, "an extra field is cut short");
		if (id == 1) {
			const unsigned char *p = x + 4, *end = p + sz;

			if (m->usize == 0xffffffffu) {
				if (end - p < 8)
					return zbad(e, "a zip64 field is short");
				m->usize = le_get64(p), p += 8;
			}
			if (m->csize == 0xffffffffu) {
				if (end - p < 8)
					return zbad(e, "a zip64 field is short");
				m->csize = le_get64(p), p += 8;
			}
			if (*off == 0xffffffffu) {
				if (end - p < 8)
					return zbad(e, "a zip64 field is short");
				*off = le_get64(p);
			}
		}
		x += 4 + sz;
		n -= 4 + sz;
	}
	return 0;
}

/* Inflates or points at m's bytes, checking sizes and the CRC; cap
 * bounds the uncompressed size. */
static int
zload(const unsigned char *body, size_t len, zmember *m, uint64_t off,
      size_t cap, apierr *e)
{
	size_t data_off;
	uLong crc;

	if (off > len || len - off < 30 || le_get32(body + off) != 0x04034b50)
		return zbad(e, "a member's local header is missing");
	data_off = off + 30 + le_get16(body + off + 26) + le_get16(body + off + 28);
	if (data_off > len || m->csize > len - data_off)
		return zbad(e, "a member runs past the end of the body");
	m->data = body + data_off;
	if (m->usize > cap)
		return apierr_set(e, 422, "limit_exceeded", "the .npz member "
		    "%s would be %llu bytes; the row caps allow %zu", m->name,
		    (unsigned long long)m->usize, cap);
	if (m->method == 0) {
		if (m->csize != m->usize)
			return zbad(e, "a stored member's sizes disagree");
	} else if (m->method == 8) {
		z_stream z;
		int rc;

		memset(&z, 0, sizeof z);
		if ((m->owned = malloc(m->usize ? m->usize : 1)) == NULL)
			return apierr_set(e, 503, "out_of_memory",
			    "out of memory");
		if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
			return apierr_set(e, 503, "out_of_memory",
			    "out of memory");
		z.next_in = (Bytef *)(uintptr_t)m->data;
		z.avail_in = (uInt)m->csize;
		z.next_out = m->owned;
		z.avail_out = (uInt)m->usize;
		rc = inflate(&z, Z_FINISH);
		inflateEnd(&z);
		if (rc != Z_STREAM_END || z.total_out != m->usize)
			return zbad(e, "a deflated member does not inflate to "
			    "its size");
		m->data = m->owned;
	} else {
		return apierr_set(e, 422, "unsupported_npy", "the .npz member "
		    "%s uses zip method %u; mlpd takes stored (np.savez) or "
		    "deflated (np.savez_compressed) members", m->name,
		    m->method);
	}
	crc = crc32(0L, Z_NULL, 0);
	for (uint64_t done = 0; done < m->usize; ) {
		uInt n = m->usize - done > 1u << 30 ? 1u << 30 :
		    (uInt)(m->usize - done);

		crc = crc32(crc, m->data + done, n);
		done += n;
	}
	if ((uint32_t)crc != m->crc)
		return zbad(e, "a member's CRC does not match its data");
	return 0;
}

/* Finds inputs.npy and targets.npy (zm[0], zm[1]) in the archive. */
static int
zip_members(const unsigned char *body, size_t len, zmember *zm, size_t cap,
	    apierr *e)
{
	size_t eocd = 0, cd, cd_size, entries;
	int found = 0;

	if (len < 22)
		return zbad(e, "it is too short");
	for (size_t i = len - 22 + 1; i-- > 0 && len - i <= 22 + 65535; )
		if (le_get32(body + i) == 0x06054b50) {
			eocd = i;
			found = 1;
			break;
		}
	if (!found)
		return zbad(e, "its end of central directory is missing");
	entries = le_get16(body + eocd + 10);
	cd_size = le_get32(body + eocd + 12);
	cd = le_get32(body + eocd + 16);
	if (cd > eocd || cd_size > eocd - cd)
		return zbad(e, "its central directory is out of place");
	for (size_t k = 0, p = cd; k < entries; k++) {
		zmember m;
		uint64_t off;
		size_t nlen, xlen, clen;
		int which;

		if (p + 46 > cd + cd_size || le_get32(body + p) != 0x02014b50)
			return zbad(e, "its central directory is cut short");
		memset(&m, 0, sizeof m);
		m.method = le_get16(body + p + 10);
		m.crc = le_get32(body + p + 16);
		m.csize = le_get32(body + p + 20);
		m.usize = le_get32(body + p + 24);
		nlen = le_get16(body + p + 28);
		xlen = le_get16(body + p + 30);
		clen = le_get16(body + p + 32);
		off = le_get32(body + p + 42);
		if (p + 46 + nlen + xlen + clen > cd + cd_size)
			return zbad(e, "its central directory is cut short");
		if (le_get16(body + p + 8) & 1)
			return apierr_set(e, 422, "unsupported_npy", "the "
			    ".npz is encrypted");
		if (nlen == 10 && memcmp(body + p + 46, "inputs.npy", 10) == 0)
			which = 0;
		else if (nlen == 11 &&
		    memcmp(body + p + 46, "targets.npy", 11) == 0)
			which = 1;
		else
			return apierr_set(e, 422, "invalid_value", "the .npz "
			    "holds a member other than inputs and targets "
			    "(%.*s)", (int)(nlen < 40 ? nlen : 40),
			    (const char *)body + p + 46);
		if (zm[which].data != NULL)
			return zbad(e, "a member is there twice");
		memcpy(m.name, body + p + 46, nlen);
		if (zip64_extra(body + p + 46 + nlen, xlen, &m, &off, e) < 0)
			return -1;
		zm[which] = m;
		if (zload(body, len, &zm[which], off, cap, e) < 0)
			return -1;
		p += 46 + nlen + xlen + clen;
	}
	if (zm[0].data == NULL || zm[1].data == NULL)
		return apierr_set(e, 400, "missing_field", "the .npz needs "
		    "both inputs and targets arrays (np.savez(f, inputs=..., "
		    "targets=...))");
	return 0;
}

int
npy_batch(const void *body, size_t len, int npz, const mlp_spec *s,
	  const codec_limits *lim, float **x, float **y, size_t *n,
	  apierr *e)
{
	size_t nx = s->sizes[0], ny = s->sizes[s->n_layers], rows, ry;
	zmember zm[2];
	npy_arr a, b;
	int rc = -1;

	*x = *y = NULL;
	memset(zm, 0, sizeof zm);
	if (!npz) {
		if (parse_npy(body, len, "the body", &a, e) < 0)
			return -1;
		if (shape_of(&a, nx + ny, "the body (inputs then targets)",
		    &rows, e) < 0 || check_rows(s, rows, lim, "the body",
		    e) < 0)
			return -1;
		if (take_cols(&a, rows, nx + ny, 0, nx, "inputs", x, e) < 0)
			return -1;
		if (take_cols(&a, rows, nx + ny, nx, ny, "targets", y, e) < 0)
			goto out;
		*n = rows;
		return 0;
	}
	{
		/* a member past what the caps allow in floats is refused
		 * before it is inflated */
		size_t cap = SIZE_MAX / 2;

		if (lim != NULL && lim->max_batch_values < (SIZE_MAX - 65536)
		    / 8)
			cap = lim->max_batch_values * 8 + 65536;
		if (zip_members(body, len, zm, cap, e) < 0)
			goto out;
	}
	if (parse_npy(zm[0].data, zm[0].usize, "inputs", &a, e) < 0 ||
	    parse_npy(zm[1].data, zm[1].usize, "targets", &b, e) < 0 ||
	    shape_of(&a, nx, "inputs", &rows, e) < 0 ||
	    check_rows(s, rows, lim, "inputs", e) < 0 ||
	    shape_of(&b, ny, "targets", &ry, e) < 0)
		goto out;
	if (rows != ry) {
		apierr_set(e, 422, "invalid_value", "inputs has %zu rows but "
		    "targets has %zu", rows, ry);
		goto out;
	}
	if (take_cols(&a, rows, nx, 0, nx, "inputs", x, e) < 0 ||
	    take_cols(&b, rows, ny, 0, ny, "targets", y, e) < 0)
		goto out;
	*n = rows;
	rc = 0;
out:
	free(zm[0].owned);
	free(zm[1].owned);
	if (rc < 0) {
		free(*x);
		free(*y);
		*x = *y = NULL;
	}
	return rc;
}

int
npy_predict(const void *body, size_t len, const mlp_spec *s,
	    const codec_limits *lim, float **x, size_t *n, int *single,
	    apierr *e)
{
	size_t w = s->sizes[0], rows;
	npy_arr a;

	*x = NULL;
	if (parse_npy(body, len, "the body", &a, e) < 0)
		return -1;
	*single = a.ndim == 1 && w != 1;
	if (*single) {
		if (a.dims[0] != w)
			return apierr_set(e, 422, "invalid_value", "input[0] "
			    "has %zu values; expected %zu", a.dims[0], w);
		rows = 1;
	} else if (shape_of(&a, w, "inputs", &rows, e) < 0) {
		return -1;
	}
	if (check_rows(s, rows, lim, "inputs", e) < 0 ||
	    take_cols(&a, rows, w, 0, w, "inputs", x, e) < 0)
		return -1;
	*n = rows;
	return 0;
}

char *
npy_encode(const float *v, size_t n, size_t width, int single, size_t *len)
{
	char dict[128];
	size_t dl, hl, total;
	char *out;

	if (width != 0 && n > (SIZE_MAX - 256) / 4 / width)
		return NULL;
	if (single)
		dl = (size_t)snprintf(dict, sizeof dict, "{'descr': '<f4', "
		    "'fortran_order': False, 'shape': (%zu,), }", width);
	else
		dl = (size_t)snprintf(dict, sizeof dict, "{'descr': '<f4', "
		    "'fortran_order': False, 'shape': (%zu, %zu), }", n,
		    width);
	/* magic, version, length, dict, spaces, \n: a multiple of 64 */
	hl = (10 + dl + 1 + 63) / 64 * 64 - 10;
	total = 10 + hl + n * width * 4;
	if ((out = malloc(total)) == NULL)
		return NULL;
	memcpy(out, MAGIC, MAGIC_LEN);
	out[6] = 1;
	out[7] = 0;
	le_put16((unsigned char *)out + 8, (uint16_t)hl);
	memcpy(out + 10, dict, dl);
	memset(out + 10 + dl, ' ', hl - dl - 1);
	out[10 + hl - 1] = '\n';
	/* float32 little-endian: the host's layout on every target mlpd
	 * builds for (x86-64, arm64) */
	memcpy(out + 10 + hl, v, n * width * 4);
	*len = total;
	return out;
}
