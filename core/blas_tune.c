/*
 * blas_tune: sets OPENBLAS_CORETYPE=SkylakeX and re-executes the program
 * when Debian's OpenBLAS would run its AVX2 kernels on an AVX-512 CPU (see
 * blas_tune.h).
 *
 * The re-executed process tells its own variable from a user's by a
 * second variable, MLPD_BLAS_TUNED, set together with it and removed
 * again at once, so it reaches no child process. It never executes again
 * whatever it finds: OPENBLAS_CORETYPE is set by then.
 */
#include "blas_tune.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define TUNED_MARK "MLPD_BLAS_TUNED"

static blas_tune_state state = BLAS_TUNE_DEFAULT;

/* 1 when the CPU and the OS (its saved xsave state) run AVX-512 F, DQ,
 * BW, VL and CD: what OpenBLAS's SkylakeX kernels need. */
static int
cpu_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512dq") &&
	    __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx512cd");
#else
	return 0;
#endif
}

/* 1 when core names one of OpenBLAS's AVX2 kernel sets. */
static int
core_avx2(const char *core)
{
	return strcasecmp(core, "Haswell") == 0 ||
	    strcasecmp(core, "Zen") == 0;
}

int
blas_tune_wanted(const char *coretype, const char *core, int avx512)
{
	return coretype == NULL && core != NULL && core_avx2(core) && avx512;
}

blas_tune_state
blas_tune_classify(const char *coretype, const char *mark)
{
	if (coretype == NULL)
		return BLAS_TUNE_DEFAULT;
	/* ours only when both are there and agree */
	return mark != NULL && strcmp(coretype, BLAS_TUNE_CORETYPE) == 0 ?
	    BLAS_TUNE_AUTO : BLAS_TUNE_USER;
}

void
blas_tune_exec(char **argv)
{
	const char *coretype = getenv("OPENBLAS_CORETYPE");

	state = blas_tune_classify(coretype, getenv(TUNED_MARK));
	unsetenv(TUNED_MARK);
	if (argv == NULL || argv[0] == NULL ||
	    !blas_tune_wanted(coretype, blas_tune_core(), cpu_avx512()))
		return;
	if (setenv("OPENBLAS_CORETYPE", BLAS_TUNE_CORETYPE, 1) < 0 ||
	    setenv(TUNED_MARK, "1", 1) < 0) {
		unsetenv("OPENBLAS_CORETYPE");
		unsetenv(TUNED_MARK);
		return;
	}
	execv("/proc/self/exe", argv);
	/* still here: go on with the kernels loaded */
	unsetenv("OPENBLAS_CORETYPE");
	unsetenv(TUNED_MARK);
	state = BLAS_TUNE_FAILED;
}

blas_tune_state
blas_tune_get_state(void)
{
	return state;
}

const char *
blas_tune_core(void)
{
#ifdef OPENBLAS_VERSION
	const char *core = openblas_get_corename();

	return core != NULL ? core : "unknown";
#else
	return "unknown";
#endif
}

const char *
blas_tune_state_name(blas_tune_state s)
{
	switch (s) {
	case BLAS_TUNE_DEFAULT:
		return "default";
	case BLAS_TUNE_USER:
		return "user";
	case BLAS_TUNE_AUTO:
		return "auto";
	case BLAS_TUNE_FAILED:
		return "failed";
	}
	return "default";
}
