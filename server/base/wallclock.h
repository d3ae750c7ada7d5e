/*
 * wallclock: the two clocks the daemon reads.
 */
#ifndef MLPD_WALLCLOCK_H
#define MLPD_WALLCLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (UTC), for stored times. */
int64_t wallclock_ms(void);

/* Seconds on a monotonic clock, for intervals. */
double wallclock_mono(void);

#endif
