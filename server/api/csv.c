/*
 * csv: text/csv decoding with validation, and encoding (see csv.h).
 *
 * Decoding takes two passes over the body: the first (scan, which is all
 * csv_count does) finds the lines with content (rejecting blank lines
 * between rows), the header and the row count, so the float blocks are
 * allocated once at their final size; the second splits each row and
 * parses its fields. Plain decimals go through matjson's exact parser,
 * anything else strtod takes through strtod in the "C" locale (mlpd never
 * calls setlocale). The field is copied for a message only on an error.
 *
 * DESIGN (threads): a big body's rows are parsed in parts, one thread per
 * online core up to CSV_PARTS: the calling thread takes the last part and
 * joins the others. The parts share nothing but the body (read only) and
 * the float blocks, where each writes its own rows. Each part stops at its
 * first bad row; the error of the earliest part that failed is the one
 * reported, which is the error a single pass would have met first. Parsing
 * was about half of a CSV push's CPU (issue 11), and the push's request
 * worker otherwise leaves the other core idle while it parses.
 */
#include "csv.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hugemem.h"
#include "matjson.h"
#include "mlp.h"

/* The longest field that can still be a number (anything longer is
 * "not a number"; 128 characters hold every float32 several times). */
#define FIELD_MAX 128

/* A field quoted back in an error message: printable ASCII only. */
#define SHOW_MAX 40

/* At most this many threads parse one body, and only a body of at least
 * PART_MIN_BYTES is split (a thread costs tens of microseconds). */
#define CSV_PARTS 4
#define PART_MIN_BYTES ((size_t)1 << 20)

/* The line starting at *pos, without its \n or \r\n: *s, *n. Moves *pos
 * past the terminator. */
static void
next_line(const char *body, size_t len, size_t *pos, const char **s,
	  size_t *n)
{
	const char *start = body + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	size_t l = nl ? (size_t)(nl - start) : len - *pos;

	*pos += l + (nl != NULL);
	if (l > 0 && start[l - 1] == '\r')
		l--;
	*s = start;
	*n = l;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* True when s[0..n) holds nothing but spaces and tabs. */
static int
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_space(s[i]))
			return 0;
	return 1;
}

/* Drops spaces and tabs on both sides of s[0..*n). */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_space((*s)[*n - 1]))
		(*n)--;
}

/* True when the (trimmed) field s[0..n) is exactly one number for
 * strtod; *out gets it (possibly Inf or NaN). A plain decimal takes
 * matjson's exact parser (strtod's double, without a copy or the locale);
 * anything else, or one out of range, goes to strtod itself. */
static int
number(const char *s, size_t n, double *out)
{
	char buf[FIELD_MAX + 1];
	char *end;
	int overflow;

	if (n == 0 || n > FIELD_MAX)
		return 0;
	if (matjson_number(s, n, out, &overflow) == 0) {
		/* JSON reads "-0" as the integer 0; strtod as -0.0 */
		if (*out == 0.0 && s[0] == '-')
			*out = -0.0;
		return 1;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtod(buf, &end);
	return end == buf + n;
}

/* The field s[0..n) fit for an error message: printable ASCII, other
 * bytes as '?', cut at SHOW_MAX characters with "...". */
static void
show(const char *s, size_t n, char out[SHOW_MAX + 4])
{
	size_t k = n > SHOW_MAX ? SHOW_MAX : n;

	for (size_t i = 0; i < k; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (k < n) {
		memcpy(out + k, "...", 4);
		return;
	}
	out[k] = '\0';
}

/* What a row must hold, for messages: "3 (2 inputs then 1 target)". */
static void
expected(size_t nx, size_t ny, char *out, size_t cap)
{
	if (ny == 0)
		snprintf(out, cap, "%zu (the model's inputs)", nx);
	else
		snprintf(out, cap, "%zu (%zu input%s then %zu target%s)",
		    nx + ny, nx, nx == 1 ? "" : "s", ny, ny == 1 ? "" : "s");
}

/* True when line 1 is a header: none of its fields is a number. Fields
 * are split at commas outside double quotes, so quoted names may hold
 * commas; *cols gets the column count. */
static int
header(const char *s, size_t n, size_t *cols)
{
	size_t start = 0;
	int quoted = 0, numbers = 0;
	double d;

	*cols = 1;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] == '"') {
			quoted = !quoted; /* "" inside a quoted name: twice */
		} else if (i == n || (s[i] == ',' && !quoted)) {
			const char *f = s + start;
			size_t fn = i - start;

			trim(&f, &fn);
			if (number(f, fn, &d))
				numbers = 1;
			if (i < n)
				(*cols)++;
			start = i + 1;
		}
	}
	return !numbers;
}

/* The error of a row whose column count is not width: line lineno,
 * text s[0..n). */
static int
column_count_error(const char *s, size_t n, size_t lineno, size_t nx,
		   size_t ny, apierr *e)
{
	size_t cols = 1;
	char what[64];

	for (size_t i = 0; i < n; i++)
		cols += s[i] == ',';
	expected(nx, ny, what, sizeof what);
	return apierr_set(e, 422, "invalid_value", "line %zu has %zu "
	    "column%s; expected %s", lineno, cols, cols == 1 ? "" : "s", what);
}

/* Parses one row (line lineno, text s[0..n)): the first nx values into
 * xd, the ny after them into yd. One pass: a field in the JSON number
 * grammar is read where it stands (matjson_number_at), any other is cut
 * at its comma for strtod; the columns are counted only when a row turns
 * out wrong, and a wrong column count is reported before a bad value, as
 * the row's first problem. */
static int
row(const char *s, size_t n, size_t lineno, size_t nx, size_t ny,
    float *xd, float *yd, apierr *e)
{
	size_t width = nx + ny, col = 0;
	const char *p = s, *end = s + n;
	char field[SHOW_MAX + 4];

	for (;;) {
		const char *f, *q;
		size_t fn = 0;
		double d;
		int ok = 0;

		while (p < end && is_space(*p))
			p++;
		f = p;
		if (++col > width)
			return column_count_error(s, n, lineno, nx, ny, e);
		if (matjson_number_at(f, end, &d, &q) == 0) {
			while (q < end && is_space(*q))
				q++;
			if (q == end || *q == ',') {
				/* JSON reads "-0" as 0; strtod as -0.0 */
				if (d == 0.0 && *f == '-')
					d = -0.0;
				fn = (size_t)(q - f);
				p = q;
				ok = 1;
			}
		}
		if (!ok) {
			const char *comma = memchr(f, ',', (size_t)(end - f));

			p = comma ? comma : end;
			fn = (size_t)(p - f);
			trim(&f, &fn);
			if (fn == 0 || !number(f, fn, &d)) {
				/* the column count comes first */
				size_t cols = 1;

				for (size_t i = 0; i < n; i++)
					cols += s[i] == ',';
				if (cols != width)
					return column_count_error(s, n, lineno,
					    nx, ny, e);
				if (fn == 0)
					return apierr_set(e, 422,
					    "invalid_value", "line %zu, column "
					    "%zu is empty; a number is required",
					    lineno, col);
				show(f, fn, field);
				return apierr_set(e, 422, "invalid_value",
				    "line %zu, column %zu: '%s' is not a "
				    "number%s", lineno, col, field, lineno == 1 ?
				    " (a header line must not hold numbers)" :
				    "");
			}
		}
		/* below 2^128 (1 - 2^-25) a double still rounds to a finite
		 * float (the bound codec uses for JSON numbers) */
		if (!(fabs(d) < 0x1.ffffffp127)) {
			size_t cols = 1;

			for (size_t i = 0; i < n; i++)
				cols += s[i] == ',';
			if (cols != width)
				return column_count_error(s, n, lineno, nx, ny,
				    e);
			trim(&f, &fn);
			show(f, fn, field);
			return apierr_set(e, 422, "non_finite", "line %zu, "
			    "column %zu: '%s' is not a finite float32", lineno,
			    col, field);
		}
		if (col <= nx)
			xd[col - 1] = (float)d;
		else
			yd[col - 1 - nx] = (float)d;
		if (p == end)
			break;
		p++; /* the comma */
	}
	if (col != width)
		return column_count_error(s, n, lineno, nx, ny, e);
	return 0;
}

/* Skips a UTF-8 byte-order mark at the start of the body (Excel's "CSV
 * UTF-8" writes one); line and column numbers are unchanged by it. */
static void
skip_bom(const char **body, size_t *len)
{
	if (*len >= 3 && memcmp(*body, "\xef\xbb\xbf", 3) == 0) {
		*body += 3;
		*len -= 3;
	}
}

/* Pass 1: the lines with content (a blank one between two of them is an
 * error, blank ones at the end are not), whether line 1 is a header and
 * its column count, and the number of rows. */
static int
scan(const char *body, size_t len, size_t *rows, int *has_header,
     size_t *hcols, apierr *e)
{
	size_t pos, lineno, content = 0, pending_blank = 0;
	const char *s;
	size_t sl;

	for (pos = 0, lineno = 0; pos < len;) {
		next_line(body, len, &pos, &s, &sl);
		lineno++;
		if (blank(s, sl)) {
			if (pending_blank == 0)
				pending_blank = lineno;
			continue;
		}
		if (pending_blank)
			return apierr_set(e, 400, "malformed_csv", "line %zu is "
			    "blank; rows must not be separated by blank lines",
			    pending_blank);
		content++;
	}
	if (content == 0)
		return apierr_set(e, 400, "malformed_csv", "the request body "
		    "is empty; CSV rows are required");
	/* line 1 has content (a blank line 1 was rejected above) */
	pos = 0;
	next_line(body, len, &pos, &s, &sl);
	*has_header = header(s, sl, hcols);
	*rows = content - (size_t)*has_header;
	if (*rows == 0)
		return apierr_set(e, 422, "invalid_value", "the CSV body has a "
		    "header line but no rows");
	if (*rows > MLP_MAX_BATCH)
		return apierr_set(e, 422, "invalid_value", "the CSV body has "
		    "%zu rows; at most %u are allowed in one request", *rows,
		    MLP_MAX_BATCH);
	return 0;
}

int
csv_count(const char *body, size_t len, size_t *rows, apierr *e)
{
	size_t hcols;
	int has_header;

	*rows = 0;
	skip_bom(&body, &len);
	return scan(body, len, rows, &has_header, &hcols, e);
}

/* One part of pass 2: rows [r, r_end) of the body, whose line lineno + 1
 * starts at byte pos. */
typedef struct part {
	const char *body;
	size_t len, pos, lineno, r, r_end;
	size_t nx, ny;
	int has_header;
	float *bx, *by;
	int rc;    /* 0, or -1 with e filled */
	apierr e;
} part;

static void
part_run(part *p)
{
	const char *s;
	size_t sl;

	p->rc = 0;
	while (p->r < p->r_end) {
		next_line(p->body, p->len, &p->pos, &s, &sl);
		p->lineno++;
		if ((p->lineno == 1 && p->has_header) || blank(s, sl))
			continue;
		if (row(s, sl, p->lineno, p->nx, p->ny, p->bx + p->r * p->nx,
		    p->ny > 0 ? p->by + p->r * p->ny : NULL, &p->e) < 0) {
			p->rc = -1;
			return;
		}
		p->r++;
	}
}

static void *
part_thread(void *arg)
{
	part_run(arg);
	return NULL;
}

/* How many parts to parse rows rows of len bytes in. */
static size_t
part_count(size_t len, size_t rows)
{
	static atomic_long cores; /* 0 until the first big body asks */
	long c;
	size_t k;

	if (len < PART_MIN_BYTES)
		return 1;
	if ((c = atomic_load_explicit(&cores, memory_order_relaxed)) == 0) {
		c = sysconf(_SC_NPROCESSORS_ONLN);
		atomic_store_explicit(&cores, c, memory_order_relaxed);
	}
	k = c > 1 ? (size_t)c : 1;
	if (k > CSV_PARTS)
		k = CSV_PARTS;
	return k < rows ? k : rows;
}

/* Pass 2 over every row, in k parts: each part's start found by walking
 * the lines (memchr, cheap next to parsing), all but the last on threads
 * of their own. A part whose thread cannot start runs here, in order. */
static int
rows_parse(const part *all, size_t rows, size_t k, apierr *e)
{
	part p[CSV_PARTS];
	pthread_t tid[CSV_PARTS];
	int started[CSV_PARTS] = { 0 };
	const char *s;
	size_t sl, pos = 0, lineno = 0, r = 0;

	for (size_t i = 0; i < k; i++) {
		p[i] = *all;
		p[i].pos = pos;
		p[i].lineno = lineno;
		p[i].r = r;
		p[i].r_end = rows * (i + 1) / k;
		/* find where the next part starts */
		while (i + 1 < k && r < p[i].r_end) {
			next_line(all->body, all->len, &pos, &s, &sl);
			lineno++;
			if ((lineno == 1 && all->has_header) || blank(s, sl))
				continue;
			r++;
		}
		if (i + 1 < k)
			started[i] = pthread_create(&tid[i], NULL, part_thread,
			    &p[i]) == 0;
	}
	/* this thread's own parts (the last, and any whose thread did not
	 * start) first, while the others run: joining first left the last
	 * part to run after all the others, so nothing ran side by side */
	for (size_t i = 0; i < k; i++)
		if (!started[i])
			part_run(&p[i]);
	for (size_t i = 0; i < k; i++)
		if (started[i])
			pthread_join(tid[i], NULL);
	for (size_t i = 0; i < k; i++)
		if (p[i].rc < 0) {
			*e = p[i].e;
			return -1;
		}
	return 0;
}

int
csv_decode(const char *body, size_t len, size_t nx, size_t ny, float **x,
	   float **y, size_t *n, apierr *e)
{
	size_t rows, cols;
	size_t width = nx + ny;
	int has_header;
	float *bx = NULL, *by = NULL;

	*x = NULL;
	if (ny > 0)
		*y = NULL;
	*n = 0;
	if (nx == 0 || width < nx)
		return apierr_set(e, 500, "internal_error", "csv_decode: "
		    "a row needs at least one input");
	skip_bom(&body, &len);
	if (scan(body, len, &rows, &has_header, &cols, e) < 0)
		return -1;
	if (has_header && cols != width) {
		char what[64];

		expected(nx, ny, what, sizeof what);
		return apierr_set(e, 422, "invalid_value", "line 1 (the header) "
		    "has %zu column%s; expected %s", cols, cols == 1 ? "" : "s",
		    what);
	}
	if (width > SIZE_MAX / sizeof(float) / rows)
		return apierr_set(e, 503, "out_of_memory", "out of memory");
	/* on 2 MiB pages: a fresh 4 KiB page each 1,024 floats cost more
	 * than parsing them under this hypervisor (hugemem.h) */
	bx = hugemem_alloc(rows * nx * sizeof(float));
	if (ny > 0)
		by = hugemem_alloc(rows * ny * sizeof(float));
	if (bx == NULL || (ny > 0 && by == NULL)) {
		apierr_set(e, 503, "out_of_memory", "out of memory");
		e->retry_after = 5;
		goto fail;
	}
	/* pass 2: the rows */
	{
		part all = { body, len, 0, 0, 0, rows, nx, ny, has_header, bx,
			     by, 0, { 0 } };

		if (rows_parse(&all, rows, part_count(len, rows), e) < 0)
			goto fail;
	}
	*x = bx;
	if (ny > 0)
		*y = by;
	*n = rows;
	return 0;
fail:
	free(bx);
	free(by);
	return -1;
}

char *
csv_encode(const float *v, size_t n, size_t width, size_t *len)
{
	/* "%.9g" of a float is at most 15 characters ("-1.17549435e-38");
	 * each value takes 16 with its comma or newline */
	size_t cap, off = 0;
	char *text;

	if (width != 0 && n > (SIZE_MAX - 1) / 16 / width)
		return NULL;
	cap = n * width * 16 + 1;
	text = malloc(cap);
	if (text == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < width; j++) {
			float f = v[i * width + j];

			if (isfinite(f))
				off += (size_t)snprintf(text + off, cap - off,
				    "%.9g", (double)f);
			text[off++] = j + 1 < width ? ',' : '\n';
		}
	}
	text[off] = '\0';
	*len = off;
	return text;
}

/* Compares the media range s[0..n) with type, ignoring case. */
static int
same_type(const char *s, size_t n, const char *type)
{
	return n == strlen(type) && strncasecmp(s, type, n) == 0;
}

double
csv_accept_q(const char *accept, const char *type)
{
	double best = -1.0;
	const char *p = accept;

	if (p == NULL)
		return -1.0;
	while (*p) {
		const char *t, *end;
		size_t tn;
		double q = 1.0;

		while (*p == ',' || is_space(*p))
			p++;
		if (*p == '\0')
			break;
		t = p;
		while (*p && *p != ';' && *p != ',')
			p++;
		tn = (size_t)(p - t);
		trim(&t, &tn);
		/* parameters: only q matters */
		while (*p == ';') {
			p++;
			while (is_space(*p))
				p++;
			if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
				q = strtod(p + 2, (char **)&end);
				if (end == p + 2 || !(q >= 0.0 && q <= 1.0))
					q = 1.0;
				p = end;
			}
			while (*p && *p != ';' && *p != ',')
				p++;
		}
		if (same_type(t, tn, type) && q > best)
			best = q;
	}
	return best;
}

int
csv_accepted(const char *accept)
{
	double csv_q = csv_accept_q(accept, "text/csv");

	return csv_q > 0.0 && csv_q > csv_accept_q(accept,
	    "application/json");
}
