/*
 * auth: the access token, its constant-time check, the guarded paths and
 * the loopback test (see auth.h).
 */
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

struct auth {
	size_t len;  /* token bytes */
	char *token; /* len bytes and a NUL; wiped at destroy */
};

/* Reads at most cap bytes of fd into buf; the count, or -1 (errno set). */
static ssize_t
read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return (ssize_t)n;
}

/* Checks the token's bytes; 0, or -1 with f naming the problem (never the
 * token's bytes). */
static int
check_token(const char *path, const char *t, size_t len, fault *f)
{
	if (len == 0)
		return fault_set(f, FAULT_INVALID, "--token-file %s: the "
		    "token is empty", path);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c < 0x21 || c > 0x7e)
			return fault_set(f, FAULT_INVALID, "--token-file %s: "
			    "the token may only hold visible ASCII characters "
			    "(no spaces, tabs, control characters or second "
			    "line); byte %zu is 0x%02x", path, i + 1, c);
	}
	if (len < AUTH_TOKEN_MIN)
		return fault_set(f, FAULT_INVALID, "--token-file %s: the "
		    "token is %zu bytes, at least %d are needed (e.g. "
		    "openssl rand -hex 32 > FILE)", path, len, AUTH_TOKEN_MIN);
	return 0;
}

auth *
auth_create(const char *path, fault *f)
{
	char *buf = NULL;
	auth *a = NULL;
	struct stat sb;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fault_set(f, FAULT_INVALID, "--token-file %s: cannot open: %s",
		    path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fault_set(f, FAULT_INVALID, "--token-file %s: not a regular "
		    "file", path);
		goto out;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO))
		log_warn("--token-file %s: group or others may read it (mode "
		    "%04o); chmod 600 it", path,
		    (unsigned)(sb.st_mode & 07777));
	/* room for the longest token, CRLF, and one byte that tells "too
	 * long" */
	if ((buf = malloc(AUTH_TOKEN_MAX + 3)) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		goto out;
	}
	n = read_all(fd, buf, AUTH_TOKEN_MAX + 3);
	if (n < 0) {
		fault_set(f, FAULT_INVALID, "--token-file %s: cannot read: %s",
		    path, strerror(errno));
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if ((size_t)n > AUTH_TOKEN_MAX) {
		fault_set(f, FAULT_INVALID, "--token-file %s: the token is "
		    "longer than %d bytes", path, AUTH_TOKEN_MAX);
		goto out;
	}
	if (check_token(path, buf, (size_t)n, f) < 0)
		goto out;
	if ((a = calloc(1, sizeof *a)) == NULL) {
		fault_set(f, FAULT_NOMEM, "out of memory");
		goto out;
	}
	buf[n] = '\0';
	a->token = buf;
	a->len = (size_t)n;
	buf = NULL;
out:
	if (buf != NULL) {
		explicit_bzero(buf, AUTH_TOKEN_MAX + 3);
		free(buf);
	}
	close(fd);
	return a;
}

void
auth_destroy(auth *a)
{
	if (a == NULL)
		return;
	explicit_bzero(a->token, a->len);
	free(a->token);
	free(a);
}

int
auth_equal(const char *given, size_t len, const char *want, size_t wlen)
{
	static const unsigned char none = 0;
	const unsigned char *g = len ? (const unsigned char *)given : &none;
	const unsigned char *w = (const unsigned char *)want;
	volatile unsigned char acc = 0;
	size_t d = len ^ wlen;

	for (size_t i = 0; i < wlen; i++) {
		/* all ones while i < len: past the given bytes, byte 0 is
		 * read (and the length difference decides) */
		size_t in = (size_t)0 - (size_t)(i < len);

		acc |= (unsigned char)(g[i & in] ^ w[i]);
	}
	/* d != 0 becomes 1 without a branch */
	acc |= (unsigned char)((d | ((size_t)0 - d)) >>
	    (sizeof d * 8 - 1));
	return acc == 0;
}

int
auth_check_token(const auth *a, const char *token)
{
	if (a == NULL || token == NULL)
		return 0;
	return auth_equal(token, strlen(token), a->token, a->len);
}

int
auth_check_header(const auth *a, const char *h)
{
	size_t len;

	if (a == NULL || h == NULL)
		return 0;
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return 0;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	len = strlen(h);
	while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
		len--;
	return auth_equal(h, len, a->token, a->len);
}

int
auth_path_protected(const char *path)
{
	/* default deny: only what holds no data is open, so a route added
	 * later is guarded without anyone remembering to */
	return !(strcmp(path, "/") == 0 || strcmp(path, "/healthz") == 0);
}

int
auth_route_takes_query_token(const char *pattern)
{
	return strcmp(pattern, "/v1/events") == 0 ||
	    strcmp(pattern, "/v1/models/*/events") == 0;
}

int
auth_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}
