/*
 * hugemem: transparent huge pages under big buffers (see hugemem.h).
 */
#include "hugemem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

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

	if (len < HUGE_PAGE || len > SIZE_MAX - HUGE_PAGE)
		return malloc(len > 0 ? len : 1);
	whole = (len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	if (posix_memalign(&p, HUGE_PAGE, whole) != 0)
		return NULL;
	hugemem_advise(p, whole);
	return p;
}
