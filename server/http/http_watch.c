/*
 * http_watch: the slow-request watch (see http_watch.h for the DESIGN).
 */
#include "http_watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "wallclock.h"

#define WATCH_PERIOD 0.25      /* seconds between scans */
#define WATCH_LOG_EVERY 60.0   /* seconds between "closed N" log lines */
#define IDLE_GRACE 1.0         /* seconds a new connection may stay idle
                                  before the idle budget counts it */
#define ADDR_LEN 17            /* an address: family tag + 16 bytes */

/* One open connection. */
typedef struct watch_rec {
	struct watch_rec *prev, *next;
	http_watch *w;     /* the watch it belongs to */
	MHD_socket fd;
	double since;      /* wallclock_mono() when the wait began; 0: none */
	double opened;     /* wallclock_mono() at the accept */
	unsigned char addr[ADDR_LEN]; /* the client's address (addr_of) */
	int dropped;       /* its socket was shut down */
	int trusted;       /* it sent a request (http_watch_trust) */
} watch_rec;

struct http_watch {
	pthread_mutex_t mu;  /* guards the list, the records and stop */
	pthread_cond_t cv;   /* wakes the thread to stop */
	pthread_t thread;
	watch_rec *head;
	double timeout;
	unsigned max_per_ip;     /* connections from one address; 0: any */
	unsigned max_idle;       /* untrusted ones from one address */
	unsigned untrusted;      /* records neither trusted nor dropped */
	int stop;
	atomic_ulong dropped;    /* ever, too slow */
	atomic_ulong idle_dropped; /* ever, past an address's idle budget */
	unsigned long unlogged;  /* dropped since the last log line */
	unsigned long idle_unlogged; /* closed past the idle budget, too */
	double last_log;
};

/* The record of conn, or NULL (a connection made before the watch). */
static watch_rec *
rec_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Sets the start of r's wait (0: no clock). */
static void
set_since(watch_rec *r, double since)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->w->mu);
	r->since = since;
	pthread_mutex_unlock(&r->w->mu);
}

/* Fills out with conn's client address (all zero when unknown). */
static void
addr_of(struct MHD_Connection *conn, unsigned char out[ADDR_LEN])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	memset(out, 0, ADDR_LEN);
	if (sa != NULL && sa->sa_family == AF_INET) {
		out[0] = 4;
		memcpy(out + 1, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		out[0] = 6;
		memcpy(out + 1, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, 16);
	}
}

/* Shuts r's socket down (libmicrohttpd closes it when it sees the end);
 * holds w->mu. */
static void
do_drop(http_watch *w, watch_rec *r)
{
	shutdown(r->fd, SHUT_RDWR);
	r->dropped = 1;
	if (!r->trusted)
		w->untrusted--;
}

/* The idle budget of one address: while more than max_idle of its
 * connections are untrusted, closes the oldest untrusted one that has
 * been open IDLE_GRACE seconds, or, when the address is near max_per_ip
 * (within an eighth of it), the oldest untrusted one whatever its age,
 * so that the next connection from there (a token holder's, say) is
 * accepted and is the last untrusted one to go. Returns how many of the
 * address's connections are left open. Holds w->mu. */
static unsigned
do_budget(http_watch *w, const unsigned char *addr, double now)
{
	for (;;) {
		unsigned all = 0, idle = 0;
		watch_rec *oldest = NULL;
		int pressed;

		for (watch_rec *r = w->head; r; r = r->next) {
			if (r->dropped || memcmp(r->addr, addr, ADDR_LEN) != 0)
				continue;
			all++;
			if (r->trusted)
				continue;
			idle++;
			if (oldest == NULL || r->opened < oldest->opened)
				oldest = r;
		}
		pressed = w->max_per_ip > 0 &&
		    all > w->max_per_ip - w->max_per_ip / 8;
		if (idle <= w->max_idle || oldest == NULL ||
		    (!pressed && now - oldest->opened < IDLE_GRACE))
			return all;
		do_drop(w, oldest);
		atomic_fetch_add(&w->idle_dropped, 1);
		w->idle_unlogged++;
	}
}

/* Shuts down every connection past its time, and the idle ones past
 * their address's budget; holds w->mu. */
static void
do_scan(http_watch *w, double now)
{
	for (watch_rec *r = w->head; r; r = r->next) {
		if (r->dropped || r->since <= 0 || now - r->since <= w->timeout)
			continue;
		do_drop(w, r);
		atomic_fetch_add(&w->dropped, 1);
		w->unlogged++;
	}
	/* only when some address may be past it: the check is quadratic */
	if (w->untrusted > w->max_idle) {
		for (watch_rec *r = w->head; r; r = r->next)
			if (!r->dropped && !r->trusted &&
			    now - r->opened >= IDLE_GRACE)
				(void)do_budget(w, r->addr, now);
	}
	if (now - w->last_log < WATCH_LOG_EVERY)
		return;
	if (w->unlogged > 0)
		log_warn("http: closed %lu connection(s) whose request took "
		    "more than %.0f s to arrive (--connection-timeout)",
		    w->unlogged, w->timeout);
	if (w->idle_unlogged > 0)
		log_warn("http: closed %lu idle connection(s) from addresses "
		    "past --max-idle-per-ip %u", w->idle_unlogged,
		    w->max_idle);
	if (w->unlogged > 0 || w->idle_unlogged > 0)
		w->last_log = now;
	w->unlogged = w->idle_unlogged = 0;
}

static void *
watch_main(void *arg)
{
	http_watch *w = arg;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct timespec ts;

		do_scan(w, wallclock_mono());
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)(WATCH_PERIOD * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu,
		    &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

http_watch *
http_watch_create(unsigned timeout, unsigned max_per_ip, unsigned max_idle,
		  fault *f)
{
	http_watch *w = calloc(1, sizeof *w);
	pthread_condattr_t ca;

	if (w == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		return NULL;
	}
	w->timeout = timeout;
	w->max_per_ip = max_per_ip;
	w->max_idle = max_idle > 0 ? max_idle : 1;
	w->last_log = -WATCH_LOG_EVERY;
	atomic_init(&w->dropped, 0);
	atomic_init(&w->idle_dropped, 0);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		fault_set(f, FAULT_INTERNAL, "cannot start the connection "
		    "watch thread");
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	return w;
}

void
http_watch_destroy(http_watch *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	/* after MHD_stop_daemon every record is gone; free any left */
	while (w->head) {
		watch_rec *r = w->head;

		w->head = r->next;
		free(r);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void
http_watch_notify(void *cls, struct MHD_Connection *conn,
		  void **socket_context,
		  enum MHD_ConnectionNotificationCode toe)
{
	http_watch *w = cls;
	watch_rec *r;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		*socket_context = NULL;
		if (ci == NULL || (r = calloc(1, sizeof *r)) == NULL)
			return; /* unwatched: the idle timeout still holds */
		r->w = w;
		r->fd = ci->connect_fd;
		r->since = r->opened = wallclock_mono();
		addr_of(conn, r->addr);
		pthread_mutex_lock(&w->mu);
		r->next = w->head;
		if (w->head)
			w->head->prev = r;
		w->head = r;
		w->untrusted++;
		/* past max_per_ip once the idle ones made room: refused */
		if (do_budget(w, r->addr, r->opened) > w->max_per_ip &&
		    w->max_per_ip > 0)
			do_drop(w, r);
		pthread_mutex_unlock(&w->mu);
		*socket_context = r;
		return;
	}
	/* MHD_CONNECTION_NOTIFY_CLOSED, before the socket is closed */
	if ((r = *socket_context) == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	if (!r->trusted && !r->dropped)
		w->untrusted--;
	if (r->prev)
		r->prev->next = r->next;
	else
		w->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	pthread_mutex_unlock(&w->mu);
	free(r);
	*socket_context = NULL;
}

void *
http_watch_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)uri;
	set_since(rec_of(conn), wallclock_mono());
	return NULL;
}

void
http_watch_arrived(struct MHD_Connection *conn)
{
	set_since(rec_of(conn), 0);
}

void
http_watch_done(struct MHD_Connection *conn)
{
	set_since(rec_of(conn), wallclock_mono());
}

void
http_watch_trust(struct MHD_Connection *conn)
{
	watch_rec *r = rec_of(conn);

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->w->mu);
	if (!r->trusted && !r->dropped)
		r->w->untrusted--;
	r->trusted = 1;
	pthread_mutex_unlock(&r->w->mu);
}

void
http_watch_closed(const http_watch *w, unsigned long *slow,
		  unsigned long *idle)
{
	*slow = w ? atomic_load(&w->dropped) : 0;
	*idle = w ? atomic_load(&w->idle_dropped) : 0;
}
