/*
 * matjson: streaming JSON decoding of batch and predict bodies into float
 * blocks (see matjson.h).
 *
 * A recursive-descent scanner over the body: scan_* functions return 0,
 * -1 after a parse error (filled in m->e, the first one in the document,
 * as jansson reports the first), or FALLBACK when the tree decoder must
 * answer. Errors about the values (a row of the wrong width, a string
 * where a number belongs, a value beyond float32) do not stop the scan,
 * since a parse error later in the body is what codec would report; each
 * matrix keeps its first shape error and its first value error, and the
 * checks after the scan report them in codec's order.
 *
 * The one state shared between threads is the "C" locale object of the
 * slow number path, made once (pthread_once) and only read after; each
 * thread switches to it with uselocale around its own strtod call.
 */
#include "matjson.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hugemem.h"

#define FALLBACK (-2)
#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */
#define KEY_MAX 16     /* longer keys are unknown keys */

/* One matrix of the body: its decoding state. */
typedef struct mat {
	const char *field; /* "inputs", "targets", "input" */
	size_t width;
	int single;      /* predict's "input": the value is one row */
	int present;
	int not_array;   /* the value is not a list */
	size_t rows;     /* rows seen (single: values seen) */
	size_t keep;     /* rows that may be stored (the caps) */
	float *v;        /* the stored rows, cap rows of room */
	const char *row0; /* where row 0's list began in the body */
	size_t cap;
	int oom;
	int has_shape, has_value;
	apierr shape;    /* first row that is not a list or has a wrong width */
	apierr value;    /* first element that is not a finite float32 number */
	size_t nonnum;   /* single: index + 1 of the first non-number */
	size_t nonfin;   /* single: index + 1 of the first non-finite value */
} mat;

typedef struct mj {
	const char *body, *p, *end;
	apierr *e;
} mj;

static int scan_value(mj *m, int depth);

/* 1-based line and column of p, counting characters as jansson does. */
static int
parse_error(mj *m, int status, const char *code, const char *what)
{
	int line = 1, col = 1;

	for (const char *q = m->body; q < m->p && q < m->end; q++) {
		unsigned char c = (unsigned char)*q;

		if (c == '\n') {
			line++;
			col = 1;
		} else if ((c & 0xc0) != 0x80) {
			col++;
		}
	}
	apierr_set(m->e, status, code, "%s: %s (line %d, column %d)",
	    strcmp(code, "malformed_json") == 0 ? "malformed JSON" :
	    strcmp(code, "duplicate_key") == 0 ? "duplicate object key" :
	    "a number is too large to represent", what, line, col);
	return -1;
}

static void
skip_ws(mj *m)
{
	while (m->p < m->end && (*m->p == ' ' || *m->p == '\n' ||
	    *m->p == '\r' || *m->p == '\t'))
		m->p++;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at p (p + 4 <= end checked by the caller): the code
 * unit, or -1. */
static long
hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* Length of the valid UTF-8 sequence at p (non-ASCII first byte), or 0. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Appends code point cp as UTF-8 to out (room for KEY_MAX + 1 bytes),
 * or marks it too long (*olen past KEY_MAX). */
static void
put_cp(char *out, size_t *olen, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80)
		b[0] = (char)cp, n = 1;
	else if (cp < 0x800)
		b[0] = (char)(0xc0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3f)),
		    n = 2;
	else if (cp < 0x10000)
		b[0] = (char)(0xe0 | cp >> 12),
		    b[1] = (char)(0x80 | (cp >> 6 & 0x3f)),
		    b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	else
		b[0] = (char)(0xf0 | cp >> 18),
		    b[1] = (char)(0x80 | (cp >> 12 & 0x3f)),
		    b[2] = (char)(0x80 | (cp >> 6 & 0x3f)),
		    b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	if (*olen + n <= KEY_MAX)
		memcpy(out + *olen, b, n);
	*olen += n;
}

/* A string at m->p (on its opening quote). out (may be NULL) gets its
 * text when it fits KEY_MAX bytes, NUL-terminated; *olen its length. */
static int
scan_string(mj *m, char *out, size_t *olen)
{
	size_t n = 0;

	m->p++;
	for (;;) {
		unsigned char c;

		if (m->p >= m->end)
			return parse_error(m, 400, "malformed_json",
			    "premature end of input in a string");
		c = (unsigned char)*m->p;
		if (c == '"') {
			m->p++;
			break;
		}
		if (c < 0x20)
			return parse_error(m, 400, "malformed_json",
			    "control character in a string");
		if (c == '\\') {
			char x;

			if (m->end - m->p < 2)
				return parse_error(m, 400, "malformed_json",
				    "premature end of input in a string");
			x = m->p[1];
			if (x == 'u') {
				long u, lo;

				if (m->end - m->p < 6 || (u = hex4(m->p + 2)) < 0)
					return parse_error(m, 400,
					    "malformed_json", "invalid \\u "
					    "escape");
				m->p += 6;
				if (u == 0)
					return parse_error(m, 400,
					    "malformed_json", "\\u0000 is not "
					    "allowed");
				if (u >= 0xdc00 && u <= 0xdfff)
					return parse_error(m, 400,
					    "malformed_json", "invalid Unicode "
					    "low surrogate");
				if (u >= 0xd800 && u <= 0xdbff) {
					if (m->end - m->p < 6 || m->p[0] != '\\' ||
					    m->p[1] != 'u' ||
					    (lo = hex4(m->p + 2)) < 0xdc00 ||
					    lo > 0xdfff)
						return parse_error(m, 400,
						    "malformed_json", "invalid "
						    "Unicode surrogate pair");
					m->p += 6;
					u = 0x10000 + ((u - 0xd800) << 10) +
					    (lo - 0xdc00);
				}
				if (out != NULL)
					put_cp(out, &n, (uint32_t)u);
				continue;
			}
			switch (x) {
			case '"': case '\\': case '/':
				break;
			case 'b': x = '\b'; break;
			case 'f': x = '\f'; break;
			case 'n': x = '\n'; break;
			case 'r': x = '\r'; break;
			case 't': x = '\t'; break;
			default:
				return parse_error(m, 400, "malformed_json",
				    "invalid escape");
			}
			if (out != NULL)
				put_cp(out, &n, (unsigned char)x);
			m->p += 2;
			continue;
		}
		if (c < 0x80) {
			if (out != NULL)
				put_cp(out, &n, c);
			m->p++;
		} else {
			size_t l = utf8_len((const unsigned char *)m->p,
			    (const unsigned char *)m->end);

			if (l == 0)
				return parse_error(m, 400, "malformed_json",
				    "invalid UTF-8 in a string");
			if (out != NULL && n + l <= KEY_MAX)
				memcpy(out + n, m->p, l);
			n += l;
			m->p += l;
		}
	}
	if (out != NULL) {
		out[n <= KEY_MAX ? n : KEY_MAX] = '\0';
		*olen = n;
	}
	return 0;
}

static const double pow10_exact[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static pthread_once_t c_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void
c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static const uint64_t pow10_u64[20] = {
	UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000),
	UINT64_C(10000), UINT64_C(100000), UINT64_C(1000000),
	UINT64_C(10000000), UINT64_C(100000000), UINT64_C(1000000000),
	UINT64_C(10000000000), UINT64_C(100000000000),
	UINT64_C(1000000000000), UINT64_C(10000000000000),
	UINT64_C(100000000000000), UINT64_C(1000000000000000),
	UINT64_C(10000000000000000), UINT64_C(100000000000000000),
	UINT64_C(1000000000000000000), UINT64_C(10000000000000000000)
};

/* Bits in v (0 for 0). */
static int
bits128(unsigned __int128 v)
{
	uint64_t hi = (uint64_t)(v >> 64);

	if (hi != 0)
		return 128 - __builtin_clzll(hi);
	return (uint64_t)v != 0 ? 64 - __builtin_clzll((uint64_t)v) : 0;
}

/* The double nearest to (q + a fraction, nonzero when sticky) * 2^e2,
 * ties to even: q rounded to 53 bits with its cut bits and the sticky
 * flag, the way an FPU rounds. q > 0 and the result must be normal. */
static double
round_q(unsigned __int128 q, int sticky, int e2)
{
	int shift = bits128(q) - 53;
	uint64_t m;

	if (shift <= 0)
		return ldexp((double)(uint64_t)q, e2); /* exact */
	{
		unsigned __int128 cut = q & (((unsigned __int128)1 << shift) - 1);
		unsigned __int128 half = (unsigned __int128)1 << (shift - 1);

		m = (uint64_t)(q >> shift);
		if (cut > half || (cut == half && (sticky || (m & 1))))
			m++;
	}
	/* m == 2^53 after a carry is still exact as a double */
	return ldexp((double)m, e2 + shift);
}

/* mant * 10^exp10 correctly rounded, for mant > 0 and |exp10| <= 19:
 * exact integer arithmetic in 128 bits (the product, or the quotient of
 * mant scaled to 127 bits by 10^-exp10 with its remainder as the sticky
 * bit), then one rounding. Its results lie between 1e-19 and 1.9e38, so
 * never subnormal nor out of range. */
static double
exact_small(uint64_t mant, long exp10)
{
	if (exp10 >= 0)
		return round_q((unsigned __int128)mant * pow10_u64[exp10], 0,
		    0);
	{
		uint64_t d = pow10_u64[-exp10];
		int s = 127 - (64 - __builtin_clzll(mant));
		unsigned __int128 num = (unsigned __int128)mant << s;
		unsigned __int128 q = num / d;

		/* q has at least 63 bits: the rounding sees all it needs */
		return round_q(q, num % d != 0, -s);
	}
}

/* strtod of s[0..len) (a well-formed JSON real) in the "C" locale. */
static double
slow_strtod(const char *s, size_t len, int *overflow)
{
	char small[64], *buf = small;
	locale_t old = (locale_t)0;
	double d;

	if (len >= sizeof small && (buf = malloc(len + 1)) == NULL) {
		*overflow = 0;
		return NAN; /* the caller reports it as out of memory */
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	pthread_once(&c_once, c_locale_init);
	if (c_locale != (locale_t)0)
		old = uselocale(c_locale);
	errno = 0;
	d = strtod(buf, NULL);
	*overflow = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
	if (old != (locale_t)0)
		uselocale(old);
	if (buf != small)
		free(buf);
	return d;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The value of eight digit values 0..9, one per byte of v (the first
 * in the lowest byte), in three multiplications. */
static uint64_t
eight_combine(uint64_t v)
{
	const uint64_t mask = UINT64_C(0x000000FF000000FF);

	v = v * 10 + (v >> 8);
	return ((v & mask) * UINT64_C(0x000F424000000064) +
	    ((v >> 16) & mask) * UINT64_C(0x0000271000000001)) >> 32;
}

/* How many of the eight bytes at p, from the first, are ASCII digits
 * (0..8), and in *val (when that is not 0) their value: fast_float's SWAR
 * digit test per byte, without a branch per digit. A carry or borrow out
 * of a non-digit byte reaches only the bytes after it, which the count
 * and the shift leave out. */
static int
lead_digits(const char *p, uint64_t *val)
{
	uint64_t v, x;
	int n;

	memcpy(&v, p, 8);
	x = ((v & UINT64_C(0xF0F0F0F0F0F0F0F0)) |
	    (((v + UINT64_C(0x0606060606060606)) &
	    UINT64_C(0xF0F0F0F0F0F0F0F0)) >> 4)) ^ UINT64_C(0x3333333333333333);
	n = x != 0 ? __builtin_ctzll(x) >> 3 : 8;
	if (n > 0)
		*val = eight_combine((v - UINT64_C(0x3030303030303030)) <<
		    (8 * (8 - n)));
	return n;
}
#else
/* How many of the eight bytes at p are leading ASCII digits, and their
 * value in *val: byte by byte. */
static int
lead_digits(const char *p, uint64_t *val)
{
	uint64_t v = 0;
	int n = 0;

	while (n < 8 && p[n] >= '0' && p[n] <= '9')
		v = v * 10 + (uint64_t)(p[n++] - '0');
	*val = v;
	return n;
}
#endif

/* The longest JSON number at s[0..end), as jansson's lexer reads it:
 * *stop where it ends. 0 with *out, or -1 when the text there is not a
 * number (*overflow 1 when it is one, but out of range). */
static int
parse_num(const char *s, const char *end, double *out, int *overflow,
	  const char **stop)
{
	const char *p = s;
	int neg = 0, real = 0, sig = 0;
	uint64_t mant = 0;
	long exp10 = 0;

	*overflow = 0;
	*stop = s;
	if (p < end && *p == '-')
		neg = 1, p++;
	if (p == end || *p < '0' || *p > '9')
		return -1;
	if (*p == '0') {
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			return -1;
	} else {
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (sig < 19)
				mant = mant * 10 + (uint64_t)(*p - '0');
			else
				exp10++;
			sig++;
		}
	}
	if (p < end && *p == '.') {
		real = 1;
		p++;
		if (p == end || *p < '0' || *p > '9')
			return -1;
		if (sig == 0)
			for (; p < end && *p == '0'; p++)
				exp10--;
		/* up to eight digits at a time while they fit the 19 kept,
		 * without a branch per digit: "474509804" is 8 then 1 */
		while (end - p >= 8) {
			uint64_t v;
			int k = lead_digits(p, &v);

			if (k == 0 || sig + k > 19)
				break;
			mant = mant * pow10_u64[k] + v;
			exp10 -= k;
			sig += k;
			p += k;
			if (k < 8)
				break;
		}
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (sig < 19) {
				mant = mant * 10 + (uint64_t)(*p - '0');
				exp10--;
			}
			sig++;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		int eneg = 0;
		long ev = 0;

		real = 1;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p == '-', p++;
		if (p == end || *p < '0' || *p > '9')
			return -1;
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if (ev < 100000)
				ev = ev * 10 + (*p - '0');
		exp10 += eneg ? -ev : ev;
	}
	*stop = p;
	if (!real) {
		/* jansson: an integer must fit int64 */
		if (sig > 19 || mant > (uint64_t)INT64_MAX + (uint64_t)neg) {
			*overflow = 1;
			return -1;
		}
		/* -0 is the integer 0 */
		*out = mant == 0 ? 0.0 : neg ? -(double)mant : (double)mant;
		return 0;
	}
	if (mant == 0) {
		*out = neg ? -0.0 : 0.0;
		return 0;
	}
	if (sig <= 19 && mant <= (UINT64_C(1) << 53) && exp10 >= -22 &&
	    exp10 <= 22) {
		/* Clinger's fast path: both operands exact, one rounding */
		double d = (double)mant;

		d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
		*out = neg ? -d : d;
		return 0;
	}
	if (sig <= 19 && exp10 >= -19 && exp10 <= 19) {
		double d = exact_small(mant, exp10);

		*out = neg ? -d : d;
		return 0;
	}
	*out = slow_strtod(s, (size_t)(p - s), overflow);
	if (isnan(*out) || *overflow)
		return -1;
	return 0;
}

int
matjson_number(const char *s, size_t len, double *out, int *overflow)
{
	const char *stop;

	if (parse_num(s, s + len, out, overflow, &stop) < 0)
		return -1;
	return stop == s + len ? 0 : -1;
}

int
matjson_number_at(const char *s, const char *end, double *out,
		  const char **stop)
{
	int overflow;

	if (parse_num(s, end, out, &overflow, stop) < 0)
		return -1;
	return 0;
}

/* A number token at m->p into *d. */
static int
scan_number(mj *m, double *d)
{
	const char *stop;
	int overflow;

	*d = 0.0;
	if (parse_num(m->p, m->end, d, &overflow, &stop) == 0) {
		m->p = stop;
		return 0;
	}
	if (overflow) {
		m->p = stop;
		/* jansson's lexer reads the byte after the number before it
		 * converts it: a byte that is not UTF-8 there is its error */
		if (m->p < m->end && (unsigned char)*m->p >= 0x80 &&
		    utf8_len((const unsigned char *)m->p,
		    (const unsigned char *)m->end) == 0)
			return parse_error(m, 400, "malformed_json",
			    "invalid UTF-8");
		return parse_error(m, 422, "non_finite", "out of range");
	}
	if (stop > m->p && isnan(*d))
		return apierr_set(m->e, 503, "out_of_memory", "out of memory");
	return parse_error(m, 400, "malformed_json", "invalid number");
}

/* A token that does not belong at m->p: what jansson's lexer says of it
 * first, since it reads the token before the parser looks at it (a
 * number out of range is 422 non_finite), else the parse error what. */
static int
unexpected(mj *m, const char *what)
{
	double d;
	int rc;

	if (m->p < m->end && (*m->p == '-' || (*m->p >= '0' &&
	    *m->p <= '9')) && (rc = scan_number(m, &d)) != 0)
		return rc;
	return parse_error(m, 400, "malformed_json", what);
}

/* A true, false or null literal. */
static int
scan_literal(mj *m)
{
	static const char *const lits[] = { "true", "false", "null" };

	for (int i = 0; i < 3; i++) {
		size_t n = strlen(lits[i]);

		if ((size_t)(m->end - m->p) >= n &&
		    memcmp(m->p, lits[i], n) == 0) {
			m->p += n;
			return 0;
		}
	}
	return parse_error(m, 400, "malformed_json", "invalid token");
}

/* After a list element or an object member: 1 past a ',', 0 past the
 * closing bracket close, -1 after a parse error. */
static int
separator(mj *m, char close)
{
	skip_ws(m);
	if (m->p < m->end && *m->p == ',') {
		m->p++;
		return 1;
	}
	if (m->p < m->end && *m->p == close) {
		m->p++;
		return 0;
	}
	return unexpected(m, m->p >= m->end ? "premature end of input" :
	    close == ']' ? "',' or ']' expected" : "',' or '}' expected");
}

/* Elements of a list after its '[' until its ']', each through elem
 * (or scan_value when elem is NULL). */
static int
scan_list(mj *m, int depth, int (*elem)(mj *, void *, size_t),
	  void *arg, size_t *count)
{
	size_t i = 0;
	int rc;

	if (depth > MAX_DEPTH)
		return parse_error(m, 400, "malformed_json",
		    "maximum parsing depth reached");
	m->p++;
	skip_ws(m);
	if (m->p < m->end && *m->p == ']') {
		m->p++;
		*count = 0;
		return 0;
	}
	for (;;) {
		skip_ws(m);
		if (m->p >= m->end)
			return parse_error(m, 400, "malformed_json",
			    "premature end of input");
		rc = elem ? elem(m, arg, i) : scan_value(m, depth);
		if (rc != 0)
			return rc;
		i++;
		if ((rc = separator(m, ']')) <= 0) {
			if (rc < 0)
				return -1;
			break;
		}
	}
	*count = i;
	return 0;
}

/* Any value, checked and dropped; an object is the tree's business. */
static int
scan_value(mj *m, int depth)
{
	size_t n;
	double d;

	skip_ws(m);
	if (m->p >= m->end)
		return parse_error(m, 400, "malformed_json",
		    "premature end of input");
	switch (*m->p) {
	case '{':
		return FALLBACK;
	case '[':
		return scan_list(m, depth + 1, NULL, NULL, &n);
	case '"':
		return scan_string(m, NULL, NULL);
	case 't': case 'f': case 'n':
		return scan_literal(m);
	default:
		if (*m->p == '-' || (*m->p >= '0' && *m->p <= '9'))
			return scan_number(m, &d);
		return parse_error(m, 400, "malformed_json", "invalid token");
	}
}

/* The row stored at index i of a (growing its block), or NULL when it is
 * not to be stored. */
/* Room for row i of a, whose list starts at m->p: 64 rows at first, or
 * as many as the rest of the body can hold (a row of w numbers takes at
 * least 2w + 1 bytes) when that is fewer, then as many as the rest holds
 * at the bytes per row seen so far (plus 1/16), so a big matrix is copied
 * once rather than at each doubling; mat_take gives back what stays
 * unused. (64 rows of a 65,536-wide model were 16 MB reserved for a body
 * of a few bytes: fuzz_batch_json ran 92 inputs a second.) */
static float *
row_slot(mat *a, size_t i, const mj *m)
{
	if (a->has_shape || a->oom || i >= a->keep)
		return NULL;
	if (i == 0)
		a->row0 = m->p;
	if (i >= a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		float *v;

		if (i == 0) {
			size_t fit = (size_t)(m->end - m->p) /
			    (2 * a->width + 1) + 1;

			if (fit < cap)
				cap = fit;
		}

		if (i > 0 && m->p > a->row0) {
			size_t per = (size_t)(m->p - a->row0) / i;
			size_t est = i + (size_t)(m->end - m->p) / (per ?
			    per : 1) + 1;

			if (est < a->keep && est + est / 16 > cap)
				cap = est + est / 16;
		}
		if (cap > a->keep)
			cap = a->keep;
		v = realloc(a->v, cap * a->width * sizeof(float));
		if (v == NULL) {
			a->oom = 1;
			return NULL;
		}
		a->v = v;
		a->cap = cap;
		hugemem_advise(v, cap * a->width * sizeof(float));
	}
	return a->v + i * a->width;
}

/* Context of one row's elements. */
typedef struct row_ctx {
	mat *a;
	size_t i;  /* the row's index */
	float *dst; /* where its values go, or NULL */
	int depth;
} row_ctx;

/* below 2^128 (1 - 2^-25) a double still rounds to a finite float */
#define F32_LIMIT 0x1.ffffffp127

static int
row_elem(mj *m, void *arg, size_t j)
{
	row_ctx *r = arg;
	mat *a = r->a;
	double d;
	int rc;

	if (*m->p == '-' || (*m->p >= '0' && *m->p <= '9')) {
		if ((rc = scan_number(m, &d)) != 0)
			return rc;
		if (!(fabs(d) < F32_LIMIT)) {
			if (a->single) {
				if (a->nonfin == 0)
					a->nonfin = j + 1;
			} else if (!a->has_value) {
				a->has_value = 1;
				apierr_set(&a->value, 422, "non_finite",
				    "%s[%zu][%zu] is not a finite float32",
				    a->field, r->i, j);
			}
		} else if (r->dst != NULL && j < a->width) {
			r->dst[j] = (float)d;
		}
		return 0;
	}
	if ((rc = scan_value(m, r->depth)) != 0)
		return rc;
	if (a->single) {
		if (a->nonnum == 0)
			a->nonnum = j + 1;
	} else if (!a->has_value) {
		a->has_value = 1;
		apierr_set(&a->value, 400, "wrong_type", "%s[%zu][%zu] must be "
		    "a number", a->field, r->i, j);
	}
	return 0;
}

/* One row of a matrix (element i of its list). */
static int
matrix_row(mj *m, void *arg, size_t i)
{
	mat *a = arg;
	row_ctx r = { a, i, NULL, 3 };
	size_t n;
	int rc;

	a->rows = i + 1;
	if (*m->p != '[') {
		if ((rc = scan_value(m, 2)) != 0)
			return rc;
		if (!a->has_shape) {
			a->has_shape = 1;
			apierr_set(&a->shape, 400, "wrong_type", "%s[%zu] must be "
			    "a list of numbers", a->field, i);
		}
		return 0;
	}
	r.dst = row_slot(a, i, m);
	if ((rc = scan_list(m, 3, row_elem, &r, &n)) != 0)
		return rc;
	if (n != a->width && !a->has_shape) {
		a->has_shape = 1;
		apierr_set(&a->shape, 422, "invalid_value", "%s[%zu] has %zu "
		    "values; expected %zu", a->field, i, n, a->width);
	}
	return 0;
}

/* The value of a matrix key. */
static int
scan_matrix(mj *m, mat *a)
{
	size_t n;
	int rc;

	a->present = 1;
	skip_ws(m);
	if (m->p >= m->end)
		return parse_error(m, 400, "malformed_json",
		    "premature end of input");
	if (*m->p != '[') {
		a->not_array = 1;
		return scan_value(m, 1);
	}
	if (a->single) {
		row_ctx r = { a, 0, NULL, 2 };

		a->cap = 0;
		if ((a->v = malloc(a->width * sizeof(float))) == NULL)
			a->oom = 1;
		r.dst = a->v;
		rc = scan_list(m, 2, row_elem, &r, &n);
		a->rows = n;
		return rc;
	}
	rc = scan_list(m, 2, matrix_row, a, &n);
	a->rows = n;
	return rc;
}

/* The top-level object, its matrix keys into mats[0..nm). */
static int
scan_body(mj *m, mat *mats, size_t nm)
{
	skip_ws(m);
	if (m->p >= m->end || *m->p != '{')
		return FALLBACK;
	m->p++;
	skip_ws(m);
	if (m->p < m->end && *m->p == '}') {
		m->p++;
	} else {
		for (;;) {
			char key[KEY_MAX + 1];
			size_t klen, k;
			int rc;

			skip_ws(m);
			if (m->p >= m->end || *m->p != '"')
				return unexpected(m, m->p >= m->end ?
				    "premature end of input" :
				    "string or '}' expected");
			if ((rc = scan_string(m, key, &klen)) != 0)
				return rc;
			for (k = 0; k < nm; k++)
				if (klen <= KEY_MAX && strlen(key) == klen &&
				    strcmp(key, mats[k].field) == 0)
					break;
			if (k == nm)
				return FALLBACK; /* unknown_field or worse */
			if (mats[k].present)
				return parse_error(m, 400, "duplicate_key",
				    mats[k].field);
			skip_ws(m);
			if (m->p >= m->end || *m->p != ':')
				return unexpected(m, "':' expected");
			m->p++;
			if ((rc = scan_matrix(m, &mats[k])) != 0)
				return rc;
			if ((rc = separator(m, '}')) <= 0) {
				if (rc < 0)
					return -1;
				break;
			}
		}
	}
	skip_ws(m);
	if (m->p != m->end)
		return unexpected(m, "end of file expected");
	return 0;
}

static void
mat_init(mat *a, const char *field, size_t width, const mlp_spec *s,
	 const codec_limits *lim)
{
	size_t rv = codec_row_values(s);

	memset(a, 0, sizeof *a);
	a->field = field;
	a->width = width;
	a->keep = MLP_MAX_BATCH;
	if (lim != NULL) {
		if (lim->max_batch_rows < a->keep)
			a->keep = lim->max_batch_rows;
		if (rv > 0 && lim->max_batch_values / rv < a->keep)
			a->keep = lim->max_batch_values / rv;
	}
}

/* codec_matrix's checks, in its order, on a scanned matrix. */
static int
mat_check(mat *a, apierr *e)
{
	if (!a->present)
		return apierr_set(e, 400, "missing_field", "%s is required",
		    a->field);
	if (a->not_array)
		return apierr_set(e, 400, "wrong_type", "%s must be a list of "
		    "rows", a->field);
	if (a->rows == 0)
		return apierr_set(e, 422, "invalid_value", "%s is empty",
		    a->field);
	if (a->rows > MLP_MAX_BATCH)
		return apierr_set(e, 422, "invalid_value", "%s has %zu rows; "
		    "at most %u are allowed in one request", a->field,
		    a->rows, MLP_MAX_BATCH);
	if (a->has_shape) {
		*e = a->shape;
		return -1;
	}
	if (a->oom)
		return apierr_set(e, 503, "out_of_memory", "out of memory");
	if (a->has_value) {
		*e = a->value;
		return -1;
	}
	return 0;
}

/* The rows cap of a scanned list (codec's check_array_rows). */
static int
mat_rows_cap(const mat *a, const mlp_spec *s, const codec_limits *lim,
	     apierr *e)
{
	if (!a->present || a->not_array)
		return 0;
	return codec_check_rows(s, a->rows, lim, a->field, e);
}

/* Shrinks a's block to its rows and hands it over. */
static float *
mat_take(mat *a)
{
	float *v = a->v;

	if (a->cap > a->rows) {
		float *t = realloc(v, a->rows * a->width * sizeof(float));

		if (t != NULL)
			v = t;
	}
	a->v = NULL;
	return v;
}

/* Runs the scan; on FALLBACK, -1 with *fallback set. */
static int
run(const char *body, size_t len, mat *mats, size_t nm, apierr *e,
    int *fallback)
{
	mj m = { body, body, body + len, e };
	int rc;

	*fallback = 0;
	rc = scan_body(&m, mats, nm);
	if (rc == FALLBACK) {
		*fallback = 1;
		return -1;
	}
	return rc;
}

int
matjson_batch(const char *body, size_t len, const mlp_spec *s,
	      const codec_limits *lim, float **x, float **y, size_t *n,
	      apierr *e)
{
	mat mats[2];
	int fallback;

	*x = *y = NULL;
	mat_init(&mats[0], "inputs", s->sizes[0], s, lim);
	mat_init(&mats[1], "targets", s->sizes[s->n_layers], s, lim);
	if (run(body, len, mats, 2, e, &fallback) < 0)
		goto fail;
	if (!mats[1].present) {
		apierr_set(e, 400, "missing_field", "targets is required");
		goto fail;
	}
	if (mat_rows_cap(&mats[0], s, lim, e) < 0 ||
	    mat_rows_cap(&mats[1], s, lim, e) < 0 ||
	    mat_check(&mats[0], e) < 0 ||
	    mat_check(&mats[1], e) < 0)
		goto fail;
	if (mats[0].rows != mats[1].rows) {
		apierr_set(e, 422, "invalid_value", "inputs has %zu rows but "
		    "targets has %zu", mats[0].rows, mats[1].rows);
		goto fail;
	}
	*n = mats[0].rows;
	*x = mat_take(&mats[0]);
	*y = mat_take(&mats[1]);
	return 0;
fail:
	free(mats[0].v);
	free(mats[1].v);
	if (fallback) {
		json_t *doc = codec_parse_object(body, len, 0, e);
		int rc;

		if (doc == NULL)
			return -1;
		rc = codec_batch(doc, s, lim, x, y, n, NULL, e);
		json_decref(doc);
		return rc;
	}
	return -1;
}

int
matjson_predict(const char *body, size_t len, const mlp_spec *s,
		const codec_limits *lim, float **x, size_t *n, int *single,
		apierr *e)
{
	mat mats[2];
	mat *one = &mats[1], *many = &mats[0];
	int fallback;

	*x = NULL;
	mat_init(many, "inputs", s->sizes[0], s, lim);
	mat_init(one, "input", s->sizes[0], s, lim);
	one->single = 1;
	if (run(body, len, mats, 2, e, &fallback) < 0)
		goto fail;
	if (one->present == many->present) {
		apierr_set(e, 400, one->present ? "unknown_field" :
		    "missing_field", "give exactly one of input or inputs");
		goto fail;
	}
	*single = one->present;
	if (many->present) {
		if (mat_rows_cap(many, s, lim, e) < 0 ||
		    mat_check(many, e) < 0)
			goto fail;
		*n = many->rows;
		*x = mat_take(many);
		return 0;
	}
	if (one->not_array) {
		apierr_set(e, 400, "wrong_type", "input must be one row, a list "
		    "of numbers");
		goto fail;
	}
	if (one->nonnum > 0) {
		apierr_set(e, 400, "wrong_type", "input[%zu] must be a number: "
		    "input is one row (send several rows as inputs)",
		    one->nonnum - 1);
		goto fail;
	}
	if (codec_check_rows(s, 1, lim, "input", e) < 0)
		goto fail;
	if (one->oom) {
		apierr_set(e, 503, "out_of_memory", "out of memory");
		goto fail;
	}
	if (one->rows != one->width) {
		apierr_set(e, 422, "invalid_value", "input[0] has %zu values; "
		    "expected %zu", one->rows, one->width);
		goto fail;
	}
	if (one->nonfin > 0) {
		apierr_set(e, 422, "non_finite", "input[0][%zu] is not a finite "
		    "float32", one->nonfin - 1);
		goto fail;
	}
	*n = 1;
	*x = one->v;
	return 0;
fail:
	free(mats[0].v);
	free(mats[1].v);
	if (fallback) {
		json_t *doc;
		int rc;

		/* a body far past the row caps is refused while it is
		 * parsed, before its whole tree is built */
		codec_json_cap_rows(s, lim);
		if ((doc = codec_parse_object(body, len, 0, e)) == NULL)
			return -1;
		rc = codec_predict_request(doc, s, lim, x, n, single, e);
		json_decref(doc);
		return rc;
	}
	return -1;
}
