/*
 * ids: random identifiers (see ids.h).
 */
#include "ids.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

uint64_t
ids_random_u64(void)
{
	uint64_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof v, 0) == (ssize_t)sizeof v)
		return v;
	clock_gettime(CLOCK_REALTIME, &ts);
	v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&v;
	return v;
}

void
ids_new(char prefix, char out[IDS_MAX])
{
	snprintf(out, IDS_MAX, "%c%016llx", prefix,
	    (unsigned long long)ids_random_u64());
}

int
ids_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IDS_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}
