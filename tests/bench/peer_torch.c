/*
 * peer_torch: the pipe to tests/bench/bench_torch.py; see peer_torch.h.
 */
#define _POSIX_C_SOURCE 200809L /* fdopen */

#include "peer_torch.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reads one line from the child into buf without its newline; -1 at EOF. */
static int
read_line(peer_torch *p, char *buf, size_t size)
{
	if (fgets(buf, (int)size, p->from) == NULL)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int
peer_torch_start(peer_torch *p, const char *python, const char *script,
		 const char *layers, size_t batch, float lr, uint64_t seed,
		 size_t rows, int default_blas)
{
	char a_layers[256], a_batch[64], a_lr[64], a_seed[64], a_rows[64];
	char line[256];
	int in[2], out[2];

	memset(p, 0, sizeof(*p));
	if (access(script, R_OK) != 0) {
		snprintf(p->what, sizeof(p->what), "no %s", script);
		return -1;
	}
	if (pipe(in) != 0)
		goto fail;
	if (pipe(out) != 0) {
		close(in[0]);
		close(in[1]);
		goto fail;
	}
	/* a later peer must not inherit this one's pipes: its stdin would
	 * never see EOF and peer_torch_stop would wait for ever */
	for (int i = 0; i < 2; i++) {
		fcntl(in[i], F_SETFD, FD_CLOEXEC);
		fcntl(out[i], F_SETFD, FD_CLOEXEC);
	}
	snprintf(a_layers, sizeof(a_layers), "layers=%s", layers);
	snprintf(a_batch, sizeof(a_batch), "batch=%zu", batch);
	snprintf(a_lr, sizeof(a_lr), "lr=%.9g", (double)lr);
	snprintf(a_seed, sizeof(a_seed), "seed=%llu",
		 (unsigned long long)seed);
	snprintf(a_rows, sizeof(a_rows), "rows=%zu", rows);
	fflush(stdout);
	p->pid = fork();
	if (p->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		if (default_blas)
			unsetenv("OPENBLAS_CORETYPE");
		execlp(python, python, script, a_layers, a_batch, a_lr, a_seed,
		       a_rows, (char *)NULL);
		printf("skip cannot run %s\n", python);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (p->pid < 0) {
		p->pid = 0;
		close(in[1]);
		close(out[0]);
		goto fail;
	}
	p->to = fdopen(in[1], "w");
	p->from = fdopen(out[0], "r");
	if (p->to == NULL || p->from == NULL ||
	    read_line(p, line, sizeof(line)) != 0) {
		peer_torch_stop(p);
		snprintf(p->what, sizeof(p->what), "%s gave no answer",
			 python);
		return -1;
	}
	if (strncmp(line, "ready ", 6) != 0) {
		peer_torch_stop(p);
		snprintf(p->what, sizeof(p->what), "%.120s", line);
		return -1;
	}
	snprintf(p->what, sizeof(p->what), "%.120s", line + 6);
	return 0;
fail:
	snprintf(p->what, sizeof(p->what), "cannot start %s", python);
	return -1;
}

int
peer_torch_slice(peer_torch *p, double secs, uint64_t *steps, double *wall,
		 double *cpu)
{
	unsigned long long n;
	char line[128];

	if (p->pid == 0)
		return -1;
	fprintf(p->to, "run %.6f\n", secs);
	if (fflush(p->to) != 0 || read_line(p, line, sizeof(line)) != 0 ||
	    sscanf(line, "done %llu %lf %lf", &n, wall, cpu) != 3 || n == 0 ||
	    !(*wall > 0))
		return -1;
	*steps = n;
	return 0;
}

double
peer_torch_loss(peer_torch *p)
{
	char line[64];

	if (p->pid == 0)
		return -1.0;
	fprintf(p->to, "loss\n");
	if (fflush(p->to) != 0 || read_line(p, line, sizeof(line)) != 0 ||
	    strncmp(line, "loss ", 5) != 0)
		return -1.0;
	return strtod(line + 5, NULL);
}

void
peer_torch_stop(peer_torch *p)
{
	if (p->to)
		fclose(p->to);
	if (p->from)
		fclose(p->from);
	p->to = p->from = NULL;
	if (p->pid > 0) {
		int st;

		if (waitpid(p->pid, &st, 0) < 0)
			kill(p->pid, SIGKILL);
	}
	p->pid = 0;
}
