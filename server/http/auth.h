/*
 * auth: who may call what. The shared secret of --token-file, its
 * constant-time check against a request's "Authorization: Bearer" header
 * (or, on the event streams only, an access_token query argument), which
 * paths it guards, and what counts as a loopback listen address.
 *
 * http calls auth_path_protected and auth_check_* for each request right
 * after routing (before any body byte is read: an unauthorized request
 * gets 401 before 404, 405, 413 or 415); config calls
 * auth_host_is_loopback to refuse an exposed address without a token.
 * The token itself never leaves this module: nothing here logs it, and
 * its bytes are wiped when the auth is destroyed.
 */
#ifndef MLPD_AUTH_H
#define MLPD_AUTH_H

#include <stddef.h>

#include "fault.h"

/* Token lengths accepted from a token file, in bytes. */
#define AUTH_TOKEN_MIN 16
#define AUTH_TOKEN_MAX 4096

typedef struct auth auth;

/* Reads the token from the file at path: its whole content with one
 * trailing newline (LF or CRLF) stripped. The token must be
 * AUTH_TOKEN_MIN..AUTH_TOKEN_MAX bytes of visible ASCII (0x21..0x7e, so
 * that it fits an HTTP header as it is). A file that group or others may
 * read is accepted with a warning on the log. NULL with f set (naming the
 * file, never the token) on failure. */
auth *auth_create(const char *path, fault *f);

/* Wipes the token and frees a; NULL is a no-op. */
void auth_destroy(auth *a);

/* True (1) when an Authorization header value carries the token:
 * "Bearer <token>", the scheme in any case, spaces around the token
 * ignored. 0 for NULL, another scheme or another token. The comparison
 * takes the same time whatever the given token is. */
int auth_check_header(const auth *a, const char *authorization);

/* True (1) when token (NULL: 0) is the token, in constant time. */
int auth_check_token(const auth *a, const char *token);

/* 1 when the given len bytes equal the wanted wlen bytes. The time taken
 * depends on wlen only, never on the given bytes or their length: every
 * wanted byte is compared and the length difference is folded into the
 * result. */
int auth_equal(const char *given, size_t len, const char *want, size_t wlen);

/* True when a request path needs the token: every path (all of /v1,
 * /metrics, and paths that are no route, so that a route added later is
 * guarded too) except / (the page, which holds no data) and /healthz. */
int auth_path_protected(const char *path);

/* True when the route pattern may take the token as ?access_token= (the
 * two event-stream routes: a browser's EventSource cannot set headers). */
int auth_route_takes_query_token(const char *pattern);

/* True when host (as --listen gives it) only reaches this machine:
 * 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 or "localhost". 0.0.0.0, ::,
 * other addresses and other names are not loopback. */
int auth_host_is_loopback(const char *host);

#endif
