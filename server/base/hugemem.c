/*
 * hugemem: transparent huge pages under big buffers (see hugemem.h).
 *
 * DESIGN (threads): the blocks that hugemem_free keeps are shared by every
 * thread that allocates big buffers (event threads receiving bodies,
 * request workers decoding them); one mutex guards the small table, held
 * only to look a block up or put one in, never across a system call.
 */
#include "hugemem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* Freed blocks kept for the next big buffer: a block fresh from the
 * kernel is zeroed and faulted in 2 MiB at a time, ~20% of the daemon's
 * CPU per .npy push (perf, issue 11), and the heap trim after each big
 * request (http.c give_back) returns every freed block to the kernel.
 * At most KEEP_BLOCKS blocks of at most KEEP_ONE bytes, KEEP_ALL in all:
 * what a push of a few thousand rows needs (its body and its inputs). */
#define KEEP_BLOCKS 4
#define KEEP_ONE ((size_t)16 << 20)
#define KEEP_ALL ((size_t)32 << 20)

static pthread_mutex_t keep_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept {
	void *p;
	size_t whole; /* its size: whole 2 MiB pages */
} keep[KEEP_BLOCKS];
static size_t keep_bytes; /* the sum of keep[].whole */

/* whole rounded up to whole 2 MiB pages, or 0 when below one page (or
 * too large to round). */
static size_t
whole_pages(size_t len)
{
	if (len < HUGE_PAGE || len > SIZE_MAX - HUGE_PAGE)
		return 0;
	return (len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

/* A kept block of at least whole bytes and at most twice that, the
 * smallest such, taken out of the table; NULL when none. */
static void *
keep_take(size_t whole)
{
	size_t best = KEEP_BLOCKS;
	void *p = NULL;

	pthread_mutex_lock(&keep_lock);
	for (size_t i = 0; i < KEEP_BLOCKS; i++)
		if (keep[i].p != NULL && keep[i].whole >= whole &&
		    keep[i].whole / 2 <= whole &&
		    (best == KEEP_BLOCKS || keep[i].whole < keep[best].whole))
			best = i;
	if (best < KEEP_BLOCKS) {
		p = keep[best].p;
		keep_bytes -= keep[best].whole;
		keep[best].p = NULL;
	}
	pthread_mutex_unlock(&keep_lock);
	return p;
}

void
hugemem_advise(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = HUGE_PAGE;
	uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(huge - 1);

	if (p != NULL && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
	(void)p;
	(void)len;
#endif
}

void *
hugemem_alloc(size_t len)
{
	void *p;
	size_t whole;

	if ((whole = whole_pages(len)) == 0)
		return malloc(len > 0 ? len : 1);
	if ((p = keep_take(whole)) != NULL)
		return p; /* still advised */
	if (posix_memalign(&p, HUGE_PAGE, whole) != 0)
		return NULL;
	hugemem_advise(p, whole);
	return p;
}

void
hugemem_free(void *p, size_t len)
{
	size_t whole = whole_pages(len);

	if (p == NULL)
		return;
	if (whole > 0 && whole <= KEEP_ONE) {
		pthread_mutex_lock(&keep_lock);
		for (size_t i = 0; i < KEEP_BLOCKS; i++)
			if (keep[i].p == NULL &&
			    keep_bytes + whole <= KEEP_ALL) {
				keep[i].p = p;
				keep[i].whole = whole;
				keep_bytes += whole;
				p = NULL;
				break;
			}
		pthread_mutex_unlock(&keep_lock);
	}
	free(p);
}
