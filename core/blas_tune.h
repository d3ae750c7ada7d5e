/*
 * blas_tune: picks OpenBLAS's AVX-512 kernels on CPUs its build does not
 * know.
 *
 * Debian's OpenBLAS (DYNAMIC_ARCH) chooses its kernels once, when it
 * loads, from a table of CPU families; a family the table maps to its
 * AVX2 sets (Haswell, Zen) gets them even where the CPU runs AVX-512 (on
 * the Zen 5 EPYC this was measured on, the SkylakeX sgemm ran 1.7x the
 * Haswell one; 0.3.21 itself picks Cooperlake there, and the Haswell set
 * came from OPENBLAS_CORETYPE=Haswell in the environment, which wins, as
 * any user's value does). The choice can only be overridden by the
 * OPENBLAS_CORETYPE variable, read at load time, so blas_tune_exec sets it
 * and executes the same program again. A user's own OPENBLAS_CORETYPE
 * always wins, and the re-executed process never executes again (it finds
 * the variable set).
 *
 * Threads: blas_tune_exec must run first in main, before the program
 * starts a thread of its own or opens a file it needs (OpenBLAS's own
 * pool threads, started before main, end with the exec). The other
 * functions only read what it recorded.
 */
#ifndef MLPD_BLAS_TUNE_H
#define MLPD_BLAS_TUNE_H

typedef enum blas_tune_state {
	BLAS_TUNE_DEFAULT = 0, /* OpenBLAS's own choice, nothing changed */
	BLAS_TUNE_USER,        /* OPENBLAS_CORETYPE came from the user */
	BLAS_TUNE_AUTO,        /* set by blas_tune_exec, then re-executed */
	BLAS_TUNE_FAILED       /* the re-exec failed: the default stays */
} blas_tune_state;

/* The kernel set chosen on AVX-512 CPUs ("SkylakeX"). */
#define BLAS_TUNE_CORETYPE "SkylakeX"

/*
 * When OPENBLAS_CORETYPE is unset, the BLAS is OpenBLAS running AVX2
 * kernels (Haswell, Zen) and the CPU and OS support AVX-512 F, DQ, BW, VL
 * and CD: sets OPENBLAS_CORETYPE=SkylakeX and executes /proc/self/exe
 * with argv, so it does not return. Otherwise (or if the exec fails,
 * with the environment restored) it returns and records what it found
 * for blas_tune_get_state. argv is main's, NULL-terminated.
 */
void blas_tune_exec(char **argv);

/* The decision, apart from the environment and the CPU (for tests): 1
 * when OPENBLAS_CORETYPE is unset (coretype NULL), OpenBLAS runs the AVX2
 * kernels named core ("Haswell", "Zen") and avx512 is nonzero. */
int blas_tune_wanted(const char *coretype, const char *core, int avx512);

/* Whose OPENBLAS_CORETYPE it is, from its value (NULL: unset) and the
 * mark blas_tune_exec leaves for the process it executes (NULL: none). */
blas_tune_state blas_tune_classify(const char *coretype, const char *mark);

/* What blas_tune_exec found (BLAS_TUNE_DEFAULT before it ran). */
blas_tune_state blas_tune_get_state(void);

/* The kernel set OpenBLAS uses ("Haswell", "SkylakeX", ...), or
 * "unknown" with another BLAS. Static storage. */
const char *blas_tune_core(void);

/* A word for the state: "default", "user", "auto" or "failed". */
const char *blas_tune_state_name(blas_tune_state s);

#endif
