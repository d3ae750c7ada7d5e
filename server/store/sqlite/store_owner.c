/*
 * store_owner: one daemon per database file.
 *
 * Two daemons on one file would each keep their own models in memory and
 * silently disagree (and one's recovery would undo the other's steps). The
 * daemon that opens a file therefore takes an exclusive flock(2) on a lock
 * file beside it ("<db>.lock") and writes its pid there; a second daemon
 * fails at once, naming the file and that pid. The kernel drops the lock
 * when the holder exits, however it exits (kill -9, a crash), so a stale
 * lock file never blocks a start. flock is independent of the fcntl locks
 * SQLite takes on the database itself: other readers (the sqlite3 shell,
 * a backup) still open the database as before. The lock file is left in
 * place at exit: removing it would race with a daemon starting at that
 * moment.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int
owner_take(const char *db, int *fd_out, fault *f)
{
	char path[4096], pidtext[32];
	int fd, n, writable = 1;

	*fd_out = -1;
	if ((size_t)snprintf(path, sizeof path, "%s.lock", db) >= sizeof path)
		return fault_set(f, FAULT_INVALID, "the path is too long");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
		/* a place we may not write: lock the file if it is there
		 * (flock needs no write access); if not, nothing to lock,
		 * and SQLite will say why the database cannot be written */
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 0;
		writable = 0;
	}
	if (fd < 0)
		return fault_set(f, FAULT_INTERNAL, "cannot open the lock file "
		    "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		ssize_t k = pread(fd, pidtext, sizeof pidtext - 1, 0);

		close(fd);
		pidtext[k > 0 ? k : 0] = '\0';
		pidtext[strcspn(pidtext, "\n")] = '\0';
		if (err == EWOULDBLOCK)
			return fault_set(f, FAULT_INTERNAL, "in use by another "
			    "mlpd (pid %s, holding %s); one daemon per "
			    "database file", pidtext[0] ? pidtext : "unknown",
			    path);
		return fault_set(f, FAULT_INTERNAL, "cannot lock %s: %s",
		    path, strerror(err));
	}
	n = snprintf(pidtext, sizeof pidtext, "%ld\n", (long)getpid());
	if (writable && (ftruncate(fd, 0) != 0 ||
	    pwrite(fd, pidtext, (size_t)n, 0) != n)) {
		int err = errno;

		close(fd);
		return fault_set(f, FAULT_INTERNAL, "cannot write %s: %s",
		    path, strerror(err));
	}
	*fd_out = fd;
	return 0;
}

void
owner_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
