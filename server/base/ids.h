/*
 * ids: opaque identifiers and seeds from the kernel's random source.
 */
#ifndef MLPD_IDS_H
#define MLPD_IDS_H

#include <stdint.h>

#define IDS_MAX 40 /* ids are short ASCII strings, NUL included */

/* prefix ('m' model, 'j' job) followed by 16 lowercase hex digits. */
void ids_new(char prefix, char out[IDS_MAX]);

/* A random 64-bit value (getrandom; falls back to time and address). */
uint64_t ids_random_u64(void);

/* True when s could be an id: 1..IDS_MAX-1 of [A-Za-z0-9_-]. */
int ids_valid(const char *s);

#endif
