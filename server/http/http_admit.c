/*
 * http_admit: what the headers alone decide, before any body byte is read
 * (see http.h's DESIGN for the order and why): framing (RFC 9112), an
 * encoded slash, Host and Origin (origin.h), a CORS preflight, the token
 * (auth.h), the route (404, 405 with Allow; HEAD takes GET's routes), the
 * declared size (413, 503) and the content type (415).
 */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"

/* Matches path against pattern; fills params with the '*' segments
 * (NUL-terminated in place, so path is modified only on success). */
static int
match(const char *pattern, char *path, const char **params)
{
	const char *p = pattern;
	char *s = path;
	char *ends[HTTP_MAX_PARAMS];
	size_t np = 0;

	while (*p && *s) {
		if (*p == '*') {
			char *seg = s;

			while (*s && *s != '/')
				s++;
			if (s == seg || np == HTTP_MAX_PARAMS)
				return 0;
			params[np] = seg;
			ends[np++] = s;
			p++;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	if (*p || *s)
		return 0;
	/* cut the captured segments only once the whole path matched */
	for (size_t i = 0; i < np; i++)
		*ends[i] = '\0';
	return 1;
}

/* Finds the route for method and path; on a path match with another
 * method, fills allow with the methods that path takes. */
static const http_route *
find_route(const http_server *hs, const char *method, const char *url,
	   conn_state *cs, char *allow, size_t allow_len)
{
	allow[0] = '\0';
	for (size_t i = 0; i < hs->nroutes; i++) {
		const http_route *r = &hs->routes[i];
		const char *params[HTTP_MAX_PARAMS] = { NULL, NULL };
		char *copy = strdup(url);

		if (copy == NULL)
			return NULL;
		if (!match(r->pattern, copy, params)) {
			free(copy);
			continue;
		}
		/* HEAD is GET without the body (libmicrohttpd leaves it
		 * out) */
		if (strcmp(r->method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 &&
		    strcmp(r->method, "GET") == 0)) {
			cs->path = copy;
			memcpy(cs->params, params, sizeof params);
			return r;
		}
		free(copy);
		if (strstr(allow, r->method) == NULL) {
			if (allow[0])
				strncat(allow, ", ", allow_len - strlen(allow) - 1);
			strncat(allow, r->method, allow_len - strlen(allow) - 1);
			if (strcmp(r->method, "GET") == 0)
				strncat(allow, ", HEAD", allow_len -
				    strlen(allow) - 1);
		}
	}
	return NULL;
}

/* Counts the ?access_token= parameters of a request. */
static enum MHD_Result
count_tokens(void *cls, enum MHD_ValueKind kind, const char *key,
	     const char *value)
{
	(void)kind;
	(void)value;
	if (key != NULL && strcmp(key, "access_token") == 0)
		(*(unsigned *)cls)++;
	return MHD_YES;
}

/* Answers 401 unless the request may pass: its path is open, or it
 * carries the token in its Authorization header (or, on a route that
 * takes it, in ?access_token=). Returns 0 when it may pass, else 401
 * after queueing the answer in *ret. */
static int
check_auth(http_server *hs, struct MHD_Connection *conn,
	   const char *url, const http_route *route, enum MHD_Result *ret)
{
	const char *h, *q = NULL;
	http_response rs;
	apierr e;

	if (hs->auth == NULL || !auth_path_protected(url))
		return 0;
	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth_check_header(hs->auth, h)) {
		http_watch_trust(conn); /* off the idle budget */
		return 0;
	}
	if (route != NULL && auth_route_takes_query_token(route->pattern)) {
		unsigned n = 0;

		/* two tokens are ambiguous (a proxy in front may check the
		 * other one): neither is taken */
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND,
		    count_tokens, &n);
		q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
		    "access_token");
		if (n == 1 && auth_check_token(hs->auth, q)) {
			http_watch_trust(conn);
			return 0;
		}
	}
	memset(&rs, 0, sizeof rs);
	if (h == NULL && q == NULL) {
		apierr_set(&e, 401, "unauthorized", "this daemon needs an "
		    "access token: send Authorization: Bearer <token>");
		rs.www_authenticate = "Bearer realm=\"mlpd\"";
	} else {
		apierr_set(&e, 401, "unauthorized", "the access token is "
		    "wrong or malformed (Authorization: Bearer <token>)");
		rs.www_authenticate = "Bearer realm=\"mlpd\", "
		    "error=\"invalid_token\"";
	}
	http_reply_error(&rs, &e);
	*ret = http_send(hs, conn, &rs, NULL);
	return 401;
}

/* The body types of mask as words for a 415: "application/json, text/csv
 * or application/x-npy". */
static void
body_types(unsigned mask, char *buf, size_t size)
{
	static const struct {
		unsigned bit;
		const char *name;
	} types[] = {
		{ HTTP_BODY_JSON, "application/json" },
		{ HTTP_BODY_CSV, "text/csv" },
		{ HTTP_BODY_ONNX, "application/onnx" },
		{ HTTP_BODY_NPY, "application/x-npy" },
		{ HTTP_BODY_NPZ, "application/x-npz" },
	};
	size_t n = 0, k = 0, len = 0;

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		n += (mask & types[i].bit) != 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		if (!(mask & types[i].bit) || len >= size)
			continue;
		k++;
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
		    k == 1 ? "" : k == n ? " or " : ", ", types[i].name);
	}
}

/* True when ct names type (parameters such as charset allowed). */
static int
is_type(const char *ct, const char *type)
{
	size_t n = strlen(type);

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* The HTTP_BODY_* kind of a content type, 0 for anything else. */
unsigned
http_admit_body_type(const char *ct)
{
	if (is_type(ct, "application/json"))
		return HTTP_BODY_JSON;
	if (is_type(ct, "text/csv"))
		return HTTP_BODY_CSV;
	if (is_type(ct, "application/onnx"))
		return HTTP_BODY_ONNX;
	if (is_type(ct, "application/x-npy"))
		return HTTP_BODY_NPY;
	if (is_type(ct, "application/x-npz"))
		return HTTP_BODY_NPZ;
	return 0;
}

/* Checks what the headers alone decide; returns 0, or the status of the
 * error it sent. */
static int
early_checks(http_server *hs, struct MHD_Connection *conn,
	     const conn_state *cs, enum MHD_Result *ret)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING);
	const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	int has_body = te != NULL || (cl != NULL && strcmp(cl, "0") != 0);
	char msg[192], types[112];

	if (cl != NULL) {
		char *end;
		unsigned long long v = strtoull(cl, &end, 10);

		if (*end == '\0' && v > hs->max_body) {
			snprintf(msg, sizeof msg, "the request body is over "
			    "the %zu byte limit", hs->max_body);
			*ret = http_send_error(hs, conn, 413, "body_too_large", msg,
			    NULL);
			return 413;
		}
		/* a guess (others come and go meanwhile), but it spares
		 * reading a body that would find no room */
		if (*end == '\0' && v >= hs->max_body_memory -
		    atomic_load(&hs->body_bytes)) {
			*ret = http_send_busy(hs, conn);
			return 503;
		}
	}
	if (has_body && cs->route->accepts &&
	    !(http_admit_body_type(ct) & cs->route->accepts)) {
		body_types(cs->route->accepts, types, sizeof types);
		snprintf(msg, sizeof msg, "the body must be %s, not %.60s",
		    types, ct ? ct : "untyped");
		*ret = http_send_error(hs, conn, 415, "unsupported_media_type", msg,
		    NULL);
		return 415;
	}
	return 0;
}

/* What the Content-Length and Transfer-Encoding headers say. */
typedef struct framing {
	unsigned lengths;   /* Content-Length headers */
	int lengths_differ; /* two of them disagree */
	int length_bad;     /* one is not a decimal number */
	const char *first;  /* the first one's value */
	unsigned encodings; /* Transfer-Encoding headers */
} framing;

static enum MHD_Result
count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
	      const char *value)
{
	framing *fr = cls;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		fr->encodings++;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (value == NULL || *value == '\0' ||
		    strspn(value, "0123456789") != strlen(value))
			fr->length_bad = 1;
		if (fr->lengths++ == 0)
			fr->first = value;
		else if (value == NULL || fr->first == NULL ||
		    strcmp(value, fr->first) != 0)
			fr->lengths_differ = 1;
	}
	return MHD_YES;
}

/* RFC 9112 6.3: a body framed two ways, or by a length that is not one
 * number, cannot be read safely (request smuggling): 400, and the
 * connection is closed. 0 when the framing is sound. */
static int
framing_check(http_server *hs, struct MHD_Connection *conn,
	      enum MHD_Result *ret)
{
	framing fr;
	const char *msg = NULL;

	memset(&fr, 0, sizeof fr);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &fr);
	if (fr.lengths > 0 && fr.encodings > 0)
		msg = "the request has both Content-Length and "
		    "Transfer-Encoding";
	else if (fr.lengths_differ)
		msg = "the request has Content-Length headers that disagree";
	else if (fr.length_bad)
		msg = "the Content-Length header is not a decimal number";
	else if (fr.encodings > 1)
		msg = "the request has more than one Transfer-Encoding header";
	if (msg == NULL)
		return 0;
	*ret = http_send_error(hs, conn, 400, "bad_framing", msg, NULL);
	return 400;
}

/* OPTIONS from an origin listed with --cors-origin: the preflight answer
 * (204 with the methods and headers a request from it may use). */
static enum MHD_Result
send_preflight(http_server *hs, struct MHD_Connection *conn)
{
	http_response rs;

	memset(&rs, 0, sizeof rs);
	rs.status = 204;
	rs.cors_preflight = 1;
	return http_send(hs, conn, &rs, NULL);
}

/* Everything the headers alone decide, in order: framing, the path, Host
 * and Origin, the token, the route, the body's size and type. Returns 0
 * when the request may go on, else the status of the answer it queued in
 * *ret. */
int
http_admit_headers(http_server *hs, struct MHD_Connection *conn,
	       const char *url, const char *method, conn_state *cs,
	       enum MHD_Result *ret)
{
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	const char *origin = MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, "Origin");
	char allow[64], msg[160];
	int status;

	if ((status = framing_check(hs, conn, ret)) != 0)
		return status;
	if (cs->encoded_slash) {
		*ret = http_send_error(hs, conn, 400, "invalid_path", "an encoded "
		    "slash (%2F) inside a path segment is not allowed", NULL);
		return 400;
	}
	if (hs->origin != NULL && !origin_host_ok(hs->origin, host)) {
		snprintf(msg, sizeof msg, "Host '%.60s' does not name this "
		    "daemon; list the name with --allowed-hosts, or use a "
		    "token", host);
		*ret = http_send_error(hs, conn, 421, "host_not_allowed", msg,
		    NULL);
		return 421;
	}
	if (strcmp(method, "OPTIONS") == 0 && hs->origin != NULL &&
	    origin_listed(hs->origin, origin)) {
		*ret = send_preflight(hs, conn);
		return 204;
	}
	if (hs->origin != NULL && (strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0) &&
	    !origin_write_ok(hs->origin, origin, host)) {
		snprintf(msg, sizeof msg, "requests that change state are not "
		    "accepted from origin '%.60s' (see --cors-origin)", origin);
		*ret = http_send_error(hs, conn, 403, "origin_not_allowed", msg,
		    NULL);
		return 403;
	}
	cs->route = find_route(hs, method, url, cs, allow, sizeof allow);
	if ((status = check_auth(hs, conn, url, cs->route, ret)) != 0)
		return status;
	if (cs->route == NULL) {
		if (allow[0]) {
			*ret = http_send_error(hs, conn, 405, "method_not_allowed",
			    "this path does not take that method", allow);
			return 405;
		}
		*ret = http_send_error(hs, conn, 404, "route_not_found",
		    "no such route", NULL);
		return 404;
	}
	return early_checks(hs, conn, cs, ret);
}
