/*
 * blas_shim: an LD_PRELOAD library for tests/blas_tune.sh only. While
 * OPENBLAS_CORETYPE is unset it makes openblas_get_corename answer
 * "Haswell", as an OpenBLAS that maps the CPU to its AVX2 kernels does;
 * once the variable is set it answers what the real OpenBLAS loaded. So
 * mlpd's re-exec (core/blas_tune.c) runs for real on any AVX-512 machine.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

char *openblas_get_corename(void);

char *
openblas_get_corename(void)
{
	static char haswell[] = "Haswell";
	char *(*real)(void);
	void *sym;

	if (getenv("OPENBLAS_CORETYPE") == NULL)
		return haswell;
	sym = dlsym(RTLD_NEXT, "openblas_get_corename");
	if (sym == NULL)
		return haswell;
	memcpy(&real, &sym, sizeof real);
	return real();
}
