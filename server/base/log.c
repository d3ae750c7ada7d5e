/*
 * log: one line per message on stderr, "TIME LEVEL message".
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int level = LOG_INFO;
static const char *const names[] = { "error", "warn", "info", "debug" };

void
log_set_level(log_level l)
{
	atomic_store(&level, (int)l);
}

int
log_level_from_name(const char *name, log_level *l)
{
	for (int i = 0; i <= LOG_DEBUG; i++) {
		if (strcmp(name, names[i]) == 0) {
			*l = (log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_msg(log_level l, const char *fmt, ...)
{
	char line[1024], stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if ((int)l > atomic_load(&level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof line, "%s.%03ldZ %s ", stamp,
	    ts.tv_nsec / 1000000, names[l]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* one fputs per line keeps lines from interleaving */
	strncat(line, "\n", sizeof line - strlen(line) - 1);
	fputs(line, stderr);
}
