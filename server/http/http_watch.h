/*
 * http_watch: closes connections whose request takes too long to arrive,
 * and idle ones past their address's budget.
 *
 * DESIGN. libmicrohttpd's connection timeout counts inactivity only: a
 * client that sends one header byte every few seconds (slowloris) is never
 * idle, and would hold its connection, and one of --max-connections, for
 * ever. http_watch bounds the time a request may take to arrive. Each
 * connection has a record (made and dropped through libmicrohttpd's
 * MHD_OPTION_NOTIFY_CONNECTION) that holds the time its current wait
 * began, in one of three phases:
 *   - waiting for a request line: from the accept, or from the end of the
 *     previous response on a kept-alive connection;
 *   - receiving a request: from its request line (MHD_OPTION_URI_LOG_
 *     CALLBACK) until its headers and body are all in (http calls
 *     http_watch_arrived at the access handler's last call);
 *   - answering: no clock, until the response is done (http_watch_done,
 *     which starts the next wait). Event streams stay here.
 * A wait longer than the timeout ends the connection. One thread wakes
 * four times a second and shuts down (shutdown(2), both ways) the socket
 * of each connection past its time; libmicrohttpd then sees the
 * connection end, on its own thread, and closes it as it closes one whose
 * client hung up. Nothing is answered: a slowloris client is not reading.
 *
 * The idle budget. libmicrohttpd's per-address limit
 * (--max-connections-per-ip) counts every connection alike, so sockets
 * that never send a byte could fill it and lock out the clients that
 * use the daemon (on loopback, every client shares 127.0.0.1). A record
 * is untrusted until its connection sent a request (with a token
 * configured: one that carried the token; http calls http_watch_trust).
 * At most --max-idle-per-ip untrusted connections of one address may be
 * open longer than a second (IDLE_GRACE, so that a burst of connections
 * whose requests are on their way is left alone): past it the oldest go
 * first, checked at each accept and each scan. Near --max-connections-
 * per-ip (within an eighth of it) the oldest untrusted ones go at once,
 * whatever their age, so that the next connection is still accepted and
 * is the last untrusted one to go: a token holder gets in however fast
 * the idle ones come back. So the watch, not libmicrohttpd, keeps
 * --max-connections-per-ip: a connection past it once the untrusted ones
 * made what room they could is shut down as it is accepted.
 * libmicrohttpd's own limit is set to twice that, a backstop that also
 * counts the sockets shut down but not yet closed (http.c).
 *
 * The records live in one list under one mutex. libmicrohttpd tells a
 * connection's end (and the record is dropped, under the mutex) before
 * it closes the socket, and the thread shuts sockets down with the mutex
 * held, so it never touches a descriptor that was closed and reused.
 */
#ifndef MLPD_HTTP_WATCH_H
#define MLPD_HTTP_WATCH_H

#include <microhttpd.h>

#include "fault.h"

typedef struct http_watch http_watch;

/* Starts the watch thread: a wait past timeout seconds ends the
 * connection; of the connections from one address (max_per_ip at most,
 * 0: any), at most max_idle untrusted ones stay open. NULL with f set on
 * failure. */
http_watch *http_watch_create(unsigned timeout, unsigned max_per_ip,
			      unsigned max_idle, fault *f);

/* Stops the thread and frees w; call it after MHD_stop_daemon. NULL is a
 * no-op. */
void http_watch_destroy(http_watch *w);

/* The MHD_OPTION_NOTIFY_CONNECTION callback; cls is the http_watch. */
void http_watch_notify(void *cls, struct MHD_Connection *conn,
		       void **socket_context,
		       enum MHD_ConnectionNotificationCode toe);

/* The MHD_OPTION_URI_LOG_CALLBACK callback; cls is the http_watch. Starts
 * the request's clock and returns NULL (the request's first con_cls). */
void *http_watch_uri(void *cls, const char *uri, struct MHD_Connection *conn);

/* The request on conn has arrived whole: its clock stops. */
void http_watch_arrived(struct MHD_Connection *conn);

/* The response on conn is done: the wait for the next request begins. */
void http_watch_done(struct MHD_Connection *conn);

/* conn sent a request that proves its client (one with the token, when
 * a token is needed): the idle budget no longer counts it. */
void http_watch_trust(struct MHD_Connection *conn);

/* Connections shut down so far: *slow because their request took longer
 * than the timeout, *idle past their address's idle budget. */
void http_watch_closed(const http_watch *w, unsigned long *slow,
		       unsigned long *idle);

#endif
