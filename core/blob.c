/*
 * blob: writing and checking the versioned binary form of a model.
 *
 * The header is a fixed sequence of little-endian fields (see put_header);
 * a reader walks it with a bounds-checked cursor, so a truncated or hostile
 * blob can only ever produce a FAULT_CORRUPT message.
 */
#include "blob.h"
#include "le.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC_LEN 8

typedef struct writer {
	unsigned char *p;
} writer;

typedef struct reader {
	const unsigned char *p;
	const unsigned char *end;
	int bad; /* set once a read ran past end */
} reader;

/* The writer's fields, little-endian (le.h), moving the cursor on. */
static void
put_u32(writer *w, uint32_t v)
{
	le_put32(w->p, v);
	w->p += 4;
}

static void
put_u64(writer *w, uint64_t v)
{
	le_put64(w->p, v);
	w->p += 8;
}

static void
put_f32(writer *w, float v)
{
	le_putf32(w->p, v);
	w->p += 4;
}

/* The reader's: 0 (and r->bad set) past the end. */
static uint32_t
get_u32(reader *r)
{
	uint32_t v;

	if (r->end - r->p < 4) {
		r->bad = 1;
		return 0;
	}
	v = le_get32(r->p);
	r->p += 4;
	return v;
}

static uint64_t
get_u64(reader *r)
{
	uint64_t lo = get_u32(r);

	return lo | (uint64_t)get_u32(r) << 32;
}

static float
get_f32(reader *r)
{
	uint32_t u = get_u32(r);
	float v;

	memcpy(&v, &u, 4);
	return v;
}

/* Bytes of the header for L weight layers. */
static size_t
header_bytes(uint32_t L)
{
	/* n_layers, sizes, acts, loss, opt kind, 5 hyper-params,
	 * seed, step, rng, nparams, nstate */
	return 4 + 4 * (L + 1) + 4 * L + 4 + 4 + 4 * 5 + 8 + 8 + 32 + 8 + 8;
}

static void
put_floats(writer *w, const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_f32(w, v[i]);
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t v = i;

		for (int k = 0; k < 8; k++)
			v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
		crc_table[i] = v;
	}
}

uint32_t
blob_crc32(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = 0xffffffffu;

	pthread_once(&crc_once, crc_init);
	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

int
blob_save(const mlp *m, void **buf, size_t *len, fault *f)
{
	const mlp_spec *s = mlp_get_spec(m);
	const rng *r = mlp_rng_const(m);
	size_t np, ns, total;
	const float *params = mlp_params_const(m, &np);
	const float *state;
	unsigned char *out;
	writer w;

	state = mlp_optim_state_const(m, &ns);
	total = MAGIC_LEN + 8 + header_bytes(s->n_layers) + 4 * (np + ns) + 4;
	out = malloc(total);
	if (out == NULL)
		return fault_set(f, FAULT_NOMEM,
		    "out of memory serializing the model");
	memcpy(out, BLOB_MAGIC, MAGIC_LEN);
	w.p = out + MAGIC_LEN;
	put_u32(&w, BLOB_VERSION);
	put_u32(&w, (uint32_t)header_bytes(s->n_layers));
	put_u32(&w, s->n_layers);
	for (uint32_t l = 0; l <= s->n_layers; l++)
		put_u32(&w, s->sizes[l]);
	for (uint32_t l = 0; l < s->n_layers; l++)
		put_u32(&w, (uint32_t)s->act[l]);
	put_u32(&w, (uint32_t)s->loss);
	put_u32(&w, (uint32_t)s->opt.kind);
	put_f32(&w, s->opt.lr);
	put_f32(&w, s->opt.momentum);
	put_f32(&w, s->opt.beta1);
	put_f32(&w, s->opt.beta2);
	put_f32(&w, s->opt.eps);
	put_u64(&w, s->seed);
	put_u64(&w, mlp_step(m));
	for (int i = 0; i < 4; i++)
		put_u64(&w, r->s[i]);
	put_u64(&w, np);
	put_u64(&w, ns);
	put_floats(&w, params, np);
	put_floats(&w, state, ns);
	put_u32(&w, blob_crc32(out, total - 4));
	*buf = out;
	*len = total;
	return 0;
}

mlp *
blob_load(const void *buf, size_t len, const mlp_spec *expect, fault *f)
{
	const unsigned char *b = buf;
	reader r;
	mlp_spec s;
	uint32_t version, hbytes, crc, L;
	uint64_t step, np, ns;
	rng g;
	mlp *m;
	float *dst;
	size_t have;

	if (b == NULL || len < MAGIC_LEN + 8 + 4)
		return fault_set(f, FAULT_CORRUPT,
		    "model blob is truncated (%zu bytes)", len), NULL;
	if (memcmp(b, BLOB_MAGIC, MAGIC_LEN) != 0)
		return fault_set(f, FAULT_CORRUPT,
		    "model blob has a wrong magic; not an mlpd model"), NULL;
	r.p = b + MAGIC_LEN;
	r.end = b + len - 4;
	r.bad = 0;
	version = get_u32(&r);
	if (version != BLOB_VERSION)
		return fault_set(f, FAULT_CORRUPT,
		    "model blob has format version %u; this mlpd reads %u",
		    version, BLOB_VERSION), NULL;
	crc = le_get32(b + len - 4);
	if (crc != blob_crc32(b, len - 4))
		return fault_set(f, FAULT_CORRUPT,
		    "model blob checksum mismatch: truncated or damaged"), NULL;
	hbytes = get_u32(&r);
	mlp_spec_default(&s);
	L = get_u32(&r);
	if (r.bad || L < 1 || L > MLP_MAX_LAYERS ||
	    hbytes != header_bytes(L))
		return fault_set(f, FAULT_CORRUPT,
		    "model blob header is malformed"), NULL;
	s.n_layers = L;
	for (uint32_t l = 0; l <= L; l++)
		s.sizes[l] = get_u32(&r);
	for (uint32_t l = 0; l < L; l++)
		s.act[l] = (act_kind)get_u32(&r);
	s.loss = (mlp_loss)get_u32(&r);
	s.opt.kind = (optim_kind)get_u32(&r);
	s.opt.lr = get_f32(&r);
	s.opt.momentum = get_f32(&r);
	s.opt.beta1 = get_f32(&r);
	s.opt.beta2 = get_f32(&r);
	s.opt.eps = get_f32(&r);
	s.seed = get_u64(&r);
	step = get_u64(&r);
	for (int i = 0; i < 4; i++)
		g.s[i] = get_u64(&r);
	np = get_u64(&r);
	ns = get_u64(&r);
	if (r.bad)
		return fault_set(f, FAULT_CORRUPT,
		    "model blob header is truncated"), NULL;
	/* rng.h: xoshiro's state is never all zero (it would draw only
	 * zeros from then on). */
	if ((g.s[0] | g.s[1] | g.s[2] | g.s[3]) == 0)
		return fault_set(f, FAULT_CORRUPT,
		    "model blob holds an all-zero RNG state"), NULL;
	{
		fault sf;

		if (mlp_spec_validate(&s, &sf) < 0)
			return fault_set(f, FAULT_CORRUPT,
			    "model blob holds a bad spec: %s", sf.msg), NULL;
	}
	if (np != mlp_spec_params(&s) ||
	    ns != optim_state_floats(s.opt.kind, (size_t)np))
		return fault_set(f, FAULT_CORRUPT,
		    "model blob parameter counts do not match its layers"),
		    NULL;
	if ((size_t)(r.end - r.p) != 4 * (np + ns))
		return fault_set(f, FAULT_CORRUPT,
		    "model blob length does not match its layers"), NULL;
	if (expect != NULL) {
		int same = expect->n_layers == s.n_layers;

		for (uint32_t l = 0; same && l <= L; l++)
			same = expect->sizes[l] == s.sizes[l];
		if (!same)
			return fault_set(f, FAULT_CORRUPT,
			    "model blob layers differ from the model's"), NULL;
	}
	m = mlp_create(&s, f);
	if (m == NULL)
		return NULL;
	mlp_set_step(m, step);
	*mlp_rng(m) = g;
	dst = mlp_params(m, &have);
	for (size_t i = 0; i < np; i++)
		dst[i] = get_f32(&r);
	if (ns) {
		dst = mlp_optim_state(m, &have);
		for (size_t i = 0; i < ns; i++)
			dst[i] = get_f32(&r);
	}
	return m;
}
