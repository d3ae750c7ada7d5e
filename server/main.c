/*
 * main: flags -> config -> daemon -> wait for SIGTERM/SIGINT -> shutdown.
 *
 * The signal handler only writes to a pipe that main reads: whichever
 * thread the kernel picks (OpenBLAS starts threads before main runs, so a
 * signal mask set here cannot cover them all) the shutdown runs on the
 * main thread, in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "blas_tune.h"
#include "gemm.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

static int signal_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int saved = errno;

	/* async-signal-safe: one write; a full pipe already holds a byte */
	if (write(signal_pipe[1], &b, 1) < 0) {
		/* nothing to do */
	}
	errno = saved;
}

/* Routes SIGTERM and SIGINT to the pipe and ignores SIGPIPE. */
static int
install_signals(void)
{
	struct sigaction sa;

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Blocks until a signal byte arrives; returns the signal number. */
static int
wait_signal(void)
{
	unsigned char b = 0;
	fd_set rd;

	for (;;) {
		FD_ZERO(&rd);
		FD_SET(signal_pipe[0], &rd);
		if (select(signal_pipe[0] + 1, &rd, NULL, NULL, NULL) < 0 &&
		    errno != EINTR)
			return SIGTERM;
		if (read(signal_pipe[0], &b, 1) == 1)
			return b;
	}
}

/* Says once what blas_tune_exec did, when it did anything. */
static void
log_blas(void)
{
	switch (blas_tune_get_state()) {
	case BLAS_TUNE_AUTO:
		log_info("OpenBLAS: using %s kernels on this AVX-512 CPU (set "
		    "OPENBLAS_CORETYPE to choose)", blas_tune_core());
		break;
	case BLAS_TUNE_FAILED:
		log_warn("OpenBLAS: could not execute mlpd again with its "
		    "AVX-512 kernels; using %s", blas_tune_core());
		break;
	default:
		break;
	}
}

/* Says which library runs the matrix products when it is not OpenBLAS
 * (once the daemon started: a refusal at start stays one line). */
static void
log_gemm(void)
{
	if (strcmp(gemm_name(), "OpenBLAS") != 0)
		log_info("matrix products: %s (MLPD_GEMM=openblas for "
		    "OpenBLAS's)", gemm_name());
}

int
main(int argc, char **argv)
{
	config cfg;
	fault f;
	daemon_ctx *d;
	int sig;

	/* first: it may execute mlpd again with OpenBLAS's AVX-512 kernels */
	blas_tune_exec(argv);
	fault_clear(&f);
	config_default(&cfg);
	switch (config_parse(&cfg, argc, argv, &f)) {
	case CONFIG_EXIT:
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "mlpd: %s\n", f.msg);
		return 2;
	case CONFIG_RUN:
		break;
	}
	log_set_level(cfg.level);
	log_blas();
	if (install_signals() < 0) {
		fprintf(stderr, "mlpd: cannot install signal handlers: %s\n",
		    strerror(errno));
		return 1;
	}
	d = daemon_start(&cfg, &f);
	if (d == NULL) {
		fprintf(stderr, "mlpd: %s\n", f.msg);
		return 1;
	}
	log_gemm();
	fprintf(stderr, "mlpd listening on %s://%s%s%s:%u\n",
	    cfg.tls_cert ? "https" : "http", strchr(cfg.host, ':') ? "[" : "",
	    cfg.host,
	    strchr(cfg.host, ':') ? "]" : "", daemon_port(d));
	fflush(stderr);
	sig = wait_signal();
	log_info("%s received; shutting down", sig == SIGINT ? "SIGINT" :
	    "SIGTERM");
	daemon_stop(d);
	log_info("stopped");
	return 0;
}
