/*
 * origin: which Host a request may name and which Origin may change
 * state, so that a web page a user visits cannot drive their daemon.
 *
 * DNS rebinding: a page on attacker.example can make its name resolve to
 * 127.0.0.1 and then talk to a loopback daemon as same-origin; its
 * requests carry "Host: attacker.example". Without an access token the
 * daemon therefore accepts only a Host that is an IP literal (a browser
 * sends a literal only when the page itself was loaded from that
 * address), "localhost", or a name given with --allowed-hosts, each with
 * or without a port. With a token, Host is free: a page cannot read the
 * token.
 *
 * Cross-site writes: a POST, PUT or DELETE whose Origin header is present
 * is refused unless that origin is the daemon's own (the scheme it
 * serves, "://", and the request's Host) or listed with --cors-origin;
 * listed origins also get CORS answers (preflight OPTIONS, and
 * Access-Control-Allow-Origin on every answer). The dashboard, served by
 * the daemon itself, is same-origin.
 *
 * Pure functions over strings: no locks, no I/O.
 */
#ifndef MLPD_ORIGIN_H
#define MLPD_ORIGIN_H

#include <stddef.h>

#include "fault.h"

#define ORIGIN_MAX_LIST 32 /* names in --allowed-hosts or --cors-origin */

typedef struct origin_policy {
	int host_free;  /* a token guards the daemon: any Host is fine */
	int tls;        /* the daemon serves https */
	const char *hosts[ORIGIN_MAX_LIST];   /* --allowed-hosts, borrowed */
	size_t nhosts;
	const char *origins[ORIGIN_MAX_LIST]; /* --cors-origin, borrowed */
	size_t norigins;
} origin_policy;

/* Appends the comma-separated names of list to the policy's hosts
 * (is_origin 0) or origins (1). Each host name is a DNS name (letters,
 * digits, '-', '.'); each origin is scheme://host[:port] with scheme http
 * or https and no path. The strings are copied into static storage owned
 * by the caller: list must outlive the policy. -1 with f set for a bad
 * name or too many. */
int origin_add_list(origin_policy *p, char *list, int is_origin, fault *f);

/* True when a request may name host (the Host header; NULL for none, as
 * HTTP/1.0 allows). */
int origin_host_ok(const origin_policy *p, const char *host);

/* True when origin is listed with --cors-origin. */
int origin_listed(const origin_policy *p, const char *origin);

/* True when a state-changing request may come from origin (the Origin
 * header; NULL for none) to host (the Host header). */
int origin_write_ok(const origin_policy *p, const char *origin,
		    const char *host);

#endif
