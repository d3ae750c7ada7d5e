/*
 * log: leveled, timestamped lines on stderr.
 */
#ifndef MLPD_LOG_H
#define MLPD_LOG_H

typedef enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG
} log_level;

/* Sets the most verbose level printed (default LOG_INFO). */
void log_set_level(log_level l);

/* Parses "error", "warn", "info" or "debug"; -1 on anything else. */
int log_level_from_name(const char *name, log_level *l);

void log_msg(log_level l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
