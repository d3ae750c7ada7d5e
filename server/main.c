/*
 * main: flags -> config -> daemon -> wait for SIGTERM/SIGINT -> shutdown.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "log.h"

int
main(int argc, char **argv)
{
	config cfg;
	fault f;
	sigset_t set;
	daemon_ctx *d;
	int sig;

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
	/* every thread inherits this mask; only sigwait below sees them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = daemon_start(&cfg, &f);
	if (d == NULL) {
		fprintf(stderr, "mlpd: %s\n", f.msg);
		return 1;
	}
	fprintf(stderr, "mlpd listening on http://%s%s%s:%u\n",
	    strchr(cfg.host, ':') ? "[" : "", cfg.host,
	    strchr(cfg.host, ':') ? "]" : "", daemon_port(d));
	fflush(stderr);
	sigwait(&set, &sig);
	log_info("%s received; shutting down", sig == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	daemon_stop(d);
	log_info("stopped");
	return 0;
}
