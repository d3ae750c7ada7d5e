/*
 * hugemem: a hint for big, short-lived buffers (request bodies and the
 * float blocks decoded from them) to sit on transparent huge pages.
 *
 * Filling tens of MB of fresh memory is otherwise one page fault per
 * 4 KiB, and under a hypervisor the faults were most of the cost of
 * receiving and decoding a big body (perf, issue 11).
 */
#ifndef MLPD_HUGEMEM_H
#define MLPD_HUGEMEM_H

#include <stddef.h>

/* Asks the kernel to back the 2 MiB-aligned part of [p, p + len) with
 * huge pages (madvise MADV_HUGEPAGE; nothing below 2 MiB). Only a hint:
 * without THP, or when it fails, nothing changes. p stays the caller's. */
void hugemem_advise(void *p, size_t len);

#endif
