/*
 * gemm: the one matrix product every batch of the core goes through.
 *
 * C = alpha op(A) op(B) + beta C on row-major float matrices, with the
 * arguments of cblas_sgemm(CblasRowMajor, ...). Where oneDNN (Debian's
 * libdnnl) was found at build time it runs oneDNN's dnnl_sgemm, whose
 * JIT kernels use the CPU's widest vectors whatever kernel set OpenBLAS
 * loaded (bench_core's five shapes of [784, 128, 10] at batch 64: 162
 * GFLOP/s, against OpenBLAS's 83 with OPENBLAS_CORETYPE=Haswell and 140
 * with its AVX-512 set, on the Zen 5 EPYC of the README's figures);
 * otherwise, or with MLPD_GEMM=openblas in the environment (valgrind's
 * memcheck cannot follow oneDNN's JIT code), OpenBLAS's cblas_sgemm. A
 * call oneDNN refuses runs through cblas_sgemm instead. Both round
 * differently, within float precision; one build with one choice gives
 * the same bits every run.
 *
 * Threads: oneDNN runs on OpenMP; each calling thread sets its own
 * OpenMP thread count on its first product (and again after
 * gemm_threads), so a trainer's product stays on its trainer's thread as
 * OpenBLAS's does (mlp_blas_threads sets both). Safe from any number of
 * threads at once.
 */
#ifndef MLPD_GEMM_H
#define MLPD_GEMM_H

/* op(A) is A, or A transposed when ta; likewise op(B). m x k times
 * k x n into m x n. */
void gemm_run(int ta, int tb, int m, int n, int k, float alpha,
	      const float *a, int lda, const float *b, int ldb, float beta, float *c,
	      int ldc);

/* The library the products run in: "oneDNN 2.6.3" or "OpenBLAS". */
const char *gemm_name(void);

/* Threads per product for oneDNN (n >= 1; default 1). */
void gemm_threads(int n);

/* For tests: 1 runs every product through cblas_sgemm, 0 back to the
 * build's choice (and MLPD_GEMM's). */
void gemm_force_blas(int on);

#endif
