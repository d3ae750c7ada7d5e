/*
 * bench_core: how fast core/ trains, next to its own roofline and to FANN.
 *
 * Trains a [784, 128, 10] sigmoid / MSE / SGD net (shape and batch are
 * options) on Fashion-MNIST when the Debian package dataset-fashion-mnist
 * is installed, else on synthetic data from a seeded generator, and in the
 * same run measures:
 *   - mlpd: samples/s and GFLOP/s (mlp_train_flops) of
 *     mlp_train_step_fused and mlp_params_finite (the daemon trainer's
 *     step) on consecutive minibatches;
 *   - sgemm: GFLOP/s of bare products (gemm_run: oneDNN's dnnl_sgemm
 *     where built in, else cblas_sgemm, as the step's) with exactly the
 *     shapes and arguments one training step multiplies (forward A_l W_l^T per layer,
 *     backward D_l W_l, then W_l += -lr D_l^T A_l with beta 1: the fused
 *     step's weight update, so since that step this baseline times the
 *     update inside the products too), the roofline the training can at
 *     best reach;
 *   - FANN 2.2 (when built with HAVE_FANN): the same net, same initial
 *     weights and same data, incremental and batch backpropagation, in
 *     samples/s;
 *   - PyTorch on one thread (when Debian's python3-torch is installed):
 *     the same shape, rate, batch and row count in
 *     tests/bench/bench_torch.py, a child process asked over a pipe for
 *     each of its slices and timing them itself (the pipe's latency is not
 *     PyTorch's). It pins OpenBLAS to one thread before importing torch:
 *     torch.set_num_threads(1) does not reach Debian's OpenBLAS, whose
 *     second thread made PyTorch 2-4x slower on a busy machine and faster
 *     on an idle one, so the ratio swung from 1.8 to 4.
 *     bench_core first calls blas_tune_exec as mlpd does; when that chose
 *     OpenBLAS's AVX-512 kernels (it re-executed with OPENBLAS_CORETYPE
 *     set), PyTorch runs twice: as Debian ships it (the variable removed
 *     for its child: ratio_vs_torch) and with the same kernels as mlpd
 *     (ratio_vs_torch_same_blas). Otherwise the child inherits the
 *     environment as it is and the two ratios are the same run's.
 * The runs are interleaved in ROUNDS short slices, so that they all see the
 * same background load; each figure is the median over the slices with
 * [min - max] after it, ratios are taken slice by slice within a round,
 * and the ratio to PyTorch is also given per CPU second (the time each
 * side waited for a core left out). Each run's cpu/wall is printed as a
 * hint of how busy the machine was (about 1.00 with one thread on an idle
 * machine). It prints a short report and, as its last line, one
 * machine-readable
 *   samples_per_s=N gflops=N pct_of_sgemm=N ratio_vs_fann=N
 *   ratio_vs_torch=N ratio_vs_torch_cpu=N pct_of_sgemm_range=LO..HI
 *   ratio_vs_torch_range=LO..HI samples_per_cpu_s=N pct_of_sgemm_cpu=N
 *   blas_core=NAME blas_choice=WORD ratio_vs_torch_same_blas=N
 *   ratio_vs_torch_same_blas_cpu=N
 * It measures and never judges: the exit status is non-zero only for a bad
 * option, unreadable data that was asked for, or a training fault.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, sysconf */

#ifdef HAVE_CONFIG_H
#include "autoconf.h" /* HAVE_FANN, from configure */
#endif

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_FANN
#include <floatfann.h> /* fann_type is float */
#endif

#include "blas_tune.h"
#include "gemm.h"
#include "idx.h"
#include "mlp.h"
#include "peer_torch.h"

#define EVAL_MAX 1024          /* samples in the before/after loss check */
#define WARMUP_MAX_S 0.25      /* untimed warm-up before each measurement */
#define ROUNDS 10              /* interleaved slices per run */
#define DEFAULT_SECONDS 3.0
#define DEFAULT_FANN_SECONDS 2.0
#define DEFAULT_SAMPLES 60000
/* Debian's python3-torch is for its own python, not one earlier on PATH */
#define DEFAULT_PYTHON "/usr/bin/python3"
#ifndef BENCH_TORCH_SCRIPT
#define BENCH_TORCH_SCRIPT "tests/bench/bench_torch.py"
#endif

typedef struct bench_opts {
	uint32_t n_layers;                  /* weight layers */
	uint32_t sizes[MLP_MAX_LAYERS + 1]; /* N0..NL */
	size_t batch;
	double seconds;      /* each of the mlpd and sgemm runs */
	double fann_seconds; /* each FANN run; < 0 until chosen, 0 skips */
	double torch_seconds; /* the PyTorch run; likewise */
	const char *python;   /* runs tests/bench/bench_torch.py */
	int threads;         /* OpenBLAS threads */
	int synthetic;       /* force synthetic data */
	const char *data_dir;
	int data_given; /* --data was passed: failing to load is an error */
	size_t samples; /* cap on samples used (0: all of the data set) */
	uint64_t seed;
} bench_opts;

/* One timed run. */
typedef struct bench_run {
	uint64_t steps;    /* minibatches (or sgemm rounds) done */
	double rate[ROUNDS]; /* steps/s of each timed slice, round by round */
	double crate[ROUNDS]; /* steps per CPU second of the same slices */
	int slices;        /* entries of rate[] filled */
	double elapsed;    /* wall seconds */
	double cpu;        /* process CPU seconds over the same slices */
	double per_s;      /* samples/s */
	double gflops;     /* achieved */
	double loss_start; /* on the evaluation rows, before warm-up */
	double loss_end;   /* same rows, after the timed run */
	int done;          /* the run happened and its figures are valid */
} bench_run;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (every OpenBLAS thread included). */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double
min_d(double a, double b)
{
	return a < b ? a : b;
}

/* Rows of the before/after loss check: the first EVAL_MAX samples. */
static size_t
eval_rows(const idx_dataset *d)
{
	return d->n < EVAL_MAX ? d->n : EVAL_MAX;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
		"usage: bench_core [options]\n"
		"  --layers N0,N1,..   layer sizes (default 784,128,10)\n"
		"  --batch N           minibatch rows (default 64)\n"
		"  --seconds S         time for mlpd and for sgemm (default "
		"%g)\n"
		"  --fann-seconds S    time for each FANN run (default min(%g, "
		"S); 0 skips)\n"
		"  --torch-seconds S   time for the PyTorch run (default min(%g, "
		"S); 0 skips)\n"
		"  --python PATH       python with torch (default %s)\n"
		"  --threads N         OpenBLAS threads (default 1)\n"
		"  --synthetic         use synthetic data even if "
		"Fashion-MNIST is installed\n"
		"  --data DIR          Fashion-MNIST directory (default %s)\n"
		"  --samples N         use at most N samples (default %d; 0 = "
		"all)\n"
		"  --seed N            seed of the net and synthetic data "
		"(default 1)\n"
		"  --help\n",
		DEFAULT_SECONDS, DEFAULT_FANN_SECONDS, DEFAULT_FANN_SECONDS,
		DEFAULT_PYTHON, IDX_FASHION_DIR,
		DEFAULT_SAMPLES);
}

/* Parses an unsigned decimal in [lo, hi]; 0 or -1. */
static int
parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

/* Parses finite seconds in [0, 86400]; 0 or -1. */
static int
parse_seconds(const char *s, double *v)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(x) ||
	    x < 0 || x > 86400)
		return -1;
	*v = x;
	return 0;
}

/* "784,128,10" into o->sizes and o->n_layers; 0 or -1 (empty fields,
 * signs and out-of-range sizes are refused). */
static int
parse_layers(const char *s, bench_opts *o)
{
	unsigned long long v;
	uint32_t n = 0;
	char *end;

	for (;;) {
		if (*s < '0' || *s > '9' || n > MLP_MAX_LAYERS)
			return -1;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno != 0 || v < 1 || v > MLP_MAX_WIDTH)
			return -1;
		o->sizes[n++] = (uint32_t)v;
		if (*end == '\0')
			break;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
	if (n < 2)
		return -1;
	o->n_layers = n - 1;
	return 0;
}

/* Fills opts from argv; 0, or -1 after printing why (exit 2). 1 for
 * --help. */
static int
parse_args(int argc, char **argv, bench_opts *o)
{
	enum { O_LAYERS = 256, O_BATCH, O_SECONDS, O_FANN_SECONDS, O_THREADS,
	       O_SYNTHETIC, O_DATA, O_SAMPLES, O_SEED, O_TORCH_SECONDS,
	       O_PYTHON, O_HELP };
	static const struct option longopts[] = {
		{ "layers", required_argument, NULL, O_LAYERS },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "fann-seconds", required_argument, NULL, O_FANN_SECONDS },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "synthetic", no_argument, NULL, O_SYNTHETIC },
		{ "data", required_argument, NULL, O_DATA },
		{ "samples", required_argument, NULL, O_SAMPLES },
		{ "seed", required_argument, NULL, O_SEED },
		{ "torch-seconds", required_argument, NULL, O_TORCH_SECONDS },
		{ "python", required_argument, NULL, O_PYTHON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	parse_layers("784,128,10", o);
	o->batch = 64;
	o->seconds = DEFAULT_SECONDS;
	o->fann_seconds = -1;
	o->torch_seconds = -1;
	o->python = DEFAULT_PYTHON;
	o->threads = 1;
	o->data_dir = IDX_FASHION_DIR;
	o->samples = DEFAULT_SAMPLES;
	o->seed = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_LAYERS:
			if (parse_layers(optarg, o) != 0)
				goto bad;
			break;
		case O_BATCH:
			if (parse_u64(optarg, 1, MLP_MAX_BATCH, &v) != 0)
				goto bad;
			o->batch = v;
			break;
		case O_SECONDS:
			if (parse_seconds(optarg, &o->seconds) != 0 ||
			    o->seconds <= 0)
				goto bad;
			break;
		case O_FANN_SECONDS:
			if (parse_seconds(optarg, &o->fann_seconds) != 0)
				goto bad;
			break;
		case O_THREADS:
			if (parse_u64(optarg, 1, 1024, &v) != 0)
				goto bad;
			o->threads = (int)v;
			break;
		case O_SYNTHETIC:
			o->synthetic = 1;
			break;
		case O_DATA:
			o->data_dir = optarg;
			o->data_given = 1;
			break;
		case O_SAMPLES:
			if (parse_u64(optarg, 0, SIZE_MAX, &v) != 0)
				goto bad;
			o->samples = v;
			break;
		case O_SEED:
			if (parse_u64(optarg, 0, UINT64_MAX, &v) != 0)
				goto bad;
			o->seed = v;
			break;
		case O_TORCH_SECONDS:
			if (parse_seconds(optarg, &o->torch_seconds) != 0)
				goto bad;
			break;
		case O_PYTHON:
			o->python = optarg;
			break;
		case O_HELP:
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_core: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return -1;
	}
	if (o->fann_seconds < 0)
		o->fann_seconds = min_d(DEFAULT_FANN_SECONDS, o->seconds);
	if (o->torch_seconds < 0)
		o->torch_seconds = min_d(DEFAULT_FANN_SECONDS, o->seconds);
	return 0;
bad:
	fprintf(stderr, "bench_core: bad value '%s' for --%s\n", optarg,
		longopts[c - O_LAYERS].name);
	usage(stderr);
	return -1;
}

/* n samples of n_out classes: each class has a random prototype in
 * [0, 1)^n_in and a sample is half its prototype, half uniform noise, with
 * the class one-hot as target. Learnable, and shaped like pixel data. */
static int
make_synthetic(idx_dataset *d, size_t n, size_t n_in, size_t n_out,
	       uint64_t seed, fault *f)
{
	float *proto;
	size_t i, j, c;
	rng r;

	if (idx_dataset_alloc(d, n, n_in, n_out, f) != 0)
		return -1;
	if (n_in > SIZE_MAX / sizeof(float) / n_out ||
	    (proto = malloc(n_out * n_in * sizeof(float))) == NULL) {
		idx_dataset_free(d);
		return fault_set(f, FAULT_NOMEM, "no memory for prototypes");
	}
	rng_seed(&r, seed ^ 0x5eed5eed5eed5eedull);
	for (i = 0; i < n_out * n_in; i++)
		proto[i] = (float)rng_uniform(&r);
	for (i = 0; i < n; i++) {
		c = (size_t)rng_below(&r, n_out);
		for (j = 0; j < n_in; j++)
			d->x[i * n_in + j] = 0.5f * proto[c * n_in + j] +
					     0.5f * (float)rng_uniform(&r);
		d->y[i * n_out + c] = 1.0f;
	}
	free(proto);
	return 0;
}

/* Loads Fashion-MNIST or makes synthetic data, per the options; writes a
 * one-line description into what. */
static int
load_data(const bench_opts *o, idx_dataset *d, char *what, size_t what_size,
	  fault *f)
{
	uint32_t n_in = o->sizes[0], n_out = o->sizes[o->n_layers];
	const char *why;
	size_t n;

	if (o->synthetic) {
		why = "--synthetic";
	} else if (n_in != IDX_FASHION_INPUTS || n_out != IDX_FASHION_CLASSES) {
		if (o->data_given)
			return fault_set(f, FAULT_INVALID,
					 "--layers %u,...,%u do not fit "
					 "Fashion-MNIST (%d -> %d)",
					 n_in, n_out, IDX_FASHION_INPUTS,
					 IDX_FASHION_CLASSES);
		why = "--layers do not fit Fashion-MNIST";
	} else if (idx_fashion_load(o->data_dir, o->samples, d, f) == 0) {
		snprintf(what, what_size,
			 "Fashion-MNIST train set from %s (%zu samples)",
			 o->data_dir, d->n);
		return 0;
	} else if (o->data_given) {
		return -1;
	} else {
		why = f->msg;
	}
	n = o->samples != 0 ? o->samples : DEFAULT_SAMPLES;
	snprintf(what, what_size, "synthetic, seed %llu (%zu samples; %s)",
		 (unsigned long long)o->seed, n, why);
	fault_clear(f);
	return make_synthetic(d, n, n_in, n_out, o->seed, f);
}

/* Writes "OpenBLAS <config>" or the like into buf. */
static void
blas_description(char *buf, size_t size)
{
#ifdef OPENBLAS_VERSION
	snprintf(buf, size, "%s, core %s (chosen by: %s), %d thread(s) in "
		 "use", openblas_get_config(), openblas_get_corename(),
		 blas_tune_state_name(blas_tune_get_state()),
		 openblas_get_num_threads());
#else
	snprintf(buf, size, "unknown CBLAS");
#endif
}

/* The CPU's model name from /proc/cpuinfo, or "unknown". */
static void
cpu_model(char *buf, size_t size)
{
	char line[512], *p;
	FILE *fp;

	snprintf(buf, size, "unknown");
	fp = fopen("/proc/cpuinfo", "r");
	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "model name", 10) != 0)
			continue;
		p = strchr(line, ':');
		if (p == NULL)
			break;
		p += 1 + strspn(p + 1, " \t");
		p[strcspn(p, "\n")] = '\0';
		snprintf(buf, size, "%s", p);
		break;
	}
	fclose(fp);
}

static void
spec_from_opts(const bench_opts *o, mlp_spec *s)
{
	uint32_t l;

	mlp_spec_default(s); /* sigmoid everywhere, mse, sgd lr 0.1 */
	s->n_layers = o->n_layers;
	for (l = 0; l <= o->n_layers; l++)
		s->sizes[l] = o->sizes[l];
	s->seed = o->seed;
}

/* The runs are measured in slices, interleaved round by round (mlpd, sgemm,
 * FANN incremental, FANN batch, then again), so that a change in the
 * machine's background load hits every run alike and the ratios between
 * them stay meaningful on a shared host. */

/* One minibatch (or one step's worth of sgemm calls) of some run. */
typedef int (*bench_step_fn)(void *ctx, fault *f);

/* A whole slice of about secs seconds run elsewhere (the PyTorch child):
 * *steps done in *wall seconds using *cpu seconds of CPU. */
typedef int (*bench_slice_fn)(void *ctx, double secs, uint64_t *steps,
			      double *wall, double *cpu, fault *f);

/* Adds one slice's figures to r (rate[] only for timed rounds). */
static void
add_slice(bench_run *r, uint64_t n, double wall, double cpu)
{
	r->steps += n;
	r->elapsed += wall;
	r->cpu += cpu;
	if (r->slices < ROUNDS) {
		r->crate[r->slices] = cpu > 0 ? (double)n / cpu : 0;
		r->rate[r->slices++] = (double)n / wall;
	}
}

/* Runs step(ctx) until secs of wall time have passed (at least once) and
 * adds the steps, wall and CPU time to r. */
static int
run_slice(bench_step_fn step, void *ctx, double secs, bench_run *r, fault *f)
{
	double t0 = now_s(), c0 = cpu_s(), t;
	uint64_t n = 0;

	do {
		if (step(ctx, f) != 0)
			return -1;
		n++;
		t = now_s();
	} while (t - t0 < secs);
	add_slice(r, n, t - t0, cpu_s() - c0);
	return 0;
}

/* mlpd: mlp_train_step on consecutive minibatches of the data. */
typedef struct mlpd_ctx {
	mlp *m;
	const idx_dataset *d;
	size_t bs; /* batch rows */
	size_t nb; /* whole batches in d */
	size_t k;  /* next batch */
} mlpd_ctx;

static int
mlpd_step(void *ctx, fault *f)
{
	mlpd_ctx *c = ctx;
	const idx_dataset *d = c->d;
	size_t row = c->k * c->bs;
	float loss;

	c->k = (c->k + 1) % c->nb;
	/* as the daemon's trainer does: the data set was checked once, and
	 * the weights are checked after every step */
	if (mlp_train_step_fused(c->m, d->x + row * d->n_in,
				 d->y + row * d->n_out, c->bs, 0, &loss,
				 f) != 0)
		return -1;
	if (!mlp_params_finite(c->m))
		return fault_set(f, FAULT_DIVERGED, "a weight went non-finite");
	return 0;
}

/* sgemm: the bare products of one training step, same shapes, transposes,
 * alpha, beta and order as core/mlp.c's fused step (mlp_train_step_fused:
 * the weight products W_l += -lr D_l^T A_l write the weights with beta 1,
 * each after dA_l = D_l W_l), the input rows taken from the data like
 * training does. One block holds, per layer l, W_l, dW_l (unused since the
 * products write W_l) and D_l, and for l >= 1 the forward output A_l and
 * the backward output dA_l. */
typedef struct sgemm_ctx {
	const idx_dataset *d;
	const uint32_t *s; /* layer sizes N0..NL */
	int L;             /* weight layers */
	size_t bs, nb, k;  /* as in mlpd_ctx */
	float *blk;        /* owned */
	size_t off_w[MLP_MAX_LAYERS], off_dw[MLP_MAX_LAYERS];
	size_t off_d[MLP_MAX_LAYERS];
	size_t off_a[MLP_MAX_LAYERS + 1], off_da[MLP_MAX_LAYERS + 1];
	float lr;   /* the weight products' |alpha|, the model's rate */
	float sign; /* alpha's sign, flipped each step */
} sgemm_ctx;

/* Sizes are bounded by MLP_MAX_WIDTH, MLP_MAX_LAYERS and MLP_MAX_BATCH
 * (checked by mlp_spec_validate and the option parser): no overflow. */
static int
sgemm_init(sgemm_ctx *c, const bench_opts *o, const idx_dataset *d, fault *f)
{
	size_t total = 0, i;
	int l;
	rng g;

	memset(c, 0, sizeof(*c));
	c->d = d;
	c->s = o->sizes;
	c->L = (int)o->n_layers;
	c->bs = o->batch;
	c->nb = d->n / o->batch;
	c->lr = 0.1f;
	c->sign = 1.0f;
	for (l = 0; l < c->L; l++) {
		c->off_w[l] = total;
		total += (size_t)c->s[l + 1] * c->s[l];
		c->off_dw[l] = total;
		total += (size_t)c->s[l + 1] * c->s[l];
		c->off_d[l] = total;
		total += c->bs * c->s[l + 1];
		c->off_a[l + 1] = total;
		total += c->bs * c->s[l + 1];
		c->off_da[l + 1] = total;
		total += c->bs * c->s[l + 1];
	}
	c->blk = malloc(total * sizeof(float));
	if (c->blk == NULL)
		return fault_set(f, FAULT_NOMEM, "no memory for sgemm buffers");
	rng_seed(&g, o->seed);
	for (i = 0; i < total; i++)
		c->blk[i] = (float)(rng_uniform(&g) - 0.5) * 0.1f;
	return 0;
}

static int
sgemm_step(void *ctx, fault *f)
{
	sgemm_ctx *c = ctx;
	const uint32_t *s = c->s;
	const float *a0 = c->d->x + c->k * c->bs * c->d->n_in, *a;
	float *b = c->blk;
	int l, n = (int)c->bs;

	c->k = (c->k + 1) % c->nb;
	for (l = 0; l < c->L; l++) { /* A_(l+1) = A_l W_l^T */
		a = l == 0 ? a0 : b + c->off_a[l];
		gemm_run(0, 1, n, (int)s[l + 1], (int)s[l], 1.0f, a,
			 (int)s[l], b + c->off_w[l], (int)s[l], 0.0f,
			 b + c->off_a[l + 1], (int)s[l + 1]);
	}
	c->sign = -c->sign;
	for (l = c->L - 1; l >= 0; l--) {
		a = l == 0 ? a0 : b + c->off_a[l];
		/* dA_l = D_l W_l, before W_l moves */
		if (l > 0)
			gemm_run(0, 0, n, (int)s[l], (int)s[l + 1], 1.0f,
				 b + c->off_d[l], (int)s[l + 1],
				 b + c->off_w[l], (int)s[l], 0.0f,
				 b + c->off_da[l], (int)s[l]);
		/* W_l += -lr D_l^T A_l, the sign flipped each step so that
		 * the weights stay bounded (same cost) */
		gemm_run(1, 0, (int)s[l + 1], (int)s[l], n, c->sign * c->lr,
			 b + c->off_d[l], (int)s[l + 1], a, (int)s[l], 1.0f,
			 b + c->off_w[l], (int)s[l]);
	}
	return 0;
}

/* FLOPs of the sgemm calls of one training step on a batch of bs. */
static double
gemm_flops(const bench_opts *o, size_t bs)
{
	double fl = 0, mn;
	uint32_t l;

	for (l = 0; l < o->n_layers; l++) {
		mn = 2.0 * bs * o->sizes[l + 1] * o->sizes[l];
		fl += mn;         /* forward A_l W_l^T */
		fl += mn;         /* dW_l = D_l^T A_l */
		if (l > 0)
			fl += mn; /* dA_l = D_l W_l */
	}
	return fl;
}

#ifdef HAVE_FANN
/* FANN: one fann_train_epoch per minibatch over a train-data view whose
 * row pointers point into the shared data (no copies). */
typedef struct fann_ctx {
	struct fann *ann;               /* owned */
	fann_type **xrows, **yrows;     /* owned: one pointer per sample */
	struct fann_train_data view;    /* the current minibatch */
	size_t bs, nb, k;               /* as in mlpd_ctx */
} fann_ctx;

/* Copies m's weights and biases into ann, a fully connected FANN net of the
 * same shape (FANN keeps a bias neuron at the end of every layer and one
 * weight per (neuron, previous-layer neuron) pair). */
static int
fann_copy_weights(struct fann *ann, mlp *m, const bench_opts *o, fault *f)
{
	struct fann_layer *cur, *prev;
	struct fann_neuron *nrn;
	const float *w, *b;
	unsigned int c, i, j, l;

	if ((unsigned int)(ann->last_layer - ann->first_layer) !=
	    o->n_layers + 1)
		return fault_set(f, FAULT_INTERNAL, "FANN layer count differs");
	for (l = 0; l < o->n_layers; l++) {
		prev = ann->first_layer + l;
		cur = prev + 1;
		w = mlp_weights(m, l);
		b = mlp_biases(m, l);
		if (cur->last_neuron - cur->first_neuron !=
		    (long)o->sizes[l + 1] + 1)
			return fault_set(f, FAULT_INTERNAL,
					 "FANN layer %u has %ld neurons", l + 1,
					 (long)(cur->last_neuron -
						cur->first_neuron));
		for (i = 0; i < o->sizes[l + 1]; i++) {
			nrn = cur->first_neuron + i;
			for (c = nrn->first_con; c < nrn->last_con; c++) {
				j = (unsigned int)(ann->connections[c] -
						   prev->first_neuron);
				if (j < o->sizes[l])
					ann->weights[c] = w[(size_t)i *
							    o->sizes[l] + j];
				else if (j == o->sizes[l])
					ann->weights[c] = b[i];
				else
					return fault_set(f, FAULT_INTERNAL,
							 "FANN connection "
							 "outside layer %u",
							 l);
			}
		}
	}
	return 0;
}

/* A FANN copy of init's net (same initial weights) set up for algorithm
 * alg with learning rate lr on the minibatches of d. */
static int
fann_init(fann_ctx *c, const bench_opts *o, mlp *init, const idx_dataset *d,
	  enum fann_train_enum alg, float lr, fault *f)
{
	unsigned int layers[MLP_MAX_LAYERS + 1], l;
	size_t i;

	memset(c, 0, sizeof(*c));
	c->bs = o->batch;
	c->nb = d->n / o->batch;
	for (l = 0; l <= o->n_layers; l++)
		layers[l] = o->sizes[l];
	c->ann = fann_create_standard_array(o->n_layers + 1, layers);
	if (c->ann == NULL)
		return fault_set(f, FAULT_NOMEM, "fann_create_standard failed");
	fann_set_activation_function_hidden(c->ann, FANN_SIGMOID);
	fann_set_activation_function_output(c->ann, FANN_SIGMOID);
	/* FANN's sigmoid is 1 / (1 + exp(-2 s x)): s = 0.5 is mlpd's. */
	fann_set_activation_steepness_hidden(c->ann, 0.5f);
	fann_set_activation_steepness_output(c->ann, 0.5f);
	fann_set_train_error_function(c->ann, FANN_ERRORFUNC_LINEAR);
	fann_set_training_algorithm(c->ann, alg);
	fann_set_learning_rate(c->ann, lr);
	fann_set_learning_momentum(c->ann, 0.0f);
	if (fann_copy_weights(c->ann, init, o, f) != 0)
		return -1;
	c->xrows = malloc(c->nb * c->bs * sizeof(*c->xrows));
	c->yrows = malloc(c->nb * c->bs * sizeof(*c->yrows));
	if (c->xrows == NULL || c->yrows == NULL)
		return fault_set(f, FAULT_NOMEM,
				 "no memory for FANN row pointers");
	for (i = 0; i < c->nb * c->bs; i++) {
		c->xrows[i] = d->x + i * d->n_in;
		c->yrows[i] = d->y + i * d->n_out;
	}
	c->view.num_data = (unsigned int)c->bs;
	c->view.num_input = (unsigned int)d->n_in;
	c->view.num_output = (unsigned int)d->n_out;
	return 0;
}

/* Frees what fann_init made; safe on a zeroed or half-built c. */
static void
fann_fini(fann_ctx *c)
{
	if (c->ann != NULL)
		fann_destroy(c->ann);
	free(c->xrows);
	free(c->yrows);
	memset(c, 0, sizeof(*c));
}

static int
fann_step(void *ctx, fault *f)
{
	fann_ctx *c = ctx;

	c->view.input = c->xrows + c->k * c->bs;
	c->view.output = c->yrows + c->k * c->bs;
	c->k = (c->k + 1) % c->nb;
	fann_train_epoch(c->ann, &c->view);
	if (fann_get_errno((struct fann_error *)c->ann) != FANN_E_NO_ERROR)
		return fault_set(f, FAULT_INTERNAL, "FANN: %s",
				 fann_get_errstr((struct fann_error *)c->ann));
	return 0;
}

/* MSE (mean over outputs, then samples: mlpd's definition) of ann on the
 * first ne rows of d. */
static double
fann_loss(struct fann *ann, const idx_dataset *d, size_t ne)
{
	double sum = 0, e;
	fann_type *out;
	size_t i, j;

	for (i = 0; i < ne; i++) {
		out = fann_run(ann, d->x + i * d->n_in);
		for (j = 0; j < d->n_out; j++) {
			e = out[j] - d->y[i * d->n_out + j];
			sum += e * e;
		}
	}
	return sum / ((double)ne * d->n_out);
}
#endif

/* One interleaved run: step in this process, or slice elsewhere. */
typedef struct bench_task {
	bench_step_fn step;
	bench_slice_fn slice; /* used when step is NULL */
	void *ctx;
	double seconds; /* in total, over all rounds */
	bench_run *r;
} bench_task;

/* One slice of task t into r. */
static int
task_slice(const bench_task *t, double secs, bench_run *r, fault *f)
{
	double wall, cpu;
	uint64_t n;

	if (t->step != NULL)
		return run_slice(t->step, t->ctx, secs, r, f);
	if (t->slice(t->ctx, secs, &n, &wall, &cpu, f) != 0)
		return -1;
	add_slice(r, n, wall, cpu);
	return 0;
}

/* Warms every task up once (first-call costs: page faults, allocator,
 * PyTorch's dispatch caches), then runs ROUNDS rounds of one slice each. */
static int
run_tasks(bench_task *t, int n, fault *f)
{
	bench_run scratch;
	int i, round;

	for (i = 0; i < n; i++) {
		memset(&scratch, 0, sizeof(scratch));
		if (task_slice(&t[i], min_d(WARMUP_MAX_S, t[i].seconds / 10),
			       &scratch, f) != 0)
			return -1;
	}
	for (round = 0; round < ROUNDS; round++)
		for (i = 0; i < n; i++)
			if (task_slice(&t[i], t[i].seconds / ROUNDS, t[i].r,
				       f) != 0)
				return -1;
	for (i = 0; i < n; i++)
		t[i].r->done = 1;
	return 0;
}

/* "784,128,10" */
static void
layers_string(const bench_opts *o, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (uint32_t l = 0; l <= o->n_layers && len < size; l++)
		len += (size_t)snprintf(buf + len, size - len, "%s%u",
					l ? "," : "", o->sizes[l]);
}

static void
print_layers(const bench_opts *o)
{
	char buf[256];

	layers_string(o, buf, sizeof(buf));
	fputs(buf, stdout);
}

/* PyTorch: one slice timed by the child itself. */
static int
torch_slice(void *ctx, double secs, uint64_t *steps, double *wall,
	    double *cpu, fault *f)
{
	if (peer_torch_slice(ctx, secs, steps, wall, cpu) != 0)
		return fault_set(f, FAULT_INTERNAL, "the PyTorch child went away");
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, min and max of v[0..n), n >= 1 (v is reordered). */
typedef struct spread {
	double med, lo, hi;
} spread;

static spread
spread_of(double *v, int n)
{
	spread s;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s.lo = v[0];
	s.hi = v[n - 1];
	return s;
}

/* Spread of a's per-slice rate times ka over b's times kb, paired round
 * by round, so that a change of load between rounds cancels out. */
static spread
paired(const bench_run *a, double ka, const bench_run *b, double kb)
{
	double v[ROUNDS];
	int i, n = a->slices < b->slices ? a->slices : b->slices;

	for (i = 0; i < n; i++)
		v[i] = a->rate[i] * ka / (b->rate[i] * kb);
	return spread_of(v, n);
}

/* The same per CPU second: on a shared machine a single-threaded run's
 * rate per second of its own CPU time does not count the time it waited
 * for a core, which wall rates do, slice by slice, unevenly. */
static spread
paired_cpu(const bench_run *a, double ka, const bench_run *b, double kb)
{
	double v[ROUNDS];
	int i, n = a->slices < b->slices ? a->slices : b->slices;

	for (i = 0; i < n; i++)
		v[i] = b->crate[i] > 0 ? a->crate[i] * ka / (b->crate[i] * kb) :
		    0;
	return spread_of(v, n);
}

/* Spread of r's per-slice rate times k: per second of wall time, or of
 * CPU time with cpu. */
static spread
spread_rate(const bench_run *r, double k, int cpu)
{
	double v[ROUNDS];
	int i;

	for (i = 0; i < r->slices; i++)
		v[i] = (cpu ? r->crate[i] : r->rate[i]) * k;
	return spread_of(v, r->slices);
}

/* Prints the header lines: machine, BLAS, data and net. */
static void
print_setup(const bench_opts *o, const mlp_spec *spec, const char *what)
{
	char cpu[256], blas[512];

	cpu_model(cpu, sizeof(cpu));
	blas_description(blas, sizeof(blas));
	printf("bench_core: mlpd core training throughput\n");
	printf("machine  : %s, nproc %ld\n", cpu,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("blas     : %s (asked for %d)\n", blas, o->threads);
	printf("gemm     : %s (every product of the step and of the sgemm "
	       "baseline)\n", gemm_name());
	printf("data     : %s\n", what);
	printf("net      : ");
	print_layers(o);
	printf(" sigmoid, mse, sgd lr %g, batch %zu: %.2f MFLOP/step "
	       "(sgemm %.2f)\n", spec->opt.lr, o->batch,
	       mlp_train_flops(spec, o->batch) / 1e6,
	       gemm_flops(o, o->batch) / 1e6);
	printf("timing   : %d interleaved rounds, %g s mlpd, %g s sgemm",
	       ROUNDS, o->seconds, o->seconds);
#ifdef HAVE_FANN
	if (o->fann_seconds > 0)
		printf(", %g s each FANN run", o->fann_seconds);
#endif
	if (o->torch_seconds > 0)
		printf(", %g s PyTorch", o->torch_seconds);
	printf("\n");
	fflush(stdout);
}

/* Prints one PyTorch run (label says which) and its ratios to mlpd's;
 * *ratio, *cpu_ratio and range get the figures for the last line. */
static void
report_torch(bench_run *run, bench_run *torch, peer_torch *pt,
	     const char *label, size_t batch, double *ratio, double *cpu_ratio,
	     char *range, size_t range_size)
{
	spread sp, sq;

	sp = spread_rate(torch, (double)batch, 0);
	torch->per_s = sp.med;
	torch->loss_end = peer_torch_loss(pt);
	printf("torch    : %.0f samples/s [%.0f - %.0f] (%s; %s; OpenBLAS "
	       "and torch on 1 thread; random data of the same shape; "
	       "%.2f s, cpu/wall %.2f; loss %.4f -> %.4f)\n",
	       sp.med, sp.lo, sp.hi, pt->what, label, torch->elapsed,
	       torch->cpu / torch->elapsed, torch->loss_start,
	       torch->loss_end);
	sq = paired(run, 1, torch, 1);
	*ratio = sq.med;
	printf("ratio    : mlpd is %.2fx PyTorch (%s) [%.2f - %.2f over %d "
	       "paired slices]\n", sq.med, label, sq.lo, sq.hi,
	       torch->slices);
	snprintf(range, range_size, "%.2f..%.2f", sq.lo, sq.hi);
	sq = paired_cpu(run, 1, torch, 1);
	*cpu_ratio = sq.med;
	printf("ratio    : per CPU second, mlpd is %.2fx PyTorch (%s) [%.2f - "
	       "%.2f]\n", sq.med, label, sq.lo, sq.hi);
}

int
main(int argc, char **argv)
{
	char what[PATH_MAX + 256];
	bench_run run, gemm, finc, fbat, torch, tsame;
	char pct_range[64], torch_range[64] = "NA", same_range[64];
	double tflops, pct, fann_ratio = 0, torch_ratio = 0;
	double torch_cpu_ratio = 0, cpu_per_s, pct_cpu;
	double same_ratio = 0, same_cpu_ratio = 0;
	char label[128] = "environment as given";
	int tuned;
	spread sp, sq;
	bench_task tasks[6];
	char layers[256];
	peer_torch pt, ps;
	idx_dataset data;
	mlpd_ctx mc;
	sgemm_ctx sc;
	mlp_spec spec;
	bench_opts o;
	int rc = 1, nt = 0;
	size_t ne;
	float loss;
	fault f;
#ifdef HAVE_FANN
	fann_ctx fi, fb;
	mlp *init = NULL;
	float lr_b, lr_i;
#endif

	/* first, as in mlpd: may execute again with AVX-512 kernels */
	blas_tune_exec(argv);
	tuned = blas_tune_get_state() == BLAS_TUNE_AUTO;
	memset(&data, 0, sizeof(data));
	memset(&mc, 0, sizeof(mc));
	memset(&sc, 0, sizeof(sc));
	memset(&run, 0, sizeof(run));
	memset(&gemm, 0, sizeof(gemm));
	memset(&finc, 0, sizeof(finc));
	memset(&fbat, 0, sizeof(fbat));
	memset(&torch, 0, sizeof(torch));
	memset(&tsame, 0, sizeof(tsame));
	memset(&pt, 0, sizeof(pt));
	memset(&ps, 0, sizeof(ps));
#ifdef HAVE_FANN
	memset(&fi, 0, sizeof(fi));
	memset(&fb, 0, sizeof(fb));
#endif
	fault_clear(&f);
	switch (parse_args(argc, argv, &o)) {
	case 0:
		break;
	case 1:
		return 0;
	default:
		return 2;
	}
	spec_from_opts(&o, &spec);
	if (mlp_spec_validate(&spec, &f) != 0) {
		fprintf(stderr, "bench_core: %s\n", f.msg);
		return 2;
	}
	mlp_blas_threads(o.threads);
	if (load_data(&o, &data, what, sizeof(what), &f) != 0)
		goto out;
	if (data.n < o.batch) {
		fprintf(stderr, "bench_core: --batch %zu exceeds the %zu "
			"samples\n", o.batch, data.n);
		rc = 2;
		goto out;
	}
	ne = eval_rows(&data);
	if (mlp_check_data(&spec, data.x, data.y, data.n, &f) != 0)
		goto out;
	print_setup(&o, &spec, what);

	mc.d = &data;
	mc.bs = o.batch;
	mc.nb = data.n / o.batch;
	mc.m = mlp_create(&spec, &f);
	if (mc.m == NULL ||
	    mlp_evaluate(mc.m, data.x, data.y, ne, &loss, &f) != 0)
		goto out;
	run.loss_start = loss;
	tasks[nt++] = (bench_task){ mlpd_step, NULL, &mc, o.seconds, &run };
	if (sgemm_init(&sc, &o, &data, &f) != 0)
		goto out;
	tasks[nt++] = (bench_task){ sgemm_step, NULL, &sc, o.seconds, &gemm };
#ifdef HAVE_FANN
	/* mlpd's sample gradient is (2 / NL)(g - y) g (1 - g) averaged over
	 * the batch; FANN's is (g - y) g (1 - g), averaged by batch training
	 * and applied sample by sample by incremental training. These rates
	 * make one minibatch move the weights as far as one mlpd step. */
	lr_b = spec.opt.lr * 2.0f / (float)o.sizes[o.n_layers];
	lr_i = lr_b / (float)o.batch;
	if (o.fann_seconds > 0) {
		init = mlp_create(&spec, &f); /* same seed: same start */
		if (init == NULL ||
		    fann_init(&fi, &o, init, &data, FANN_TRAIN_INCREMENTAL,
			      lr_i, &f) != 0 ||
		    fann_init(&fb, &o, init, &data, FANN_TRAIN_BATCH, lr_b,
			      &f) != 0)
			goto out;
		finc.loss_start = fann_loss(fi.ann, &data, ne);
		fbat.loss_start = fann_loss(fb.ann, &data, ne);
		tasks[nt++] = (bench_task){ fann_step, NULL, &fi, o.fann_seconds,
					    &finc };
		tasks[nt++] = (bench_task){ fann_step, NULL, &fb, o.fann_seconds,
					    &fbat };
	}
#endif
	if (o.torch_seconds > 0) {
		layers_string(&o, layers, sizeof(layers));
		if (peer_torch_start(&pt, o.python, BENCH_TORCH_SCRIPT, layers,
				     o.batch, spec.opt.lr, o.seed, data.n,
				     tuned) == 0) {
			torch.loss_start = peer_torch_loss(&pt);
			tasks[nt++] = (bench_task){ NULL, torch_slice, &pt,
						    o.torch_seconds, &torch };
		}
		/* the same kernels as mlpd: the child keeps the variable */
		if (tuned && pt.pid != 0 &&
		    peer_torch_start(&ps, o.python, BENCH_TORCH_SCRIPT, layers,
				     o.batch, spec.opt.lr, o.seed, data.n,
				     0) == 0) {
			tsame.loss_start = peer_torch_loss(&ps);
			tasks[nt++] = (bench_task){ NULL, torch_slice, &ps,
						    o.torch_seconds, &tsame };
		}
	}
	if (run_tasks(tasks, nt, &f) != 0)
		goto out;
	if (mlp_evaluate(mc.m, data.x, data.y, ne, &loss, &f) != 0)
		goto out;
	run.loss_end = loss;
	/* every figure is the median of the ROUNDS slices, [min - max]
	 * after it; ratios are paired slice by slice (same round, same load) */
	tflops = mlp_train_flops(&spec, o.batch);
	sp = spread_rate(&run, (double)o.batch, 0);
	run.per_s = sp.med;
	run.gflops = spread_rate(&run, tflops / 1e9, 0).med;
	cpu_per_s = spread_rate(&run, (double)o.batch, 1).med;
	printf("mlpd     : %.0f samples/s [%.0f - %.0f], %.0f per CPU second, "
	       "%.2f GFLOP/s (%llu steps in %.2f s, cpu/wall %.2f; loss on "
	       "%zu rows %.4f -> %.4f)\n", sp.med, sp.lo, sp.hi, cpu_per_s,
	       run.gflops,
	       (unsigned long long)run.steps, run.elapsed,
	       run.cpu / run.elapsed, ne, run.loss_start, run.loss_end);
	sp = spread_rate(&gemm, gemm_flops(&o, o.batch) / 1e9, 0);
	gemm.gflops = sp.med;
	sq = paired(&run, tflops, &gemm, gemm_flops(&o, o.batch) / 100);
	pct = sq.med;
	printf("sgemm    : %.2f GFLOP/s [%.2f - %.2f] on the same %u sgemm "
	       "calls per step (%llu steps in %.2f s, cpu/wall %.2f)\n",
	       sp.med, sp.lo, sp.hi, 3 * o.n_layers - 1,
	       (unsigned long long)gemm.steps, gemm.elapsed,
	       gemm.cpu / gemm.elapsed);
	printf("roofline : mlpd reaches %.1f%% [%.1f - %.1f] of sgemm",
	       sq.med, sq.lo, sq.hi);
	snprintf(pct_range, sizeof(pct_range), "%.1f..%.1f", sq.lo, sq.hi);
	sq = paired_cpu(&run, tflops, &gemm, gemm_flops(&o, o.batch) / 100);
	pct_cpu = sq.med;
	printf("; per CPU second %.1f%% [%.1f - %.1f]\n", sq.med, sq.lo,
	       sq.hi);
#ifdef HAVE_FANN
	if (finc.done) {
		finc.per_s = spread_rate(&finc, (double)o.batch, 0).med;
		fbat.per_s = spread_rate(&fbat, (double)o.batch, 0).med;
		finc.loss_end = fann_loss(fi.ann, &data, ne);
		fbat.loss_end = fann_loss(fb.ann, &data, ne);
		printf("fann inc : %.0f samples/s (FANN_TRAIN_INCREMENTAL, lr "
		       "%g; %.2f s, cpu/wall %.2f; loss %.4f -> %.4f)\n",
		       finc.per_s, lr_i, finc.elapsed,
		       finc.cpu / finc.elapsed, finc.loss_start,
		       finc.loss_end);
		printf("fann bat : %.0f samples/s (FANN_TRAIN_BATCH per "
		       "minibatch, lr %g; %.2f s, cpu/wall %.2f; loss %.4f -> "
		       "%.4f)\n", fbat.per_s, lr_b, fbat.elapsed,
		       fbat.cpu / fbat.elapsed, fbat.loss_start,
		       fbat.loss_end);
		fann_ratio = paired(&run, 1, &finc, 1).med;
		printf("ratio    : mlpd is %.1fx FANN incremental, %.1fx FANN "
		       "batch\n", fann_ratio, paired(&run, 1, &fbat, 1).med);
	} else {
		printf("fann     : skipped (--fann-seconds 0)\n");
	}
#else
	printf("fann     : not built in (configure found no libfann)\n");
#endif
	if (torch.done) {
		if (tuned)
			snprintf(label, sizeof(label), "OpenBLAS as Debian ships "
				 "it: OPENBLAS_CORETYPE removed");
		else if (getenv("OPENBLAS_CORETYPE") != NULL)
			snprintf(label, sizeof(label), "OPENBLAS_CORETYPE=%s "
				 "as given, same as mlpd's OpenBLAS",
				 getenv("OPENBLAS_CORETYPE"));
		else
			snprintf(label, sizeof(label), "OpenBLAS's own "
				 "kernel choice, same as mlpd's");
		report_torch(&run, &torch, &pt, label, o.batch, &torch_ratio,
			     &torch_cpu_ratio, torch_range,
			     sizeof(torch_range));
		same_ratio = torch_ratio;
		same_cpu_ratio = torch_cpu_ratio;
		if (tsame.done)
			report_torch(&run, &tsame, &ps, "same kernels as mlpd: "
				     "OPENBLAS_CORETYPE=" BLAS_TUNE_CORETYPE,
				     o.batch, &same_ratio, &same_cpu_ratio,
				     same_range, sizeof(same_range));
	} else {
		printf("torch    : skipped (%s)\n", o.torch_seconds > 0 ?
		       pt.what : "--torch-seconds 0");
	}
	printf("samples_per_s=%.0f gflops=%.2f pct_of_sgemm=%.1f ", run.per_s,
	       run.gflops, pct);
	if (finc.done)
		printf("ratio_vs_fann=%.2f ", fann_ratio);
	else
		printf("ratio_vs_fann=NA ");
	if (torch.done)
		printf("ratio_vs_torch=%.2f ratio_vs_torch_cpu=%.2f ",
		       torch_ratio, torch_cpu_ratio);
	else
		printf("ratio_vs_torch=NA ratio_vs_torch_cpu=NA ");
	printf("pct_of_sgemm_range=%s ratio_vs_torch_range=%s "
	       "samples_per_cpu_s=%.0f pct_of_sgemm_cpu=%.1f ", pct_range,
	       torch_range, cpu_per_s, pct_cpu);
	printf("blas_core=%s blas_choice=%s ", blas_tune_core(),
	       blas_tune_state_name(blas_tune_get_state()));
	if (torch.done && (!tuned || tsame.done))
		printf("ratio_vs_torch_same_blas=%.2f "
		       "ratio_vs_torch_same_blas_cpu=%.2f\n", same_ratio,
		       same_cpu_ratio);
	else
		printf("ratio_vs_torch_same_blas=NA "
		       "ratio_vs_torch_same_blas_cpu=NA\n");
	rc = 0;
out:
	if (rc == 1)
		fprintf(stderr, "bench_core: %s (%s)\n", f.msg,
			fault_code_name(f.code));
#ifdef HAVE_FANN
	fann_fini(&fi);
	fann_fini(&fb);
	mlp_destroy(init);
#endif
	peer_torch_stop(&pt);
	peer_torch_stop(&ps);
	free(sc.blk);
	mlp_destroy(mc.m);
	idx_dataset_free(&data);
	return rc;
}
