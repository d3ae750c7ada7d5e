/*
 * dbfiles.h: removes a test's database file and the files beside it
 * (SQLite's -wal and -shm, mlpd's .lock), for the suites and benchmarks
 * that open a store without testlib.
 */
#ifndef MLPD_TEST_DBFILES_H
#define MLPD_TEST_DBFILES_H

#include <stdio.h>
#include <unistd.h>

static inline void
test_unlink_db(const char *path)
{
	static const char *const side[] = { "-wal", "-shm", ".lock" };
	char p[1024];

	unlink(path);
	for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, side[i]);
		unlink(p);
	}
}

#endif
