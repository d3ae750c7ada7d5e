/*
 * api_events: GET /v1/events and GET /v1/models/{id}/events, the live
 * event streams (text/event-stream; the hub and its DESIGN are in
 * events.h).
 *
 * A handler validates the request, subscribes to the hub and answers 200
 * with a streamed body whose reader is events_read. This is the one
 * handler that drives its connection after it returns: the hub parks an
 * idle stream by suspending the libmicrohttpd connection from inside the
 * content reader (where libmicrohttpd allows it) and wakes it by resuming
 * it, so an idle subscriber holds no HTTP thread. That is why this file
 * calls libmicrohttpd directly; http.c starts the daemon with
 * MHD_ALLOW_SUSPEND_RESUME for it. When the response ends (the client
 * went away, the stream ended, or the server stops) libmicrohttpd calls
 * the free callback, which unsubscribes.
 */
#include "api.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

/* Hub hooks: suspend and resume the subscriber's connection. */
static void
park(void *arg)
{
	MHD_suspend_connection(arg);
}

static void
wake(void *arg)
{
	MHD_resume_connection(arg);
}

/* The content reader (MHD_ContentReaderCallback contract). */
static ssize_t
stream_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
	ssize_t n = events_read(ctx, buf, max);

	(void)pos;
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void
stream_free(void *ctx)
{
	events_unsubscribe(ctx);
}

/* The Last-Event-ID header, else the last_event_id query argument: 0 and
 * *have = 0 when neither is given (or both are empty), -1 after replying
 * 400 when malformed. */
static int
last_event_id(const http_request *rq, http_response *rs, int *have,
	      uint64_t *id)
{
	const char *v = http_header(rq, "Last-Event-ID");
	const char *what = "the Last-Event-ID header";
	const char *q;
	char *end;
	apierr e;

	*have = 0;
	*id = 0;
	if (api_query(rq, rs, "last_event_id", &q) < 0)
		return -1;
	/* an empty value is no value (what EventSource means by it) */
	if (v == NULL || *v == '\0') {
		v = q;
		what = "last_event_id";
	}
	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	*id = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno) {
		apierr_set(&e, 400, "invalid_query", "%s must be an event id "
		    "(a decimal integer)", what);
		api_reply_error(rs, &e);
		return -1;
	}
	*have = 1;
	return 0;
}

/* Subscribes to model_id's events (NULL: all) and starts the stream. */
static void
serve(api_ctx *c, const http_request *rq, http_response *rs,
      const char *model_id)
{
	events_sub *s;
	uint64_t last;
	int have;
	apierr e;
	fault f;

	if (last_event_id(rq, rs, &have, &last) < 0)
		return;
	s = events_subscribe(c->ev, model_id, have, last, park, wake,
	    rq->conn, &f);
	if (s == NULL) {
		if (f.code == FAULT_NOMEM) {
			apierr_from_fault(&e, &f);
		} else {
			apierr_set(&e, 503, "shutting_down", "mlpd is "
			    "shutting down");
			e.retry_after = 5;
		}
		api_reply_error(rs, &e);
		return;
	}
	rs->status = 200;
	rs->content_type = "text/event-stream";
	rs->cache_control = "no-cache";
	rs->stream_read = stream_read;
	rs->stream_free = stream_free;
	rs->stream_ctx = s;
}

void
api_events_all(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;

	if (api_check_open(c, rs) < 0)
		return;
	serve(c, rq, rs, NULL);
}

void
api_events_model(void *ctx, const http_request *rq, http_response *rs)
{
	api_ctx *c = ctx;
	model_entry *m;

	if (api_check_open(c, rs) < 0 || (m = api_model(c, rq, rs)) == NULL)
		return;
	serve(c, rq, rs, m->id);
	/* deleted meanwhile, before its "deleted" event could reach this
	 * stream: answer 404 rather than a stream that never ends */
	if (registry_deleted(m) && rs->stream_ctx != NULL) {
		apierr e;

		events_unsubscribe(rs->stream_ctx);
		memset(rs, 0, sizeof *rs);
		apierr_set(&e, 404, "model_not_found", "no model with id "
		    "'%.60s'", m->id);
		api_reply_error(rs, &e);
	}
	registry_put(m);
}
