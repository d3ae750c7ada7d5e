/*
 * mlp: batched forward, backward and update for a multilayer perceptron.
 *
 * Memory: one block per model holds params | grads | optimizer state; a
 * second block (scratch) holds, for the current batch capacity B, the
 * activations A_1..A_L (B x N_l each), two delta buffers (B x max N) and a
 * vector of B ones used to sum deltas into bias gradients with sgemv. The
 * scratch grows when a larger batch arrives and is otherwise reused.
 *
 * Per step, with A_0 = X and D_l = dL/dZ_l (B x N_l):
 *   forward   Z_l = A_(l-1) W_l^T + 1 b_l^T      (sgemm, bias rows first)
 *             A_l = act(Z_l)                      (in place)
 *   output    D_L = (2 / (N_L B)) (A_L - Y) . act'(A_L)   for mse
 *             D_L = (A_L sum_j y_j - Y) / B                for softmax + ce
 *   backward  dW_l = D_l^T A_(l-1),  db_l = D_l^T 1      (sgemm, sgemv)
 *             D_(l-1) = (D_l W_l) . act'(A_(l-1))        (sgemm)
 * which is the seed's derivation with the batch mean folded into D_L.
 * The trainer's step (mlp_train_step_fused, plain sgd) folds the update
 * into the backward products instead: D_(l-1) first, then W_l += (-lr)
 * D_l^T A_(l-1) with beta 1 on W_l and b_l += (-lr) D_l^T 1 (fused_step).
 */
#include "mlp.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"

struct mlp {
	mlp_spec spec;
	uint64_t step;
	rng rng;
	size_t nparams;
	size_t nstate;
	size_t w_off[MLP_MAX_LAYERS]; /* offset of W_l in params/grads */
	size_t b_off[MLP_MAX_LAYERS]; /* offset of b_l */
	float *params;                /* the one block: params|grads|state */
	float *grads;
	float *state;
	int finite;      /* params all finite: 1 or 0, -1 when not known */
	size_t cap;      /* batch rows the scratch is sized for */
	float *scratch;  /* activations, deltas, ones; see above */
	float *act[MLP_MAX_LAYERS + 1]; /* act[l] = A_l, l >= 1, in scratch */
	float *delta[2];
	float *ones;
};

struct mlp_snapshot {
	atomic_int refs;
	mlp_spec spec;
	uint64_t step;
	size_t nparams;
	size_t w_off[MLP_MAX_LAYERS];
	size_t b_off[MLP_MAX_LAYERS];
	float params[]; /* nparams floats */
};

static const char *const loss_names[MLP_LOSS_COUNT_] = {
	[MLP_LOSS_MSE] = "mse",
	[MLP_LOSS_CROSS_ENTROPY] = "cross_entropy",
};

const char *
mlp_loss_name(mlp_loss l)
{
	if ((unsigned)l >= MLP_LOSS_COUNT_)
		return NULL;
	return loss_names[l];
}

int
mlp_loss_from_name(const char *name, mlp_loss *l)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < MLP_LOSS_COUNT_; i++) {
		if (strcmp(name, loss_names[i]) == 0) {
			*l = (mlp_loss)i;
			return 0;
		}
	}
	return -1;
}

void
mlp_spec_default(mlp_spec *s)
{
	memset(s, 0, sizeof *s);
	for (int l = 0; l < MLP_MAX_LAYERS; l++)
		s->act[l] = ACT_SIGMOID;
	s->loss = MLP_LOSS_MSE;
	optim_params_default(&s->opt);
	s->seed = 0;
}

size_t
mlp_spec_params(const mlp_spec *s)
{
	size_t n = 0;

	for (uint32_t l = 0; l < s->n_layers; l++)
		n += (size_t)s->sizes[l + 1] * s->sizes[l] + s->sizes[l + 1];
	return n;
}

static int
finite_in(float v, float lo, float hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

int
mlp_spec_validate(const mlp_spec *s, fault *f)
{
	uint32_t L;
	size_t total = 0;
	const optim_params *o;

	if (s == NULL)
		return fault_set(f, FAULT_INVALID, "no model spec given");
	L = s->n_layers;
	if (L < 1 || L > MLP_MAX_LAYERS)
		return fault_set(f, FAULT_INVALID,
		    "layers must list between 2 and %d sizes, got %u",
		    MLP_MAX_LAYERS + 1, L + 1);
	for (uint32_t l = 0; l <= L; l++) {
		if (s->sizes[l] < 1 || s->sizes[l] > MLP_MAX_WIDTH)
			return fault_set(f, FAULT_INVALID,
			    "layers[%u] is %u; each layer size must be "
			    "between 1 and %d", l, s->sizes[l], MLP_MAX_WIDTH);
	}
	for (uint32_t l = 0; l < L; l++) {
		/* sizes <= 2^16, so one layer is < 2^33: no overflow */
		total += (size_t)s->sizes[l + 1] * s->sizes[l] +
		    s->sizes[l + 1];
		if (total > MLP_MAX_PARAMS)
			return fault_set(f, FAULT_INVALID,
			    "the model would have more than %u parameters",
			    MLP_MAX_PARAMS);
		if ((unsigned)s->act[l] >= ACT_COUNT_)
			return fault_set(f, FAULT_INVALID,
			    "activation of layer %u is unknown", l);
		if (s->act[l] == ACT_SOFTMAX && l != L - 1)
			return fault_set(f, FAULT_INVALID,
			    "softmax is only allowed on the output layer, "
			    "not on layer %u", l);
	}
	if ((unsigned)s->loss >= MLP_LOSS_COUNT_)
		return fault_set(f, FAULT_INVALID, "loss is unknown");
	if (s->loss == MLP_LOSS_CROSS_ENTROPY && s->act[L - 1] != ACT_SOFTMAX)
		return fault_set(f, FAULT_INVALID,
		    "cross_entropy loss needs a softmax output layer");
	if (s->loss != MLP_LOSS_CROSS_ENTROPY && s->act[L - 1] == ACT_SOFTMAX)
		return fault_set(f, FAULT_INVALID,
		    "a softmax output layer needs the cross_entropy loss");
	if (s->loss == MLP_LOSS_CROSS_ENTROPY && s->sizes[L] < 2)
		return fault_set(f, FAULT_INVALID,
		    "cross_entropy needs at least 2 output units");
	o = &s->opt;
	if ((unsigned)o->kind >= OPTIM_COUNT_)
		return fault_set(f, FAULT_INVALID, "optimizer is unknown");
	if (!(isfinite(o->lr) && o->lr > 0.0f && o->lr <= 1e6f))
		return fault_set(f, FAULT_INVALID,
		    "learning_rate must be finite, > 0 and <= 1e6");
	if (!finite_in(o->momentum, 0.0f, 0.999999f))
		return fault_set(f, FAULT_INVALID,
		    "momentum must be in [0, 1)");
	if (!finite_in(o->beta1, 0.0f, 0.999999f) ||
	    !finite_in(o->beta2, 0.0f, 0.999999f))
		return fault_set(f, FAULT_INVALID,
		    "adam betas must be in [0, 1)");
	if (!(isfinite(o->eps) && o->eps > 0.0f))
		return fault_set(f, FAULT_INVALID, "adam eps must be > 0");
	return 0;
}

static void
layout(const mlp_spec *s, size_t *w_off, size_t *b_off)
{
	size_t off = 0;

	for (uint32_t l = 0; l < s->n_layers; l++) {
		w_off[l] = off;
		off += (size_t)s->sizes[l + 1] * s->sizes[l];
		b_off[l] = off;
		off += s->sizes[l + 1];
	}
}

mlp *
mlp_create(const mlp_spec *spec, fault *f)
{
	mlp *m;
	size_t total;

	if (mlp_spec_validate(spec, f) < 0)
		return NULL;
	m = calloc(1, sizeof *m);
	if (m == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory creating the model");
		return NULL;
	}
	m->spec = *spec;
	m->nparams = mlp_spec_params(spec);
	m->nstate = optim_state_floats(spec->opt.kind, m->nparams);
	layout(spec, m->w_off, m->b_off);
	total = 2 * m->nparams + m->nstate; /* <= 4 * 2^26: no overflow */
	m->params = calloc(total, sizeof(float));
	if (m->params == NULL) {
		fault_set(f, FAULT_NOMEM,
		    "out of memory allocating %zu parameters", m->nparams);
		free(m);
		return NULL;
	}
	m->grads = m->params + m->nparams;
	m->state = m->nstate ? m->grads + m->nparams : NULL;
	m->finite = -1;
	rng_seed(&m->rng, spec->seed);
	for (uint32_t l = 0; l < spec->n_layers; l++)
		rng_glorot_uniform(&m->rng, m->params + m->w_off[l],
		    (size_t)spec->sizes[l + 1] * spec->sizes[l],
		    spec->sizes[l], spec->sizes[l + 1]);
	return m;
}

void
mlp_destroy(mlp *m)
{
	if (m == NULL)
		return;
	free(m->scratch);
	free(m->params);
	free(m);
}

const mlp_spec *
mlp_get_spec(const mlp *m)
{
	return &m->spec;
}

uint64_t
mlp_step(const mlp *m)
{
	return m->step;
}

void
mlp_set_step(mlp *m, uint64_t step)
{
	m->step = step;
}

rng *
mlp_rng(mlp *m)
{
	return &m->rng;
}

const rng *
mlp_rng_const(const mlp *m)
{
	return &m->rng;
}

/* The mutable accessors forget what the last update knew of the weights:
 * the caller may write through the pointer. */
float *
mlp_params(mlp *m, size_t *n)
{
	if (n)
		*n = m->nparams;
	m->finite = -1;
	return m->params;
}

const float *
mlp_params_const(const mlp *m, size_t *n)
{
	if (n)
		*n = m->nparams;
	return m->params;
}

const float *
mlp_grads(const mlp *m, size_t *n)
{
	if (n)
		*n = m->nparams;
	return m->grads;
}

float *
mlp_optim_state(mlp *m, size_t *n)
{
	if (n)
		*n = m->nstate;
	return m->state;
}

const float *
mlp_optim_state_const(const mlp *m, size_t *n)
{
	if (n)
		*n = m->nstate;
	return m->state;
}

void
mlp_reset_optim(mlp *m)
{
	if (m->nstate)
		memset(m->state, 0, m->nstate * sizeof(float));
}

float *
mlp_weights(mlp *m, uint32_t l)
{
	m->finite = -1;
	return l < m->spec.n_layers ? m->params + m->w_off[l] : NULL;
}

float *
mlp_biases(mlp *m, uint32_t l)
{
	m->finite = -1;
	return l < m->spec.n_layers ? m->params + m->b_off[l] : NULL;
}

const float *
mlp_grad_weights(const mlp *m, uint32_t l)
{
	return l < m->spec.n_layers ? m->grads + m->w_off[l] : NULL;
}

const float *
mlp_grad_biases(const mlp *m, uint32_t l)
{
	return l < m->spec.n_layers ? m->grads + m->b_off[l] : NULL;
}

static uint32_t
max_width(const mlp_spec *s)
{
	uint32_t w = 0;

	for (uint32_t l = 1; l <= s->n_layers; l++)
		if (s->sizes[l] > w)
			w = s->sizes[l];
	return w;
}

/* Floats of scratch for n rows: activations, two deltas, ones; 0 when the
 * product would not fit in memory at all. */
static size_t
scratch_floats(const mlp_spec *s, size_t n)
{
	size_t widths = 2 * (size_t)max_width(s) + 1;

	for (uint32_t l = 1; l <= s->n_layers; l++)
		widths += s->sizes[l];
	/* widths <= 19 * 2^16 and n <= 2^20: fits easily in 64 bits */
	return widths * n;
}

/* Points act[], delta[] and ones into a scratch block of n rows. */
static void
carve(const mlp_spec *s, float *base, size_t n, float **act, float **delta,
      float **ones)
{
	float *p = base;
	size_t mw = max_width(s);

	for (uint32_t l = 1; l <= s->n_layers; l++) {
		act[l] = p;
		p += n * s->sizes[l];
	}
	if (delta) {
		delta[0] = p;
		p += n * mw;
		delta[1] = p;
		p += n * mw;
	}
	if (ones) {
		*ones = p;
		for (size_t i = 0; i < n; i++)
			p[i] = 1.0f;
	}
}

static int
ensure_scratch(mlp *m, size_t n, fault *f)
{
	float *p;

	if (n <= m->cap)
		return 0;
	p = malloc(scratch_floats(&m->spec, n) * sizeof(float));
	if (p == NULL)
		return fault_set(f, FAULT_NOMEM,
		    "out of memory for a batch of %zu rows", n);
	free(m->scratch);
	m->scratch = p;
	m->cap = n;
	carve(&m->spec, p, n, m->act, m->delta, &m->ones);
	return 0;
}

void
mlp_trim(mlp *m, size_t max_bytes)
{
	if (m->scratch == NULL ||
	    scratch_floats(&m->spec, m->cap) * sizeof(float) <= max_bytes)
		return;
	free(m->scratch);
	m->scratch = NULL;
	m->cap = 0; /* act[], delta[] and ones are carved again before use */
}

/* True when every v[i] is finite: an OR over exponent bits that the
 * compiler vectorizes (no early exit), so the check costs little beside
 * the products (O3 here: gcc's -O2 cost model leaves it scalar); the
 * slow loop only runs to name the first bad entry. */
#if defined(__GNUC__) && !defined(__clang__)
#define VECTORIZE __attribute__((optimize("O3")))
#else
#define VECTORIZE
#endif

/* Built for AVX-512 F, AVX2 and the base ISA, chosen at load time by the
 * CPU (gcc's target_clones): after a fused step (every step of the
 * trainer) the owner's mlp_params_finite scans all the weights, and with
 * SSE2 alone that scan was about 7% of a [784,128,10] step (perf).
 * Not under ThreadSanitizer: the clones' ifunc resolver is instrumented
 * and runs while the dynamic loader relocates, before TSan's runtime is
 * up, and every program crashed at load (SIGSEGV in the resolver). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__)
#define WIDE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WIDE_CLONES
#endif

VECTORIZE WIDE_CLONES static int
all_finite(const float *v, size_t n)
{
	uint32_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t u;

		memcpy(&u, &v[i], sizeof u);
		bad |= (u & 0x7f800000u) == 0x7f800000u;
	}
	return !bad;
}

int
mlp_params_finite(const mlp *m)
{
	if (m->finite >= 0)
		return m->finite;
	return all_finite(m->params, m->nparams);
}

static size_t
first_nonfinite(const float *v, size_t n)
{
	size_t i = 0;

	while (i < n && isfinite(v[i]))
		i++;
	return i;
}

int
mlp_check_batch(const mlp_spec *s, const float *x, const float *y,
		size_t n, fault *f)
{
	if (n < 1 || n > MLP_MAX_BATCH)
		return fault_set(f, FAULT_INVALID,
		    "a batch must have between 1 and %u rows, got %zu",
		    MLP_MAX_BATCH, n);
	if (x == NULL)
		return fault_set(f, FAULT_INVALID, "no inputs given");
	return mlp_check_data(s, x, y, n, f);
}

int
mlp_check_data(const mlp_spec *s, const float *x, const float *y, size_t n,
	       fault *f)
{
	size_t n0 = s->sizes[0], nl = s->sizes[s->n_layers], i;

	if (!all_finite(x, n * n0)) {
		i = first_nonfinite(x, n * n0);
		return fault_set(f, FAULT_NONFINITE,
		    "inputs[%zu][%zu] is not a finite number", i / n0, i % n0);
	}
	if (y == NULL || all_finite(y, n * nl))
		return 0;
	i = first_nonfinite(y, n * nl);
	return fault_set(f, FAULT_NONFINITE,
	    "targets[%zu][%zu] is not a finite number", i / nl, i % nl);
}

/* Forward over n rows from x into act[1..L] using params p. */
static void
forward(const mlp_spec *s, const float *p, const size_t *w_off,
	const size_t *b_off, const float *x, size_t n, float **act)
{
	const float *in = x;

	for (uint32_t l = 0; l < s->n_layers; l++) {
		int ni = (int)s->sizes[l], no = (int)s->sizes[l + 1];
		float *out = act[l + 1];

		for (size_t r = 0; r < n; r++)
			memcpy(out + r * no, p + b_off[l], no * sizeof(float));
		gemm_run(0, 1, (int)n, no, ni, 1.0f, in, ni, p + w_off[l], ni,
		    1.0f, out, no);
		act_forward(s->act[l], out, n, (size_t)no);
		in = out;
	}
}

/* Batch loss of outputs a (n x k) against y. */
static double
batch_loss(const mlp_spec *s, const float *a, const float *y, size_t n)
{
	size_t k = s->sizes[s->n_layers], total = n * k;
	double sum = 0.0;

	if (s->loss == MLP_LOSS_CROSS_ENTROPY) {
		for (size_t i = 0; i < total; i++)
			if (y[i] != 0.0f)
				sum -= (double)y[i] *
				    log(a[i] > 1e-37f ? (double)a[i] : 1e-37);
		return sum / (double)n;
	}
	for (size_t i = 0; i < total; i++) {
		double d = (double)a[i] - (double)y[i];

		sum += d * d;
	}
	return sum / (double)total;
}

/* D_L from outputs a and targets y (see the header comment). */
static void
output_delta(const mlp_spec *s, const float *a, const float *y, size_t n,
	     float *d)
{
	size_t k = s->sizes[s->n_layers], total = n * k;

	if (s->loss == MLP_LOSS_CROSS_ENTROPY) {
		float inv = 1.0f / (float)n;

		for (size_t r = 0; r < n; r++) {
			const float *yr = y + r * k;
			const float *ar = a + r * k;
			float ysum = 0.0f;

			for (size_t c = 0; c < k; c++)
				ysum += yr[c];
			for (size_t c = 0; c < k; c++)
				d[r * k + c] = (ar[c] * ysum - yr[c]) * inv;
		}
		return;
	}
	{
		float scale = 2.0f / (float)total;

		for (size_t i = 0; i < total; i++)
			d[i] = scale * (a[i] - y[i]);
		act_backward(s->act[s->n_layers - 1], a, d, total);
	}
}

/* mlp_gradients once x and y are known finite and n in range. */
static int
gradients(mlp *m, const float *x, const float *y, size_t n, float *loss,
	  fault *f)
{
	const mlp_spec *s = &m->spec;
	uint32_t L = s->n_layers;
	int cur = 0;

	if (ensure_scratch(m, n, f) < 0)
		return -1;
	forward(s, m->params, m->w_off, m->b_off, x, n, m->act);
	if (loss)
		*loss = (float)batch_loss(s, m->act[L], y, n);
	output_delta(s, m->act[L], y, n, m->delta[cur]);
	for (uint32_t l = L; l-- > 0;) {
		int ni = (int)s->sizes[l], no = (int)s->sizes[l + 1];
		const float *in = l == 0 ? x : m->act[l];
		float *d = m->delta[cur];

		gemm_run(1, 0, no, ni, (int)n, 1.0f, d, no, in, ni, 0.0f,
		    m->grads + m->w_off[l], ni);
		cblas_sgemv(CblasRowMajor, CblasTrans, (int)n, no, 1.0f, d, no,
		    m->ones, 1, 0.0f, m->grads + m->b_off[l], 1);
		if (l == 0)
			break;
		gemm_run(0, 0, (int)n, ni, no, 1.0f, d, no,
		    m->params + m->w_off[l], ni, 0.0f, m->delta[1 - cur], ni);
		cur = 1 - cur;
		act_backward(s->act[l - 1], m->act[l], m->delta[cur],
		    n * (size_t)ni);
	}
	return 0;
}

int
mlp_gradients(mlp *m, const float *x, const float *y, size_t n,
	      float *loss, fault *f)
{
	if (y == NULL)
		return fault_set(f, FAULT_INVALID, "no targets given");
	if (mlp_check_batch(&m->spec, x, y, n, f) < 0)
		return -1;
	return gradients(m, x, y, n, loss, f);
}

int
mlp_apply(mlp *m, float lr, fault *f)
{
	if (!(isfinite(lr) && lr > 0.0f))
		return fault_set(f, FAULT_INVALID,
		    "learning_rate must be a finite number > 0");
	m->step++;
	m->finite = optim_update(&m->spec.opt, lr, m->step, m->params,
	    m->grads, m->state, m->nparams);
	return 0;
}

/* One step; checked says x and y are known finite. */
static int
train_step(mlp *m, const float *x, const float *y, size_t n, float lr,
	   float *loss, int checked, fault *f)
{
	float l;

	if (lr <= 0.0f)
		lr = m->spec.opt.lr;
	if (!isfinite(lr))
		return fault_set(f, FAULT_INVALID,
		    "learning_rate must be a finite number > 0");
	if (checked) {
		if (x == NULL || y == NULL || n < 1 || n > MLP_MAX_BATCH)
			return fault_set(f, FAULT_INVALID,
			    "a checked batch needs inputs, targets and 1 to "
			    "%u rows", MLP_MAX_BATCH);
		if (gradients(m, x, y, n, &l, f) < 0)
			return -1;
	} else if (mlp_gradients(m, x, y, n, &l, f) < 0) {
		return -1;
	}
	if (loss)
		*loss = l;
	if (!isfinite(l))
		return fault_set(f, FAULT_DIVERGED,
		    "diverged at step %llu: the loss is not finite",
		    (unsigned long long)m->step + 1);
	return mlp_apply(m, lr, f);
}

/* b += a * (column sums of d, n x k), the sums left in g (the bias
 * gradient): the bias half of a fused step, one pass over d. */
VECTORIZE static void
bias_update(float *b, float *g, const float *d, size_t n, size_t k, float a)
{
	memcpy(g, d, k * sizeof(float));
	for (size_t r = 1; r < n; r++)
		for (size_t c = 0; c < k; c++)
			g[c] += d[r * k + c];
	for (size_t c = 0; c < k; c++)
		b[c] = __builtin_fmaf(a, g[c], b[c]);
}

/*
 * One plain-SGD step with the update folded into the products: per layer,
 * from the top, the delta for the layer below is taken first (it needs
 * W_l as it was), then W_l += (-lr) D_l^T A_(l-1) is one sgemm with beta 1
 * writing W_l itself (no gradient matrix, no zeroing of one, no separate
 * update pass), and b_l += (-lr) D_l^T 1 one pass over D_l. The same
 * products and the same update as gradients() then optim_update, up to
 * where the BLAS kernel rounds alpha * sum + w (once with FMA kernels).
 */
static int
fused_step(mlp *m, const float *x, const float *y, size_t n, float lr,
	   float *loss, fault *f)
{
	const mlp_spec *s = &m->spec;
	uint32_t L = s->n_layers;
	int cur = 0;
	float l0;

	if (ensure_scratch(m, n, f) < 0)
		return -1;
	forward(s, m->params, m->w_off, m->b_off, x, n, m->act);
	l0 = (float)batch_loss(s, m->act[L], y, n);
	if (loss)
		*loss = l0;
	if (!isfinite(l0))
		return fault_set(f, FAULT_DIVERGED,
		    "diverged at step %llu: the loss is not finite",
		    (unsigned long long)m->step + 1);
	output_delta(s, m->act[L], y, n, m->delta[cur]);
	for (uint32_t l = L; l-- > 0;) {
		int ni = (int)s->sizes[l], no = (int)s->sizes[l + 1];
		const float *in = l == 0 ? x : m->act[l];
		const float *d = m->delta[cur];
		float *w = m->params + m->w_off[l];

		if (l > 0)
			gemm_run(0, 0, (int)n, ni, no, 1.0f, d, no, w, ni,
			    0.0f, m->delta[1 - cur], ni);
		gemm_run(1, 0, no, ni, (int)n, -lr, d, no, in, ni, 1.0f, w,
		    ni);
		bias_update(m->params + m->b_off[l], m->grads + m->b_off[l],
		    d, n, (size_t)no, -lr);
		if (l == 0)
			break;
		cur = 1 - cur;
		act_backward(s->act[l - 1], m->act[l], m->delta[cur],
		    n * (size_t)ni);
	}
	m->step++;
	m->finite = -1; /* the BLAS wrote the weights: scan when asked */
	return 0;
}

int
mlp_train_step_fused(mlp *m, const float *x, const float *y, size_t n,
		     float lr, float *loss, fault *f)
{
	if (m->spec.opt.kind != OPTIM_SGD)
		return train_step(m, x, y, n, lr, loss, 1, f);
	if (lr <= 0.0f)
		lr = m->spec.opt.lr;
	if (!isfinite(lr))
		return fault_set(f, FAULT_INVALID,
		    "learning_rate must be a finite number > 0");
	if (x == NULL || y == NULL || n < 1 || n > MLP_MAX_BATCH)
		return fault_set(f, FAULT_INVALID,
		    "a checked batch needs inputs, targets and 1 to %u rows",
		    MLP_MAX_BATCH);
	return fused_step(m, x, y, n, lr, loss, f);
}

int
mlp_train_step(mlp *m, const float *x, const float *y, size_t n, float lr,
	       float *loss, fault *f)
{
	return train_step(m, x, y, n, lr, loss, 0, f);
}

int
mlp_train_step_checked(mlp *m, const float *x, const float *y, size_t n,
		       float lr, float *loss, fault *f)
{
	return train_step(m, x, y, n, lr, loss, 1, f);
}

int
mlp_evaluate(mlp *m, const float *x, const float *y, size_t n, float *loss,
	     fault *f)
{
	const mlp_spec *s = &m->spec;

	if (y == NULL)
		return fault_set(f, FAULT_INVALID, "no targets given");
	if (mlp_check_batch(s, x, y, n, f) < 0 || ensure_scratch(m, n, f) < 0)
		return -1;
	forward(s, m->params, m->w_off, m->b_off, x, n, m->act);
	*loss = (float)batch_loss(s, m->act[s->n_layers], y, n);
	return 0;
}

int
mlp_predict(mlp *m, const float *x, size_t n, float *out, fault *f)
{
	const mlp_spec *s = &m->spec;

	if (mlp_check_batch(s, x, NULL, n, f) < 0 ||
	    ensure_scratch(m, n, f) < 0)
		return -1;
	forward(s, m->params, m->w_off, m->b_off, x, n, m->act);
	memcpy(out, m->act[s->n_layers],
	    n * s->sizes[s->n_layers] * sizeof(float));
	return 0;
}

mlp_snapshot *
mlp_snapshot_create(const mlp *m, fault *f)
{
	mlp_snapshot *s;

	s = malloc(sizeof *s + m->nparams * sizeof(float));
	if (s == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory copying the model");
		return NULL;
	}
	atomic_init(&s->refs, 1);
	s->spec = m->spec;
	s->step = m->step;
	s->nparams = m->nparams;
	memcpy(s->w_off, m->w_off, sizeof s->w_off);
	memcpy(s->b_off, m->b_off, sizeof s->b_off);
	memcpy(s->params, m->params, m->nparams * sizeof(float));
	return s;
}

mlp_snapshot *
mlp_snapshot_ref(mlp_snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void
mlp_snapshot_unref(mlp_snapshot *s)
{
	if (s == NULL)
		return;
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		free(s);
}

const mlp_spec *
mlp_snapshot_spec(const mlp_snapshot *s)
{
	return &s->spec;
}

uint64_t
mlp_snapshot_step(const mlp_snapshot *s)
{
	return s->step;
}

const float *
mlp_snapshot_params(const mlp_snapshot *s, size_t *n)
{
	if (n)
		*n = s->nparams;
	return s->params;
}

int
mlp_snapshot_predict(const mlp_snapshot *s, const float *x, size_t n,
		     float *out, fault *f)
{
	float *act[MLP_MAX_LAYERS + 1];
	size_t floats;
	float *buf;

	if (mlp_check_batch(&s->spec, x, NULL, n, f) < 0)
		return -1;
	floats = 0;
	for (uint32_t l = 1; l <= s->spec.n_layers; l++)
		floats += n * s->spec.sizes[l];
	buf = malloc(floats * sizeof(float));
	if (buf == NULL)
		return fault_set(f, FAULT_NOMEM,
		    "out of memory for a batch of %zu rows", n);
	carve(&s->spec, buf, n, act, NULL, NULL);
	forward(&s->spec, s->params, s->w_off, s->b_off, x, n, act);
	memcpy(out, act[s->spec.n_layers],
	    n * s->spec.sizes[s->spec.n_layers] * sizeof(float));
	free(buf);
	return 0;
}

void
mlp_blas_threads(int n)
{
	openblas_set_num_threads(n < 1 ? 1 : n);
	gemm_threads(n);
}

double
mlp_train_flops(const mlp_spec *s, size_t n)
{
	double fl = 0.0;

	for (uint32_t l = 0; l < s->n_layers; l++) {
		double w = (double)s->sizes[l] * s->sizes[l + 1];

		fl += 2.0 * w * n;           /* forward product */
		fl += 2.0 * w * n;           /* weight gradient */
		if (l > 0)
			fl += 2.0 * w * n;   /* delta to the layer below */
		fl += 2.0 * w;               /* sgd update, per weight */
	}
	return fl;
}
