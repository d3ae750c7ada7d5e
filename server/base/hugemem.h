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

/* malloc(len), except that a block of 2 MiB or more starts on a 2 MiB
 * boundary and spans whole 2 MiB pages, all advised as above: filling it
 * faults once per 2 MiB instead of once per 4 KiB (a 3 MB float block:
 * ~1 ms instead of 20-40 ms of faults under this hypervisor, issue 11).
 * The caller frees it with free() (realloc works too). NULL when out of
 * memory. */
void *hugemem_alloc(size_t len);

/* Frees p, a block from hugemem_alloc(len) (the same len; NULL is a
 * no-op): a block of 2 MiB or more may be kept, a few MB in all, for the
 * next hugemem_alloc of about its size, which then neither faults nor
 * zeroes it again. free(p) stays correct; it only gives up the reuse. */
void hugemem_free(void *p, size_t len);

#endif
