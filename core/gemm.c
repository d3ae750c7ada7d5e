/*
 * gemm: dnnl_sgemm where oneDNN was built in, cblas_sgemm otherwise
 * (gemm.h).
 *
 * DESIGN (threads): the choice (MLPD_GEMM, read once) and the thread
 * count are process-wide atomics; OpenMP's thread count is a per-thread
 * setting, so each thread remembers the count it last gave OpenMP
 * (a thread-local) and sets it again when the process-wide one moved.
 * No lock: every call reads two atomics.
 */
#include "gemm.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconf.h" /* MLPD_HAVE_DNNL */

#ifdef MLPD_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

static atomic_int forced;          /* gemm_force_blas */
static atomic_int threads = 1;     /* gemm_threads */

#ifdef MLPD_HAVE_DNNL
enum { CHOICE_UNREAD, CHOICE_DNNL, CHOICE_BLAS };

static atomic_int choice;          /* CHOICE_*: MLPD_GEMM, read once */

static int
chosen(void)
{
	int c = atomic_load_explicit(&choice, memory_order_relaxed);

	if (c == CHOICE_UNREAD) {
		const char *env = getenv("MLPD_GEMM");

		c = env != NULL && strcmp(env, "openblas") == 0 ?
		    CHOICE_BLAS : CHOICE_DNNL;
		atomic_store_explicit(&choice, c, memory_order_relaxed);
	}
	if (atomic_load_explicit(&forced, memory_order_relaxed))
		return CHOICE_BLAS;
	return c;
}

/* This thread's OpenMP thread count, as last set here (0: never). */
static _Thread_local int omp_set;

static int
run_dnnl(int ta, int tb, int m, int n, int k, float alpha, const float *a,
	  int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	int want = atomic_load_explicit(&threads, memory_order_relaxed);

	if (omp_set != want) {
		omp_set_num_threads(want);
		omp_set = want;
	}
	return dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a,
	    lda, b, ldb, beta, c, ldc) == dnnl_success ? 0 : -1;
}
#endif

void
gemm_run(int ta, int tb, int m, int n, int k, float alpha, const float *a,
	 int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
#ifdef MLPD_HAVE_DNNL
	if (chosen() == CHOICE_DNNL && run_dnnl(ta, tb, m, n, k, alpha, a,
	    lda, b, ldb, beta, c, ldc) == 0)
		return;
#endif
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
	    tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb,
	    beta, c, ldc);
}

#ifdef MLPD_HAVE_DNNL
static char dnnl_name[40];
static pthread_once_t dnnl_named = PTHREAD_ONCE_INIT;

static void
name_dnnl(void)
{
	const dnnl_version_t *v = dnnl_version();

	snprintf(dnnl_name, sizeof dnnl_name, "oneDNN %d.%d.%d", v->major,
	    v->minor, v->patch);
}
#endif

const char *
gemm_name(void)
{
#ifdef MLPD_HAVE_DNNL
	if (chosen() == CHOICE_DNNL) {
		pthread_once(&dnnl_named, name_dnnl);
		return dnnl_name;
	}
#endif
	return "OpenBLAS";
}

void
gemm_threads(int n)
{
	atomic_store(&threads, n < 1 ? 1 : n);
}

void
gemm_force_blas(int on)
{
	atomic_store(&forced, on != 0);
}
