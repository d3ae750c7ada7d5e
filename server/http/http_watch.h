/*
 * http_watch: closes connections whose request takes too long to arrive.
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
 * connection. NULL with f set on failure. */
http_watch *http_watch_create(unsigned timeout, fault *f);

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

/* Connections ended so far because their request was too slow. */
unsigned long http_watch_dropped(const http_watch *w);

#endif
